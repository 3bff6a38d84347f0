//! Support sessions, the waiting queue they form, and the history of which
//! agent held each one. After a restart the gateway rebuilds its queues and
//! agents' work lists from here.
//!
//! Transactions here start with a write, so SQLite takes the write lock at
//! once and waits out the busy timeout if needed; one that read first would
//! get SQLITE_BUSY at once when upgrading its lock.

use std::cmp::Reverse;
use std::fmt;
use std::str::FromStr;

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

use super::assignments::{open_assignment, release_assignment};
use super::{query_err, Store, StoreError};

/// Where a session is in its life. The transitions are the gateway's
/// business; the store records whatever it is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionState {
    /// In a queue, nobody assigned.
    Waiting,
    /// Proposed to an agent who has not accepted yet.
    Offered,
    /// An agent is chatting with the customer now.
    Live,
    /// On an agent's work list, answered when the agent can.
    Async,
    Closed,
}

impl SessionState {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionState::Waiting => "waiting",
            SessionState::Offered => "offered",
            SessionState::Live => "live",
            SessionState::Async => "async",
            SessionState::Closed => "closed",
        }
    }

    /// The agent has taken the session on (as opposed to merely being
    /// offered it), which is what makes them the customer's last agent.
    pub(super) fn is_accepted(self) -> bool {
        matches!(self, SessionState::Live | SessionState::Async)
    }
}

impl fmt::Display for SessionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SessionState {
    /// Only the store parses states, from its own rows, so an unknown value
    /// means the database was edited by hand or by a newer version.
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "waiting" => Ok(SessionState::Waiting),
            "offered" => Ok(SessionState::Offered),
            "live" => Ok(SessionState::Live),
            "async" => Ok(SessionState::Async),
            "closed" => Ok(SessionState::Closed),
            other => Err(StoreError::Corrupt(format!("session state {other:?}"))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// Localpart of the session's proxy JID, e.g. `s-7q2k9x`.
    pub id: String,
    pub customer_id: String,
    /// The customer's bare JID, joined from `customers`.
    pub customer_jid: String,
    pub entry_jid: String,
    pub queue: String,
    pub state: SessionState,
    /// Bare JID of the assigned agent. Kept when the session closes, so a
    /// closed session still says who handled it last.
    pub agent: Option<String>,
    /// Higher is served first.
    pub priority: i64,
    /// Wait order among sessions of equal priority.
    pub enqueued_at: i64,
    pub created_at: i64,
    /// Last change of state or agent.
    pub updated_at: i64,
    pub closed_at: Option<i64>,
    pub close_reason: Option<String>,
    /// JSON owned by the gateway.
    pub context: Option<String>,
}

/// What [`Store::session_create`] needs; ids are made by the caller.
#[derive(Debug, Clone, Copy)]
pub struct NewSession<'a> {
    pub id: &'a str,
    pub customer_id: &'a str,
    pub entry_jid: &'a str,
    pub queue: &'a str,
    pub state: SessionState,
    pub agent: Option<&'a str>,
    pub priority: i64,
    pub context: Option<&'a str>,
}

const SELECT_SESSIONS: &str = "\
    SELECT s.id, s.customer_id, c.jid AS customer_jid, s.entry_jid, s.queue, \
           s.state, s.agent, s.priority, s.enqueued_at, s.created_at, \
           s.updated_at, s.closed_at, s.close_reason, s.context \
    FROM sessions s JOIN customers c ON c.id = s.customer_id";

impl Store {
    /// Creates a session, enqueued at `now_ms`. A session created with an
    /// agent also starts that agent's assignment, accepted at once if the
    /// state is live or async.
    pub async fn session_create(
        &self,
        new: &NewSession<'_>,
        now_ms: i64,
    ) -> Result<SessionRecord, StoreError> {
        // Closed sessions have a closing time, even one recorded closed from
        // the start (an import, say).
        let closed_at = (new.state == SessionState::Closed).then_some(now_ms);
        let mut tx = self.pool().begin().await.map_err(query_err("begin"))?;
        sqlx::query(
            "INSERT INTO sessions (id, customer_id, entry_jid, queue, state, agent, priority, \
                                   enqueued_at, created_at, updated_at, closed_at, context) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $8, $9, $10)",
        )
        .bind(new.id)
        .bind(new.customer_id)
        .bind(new.entry_jid)
        .bind(new.queue)
        .bind(new.state.as_str())
        .bind(new.agent)
        .bind(new.priority)
        .bind(now_ms)
        .bind(closed_at)
        .bind(new.context)
        .execute(&mut *tx)
        .await
        .map_err(query_err("session_create"))?;
        if let Some(agent) = new.agent.filter(|_| closed_at.is_none()) {
            open_assignment(&mut tx, new.id, agent, new.state, now_ms).await?;
        }
        let record = fetch_session(&mut *tx, new.id, "session_create").await?;
        tx.commit().await.map_err(query_err("commit"))?;
        record.ok_or_else(|| StoreError::Corrupt(format!("session {} vanished", new.id)))
    }

    pub async fn session_get(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        fetch_session(self.pool(), id, "session_get").await
    }

    /// The customer's session that is not closed. The gateway keeps at most
    /// one open per customer; should there be several, the newest wins.
    pub async fn session_open_for_customer(
        &self,
        customer_id: &str,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let mut sessions = self
            .sessions_where(
                "s.customer_id = $1 AND s.state <> 'closed'",
                customer_id,
                "session_open_for_customer",
            )
            .await?;
        sessions.sort_unstable_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(sessions.pop())
    }

    /// Every session that is not closed, in queue order: priority
    /// descending, then `enqueued_at`, then id. For rebuilding queues and
    /// work lists after a restart.
    pub async fn sessions_open(&self) -> Result<Vec<SessionRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "{SELECT_SESSIONS} WHERE s.state IN ('waiting', 'offered', 'live', 'async')"
        ))
        .fetch_all(self.pool())
        .await
        .map_err(query_err("sessions_open"))?;
        let mut sessions = sessions_from_rows(&rows, "sessions_open")?;
        // In Rust because ids are text, whose SQL order depends on the
        // PostgreSQL collation.
        sessions.sort_unstable_by(|a, b| {
            (Reverse(a.priority), a.enqueued_at, &a.id).cmp(&(
                Reverse(b.priority),
                b.enqueued_at,
                &b.id,
            ))
        });
        Ok(sessions)
    }

    /// The agent's work list: their sessions that are not closed, oldest
    /// first (by creation, then id).
    pub async fn sessions_of_agent(&self, agent: &str) -> Result<Vec<SessionRecord>, StoreError> {
        let mut sessions = self
            .sessions_where(
                "s.agent = $1 AND s.state <> 'closed'",
                agent,
                "sessions_of_agent",
            )
            .await?;
        sessions.sort_unstable_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(sessions)
    }

    /// Sets the state and the agent, atomically with the assignment history:
    /// when the agent changes, the previous agent's assignment ends (reason
    /// `reassigned`, or `released` when no agent follows) and the new one's
    /// begins. Moving to live or async marks the current assignment
    /// accepted. Setting `Closed` here ends the assignment like
    /// [`Store::session_close`] but records no reason; setting any other
    /// state clears `closed_at` and `close_reason`, which reopens a closed
    /// session.
    pub async fn session_set_state(
        &self,
        id: &str,
        state: SessionState,
        agent: Option<&str>,
        now_ms: i64,
    ) -> Result<SessionRecord, StoreError> {
        let mut tx = self.pool().begin().await.map_err(query_err("begin"))?;
        let updated = sqlx::query(
            "UPDATE sessions SET state = $2, agent = $3, updated_at = $4, \
                 closed_at = CASE WHEN $2 = 'closed' THEN COALESCE(closed_at, $4) END, \
                 close_reason = CASE WHEN $2 = 'closed' THEN close_reason END \
             WHERE id = $1",
        )
        .bind(id)
        .bind(state.as_str())
        .bind(agent)
        .bind(now_ms)
        .execute(&mut *tx)
        .await
        .map_err(query_err("session_set_state"))?
        .rows_affected();
        found(updated, id)?;
        if state == SessionState::Closed {
            release_assignment(&mut tx, id, None, now_ms, "closed").await?;
        } else {
            let reason = if agent.is_some() {
                "reassigned"
            } else {
                "released"
            };
            release_assignment(&mut tx, id, agent, now_ms, reason).await?;
            if let Some(agent) = agent {
                open_assignment(&mut tx, id, agent, state, now_ms).await?;
            }
        }
        let record = fetch_session(&mut *tx, id, "session_set_state").await?;
        tx.commit().await.map_err(query_err("commit"))?;
        record.ok_or_else(|| session_not_found(id))
    }

    /// Puts the session back in the waiting queue without an agent (ending
    /// the assignment with reason `requeued`). It queues behind sessions of
    /// its priority waiting now, or with `front` ahead of every waiting
    /// session: one millisecond before the earliest. Keeps its priority;
    /// reopens it if it was closed.
    pub async fn session_requeue(
        &self,
        id: &str,
        front: bool,
        now_ms: i64,
    ) -> Result<SessionRecord, StoreError> {
        let mut tx = self.pool().begin().await.map_err(query_err("begin"))?;
        // One statement, so the minimum is read under the write lock on
        // SQLite. Concurrent front requeues on PostgreSQL may tie, and then
        // the id orders them.
        let updated = sqlx::query(
            "UPDATE sessions SET state = 'waiting', agent = NULL, updated_at = $2, \
                 closed_at = NULL, close_reason = NULL, \
                 enqueued_at = CASE WHEN $3 = 0 THEN $2 ELSE \
                     COALESCE((SELECT MIN(w.enqueued_at) - 1 FROM sessions w \
                               WHERE w.state = 'waiting' AND w.id <> $1), $2) END \
             WHERE id = $1",
        )
        .bind(id)
        .bind(now_ms)
        .bind(i64::from(front))
        .execute(&mut *tx)
        .await
        .map_err(query_err("session_requeue"))?
        .rows_affected();
        found(updated, id)?;
        release_assignment(&mut tx, id, None, now_ms, "requeued").await?;
        let record = fetch_session(&mut *tx, id, "session_requeue").await?;
        tx.commit().await.map_err(query_err("commit"))?;
        record.ok_or_else(|| session_not_found(id))
    }

    /// Replaces the gateway's JSON context of the session.
    pub async fn session_set_context(&self, id: &str, context: &str) -> Result<(), StoreError> {
        let updated = sqlx::query("UPDATE sessions SET context = $2 WHERE id = $1")
            .bind(id)
            .bind(context)
            .execute(self.pool())
            .await
            .map_err(query_err("session_set_context"))?
            .rows_affected();
        found(updated, id)
    }

    pub async fn session_set_priority(&self, id: &str, priority: i64) -> Result<(), StoreError> {
        let updated = sqlx::query("UPDATE sessions SET priority = $2 WHERE id = $1")
            .bind(id)
            .bind(priority)
            .execute(self.pool())
            .await
            .map_err(query_err("session_set_priority"))?
            .rows_affected();
        found(updated, id)
    }

    /// Moves the session to another queue (a transfer to a queue).
    pub async fn session_set_queue(&self, id: &str, queue: &str) -> Result<(), StoreError> {
        let updated = sqlx::query("UPDATE sessions SET queue = $2 WHERE id = $1")
            .bind(id)
            .bind(queue)
            .execute(self.pool())
            .await
            .map_err(query_err("session_set_queue"))?
            .rows_affected();
        found(updated, id)
    }

    /// Closes the session and ends its assignment (reason `closed`); the
    /// agent stays recorded on the session. Returns false, changing nothing,
    /// if it was already closed, so that of two racing closers (customer
    /// gone, agent done) only one says goodbye.
    pub async fn session_close(
        &self,
        id: &str,
        reason: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await.map_err(query_err("begin"))?;
        let closed = sqlx::query(
            "UPDATE sessions SET state = 'closed', closed_at = $3, close_reason = $2, \
                 updated_at = $3 \
             WHERE id = $1 AND state <> 'closed'",
        )
        .bind(id)
        .bind(reason)
        .bind(now_ms)
        .execute(&mut *tx)
        .await
        .map_err(query_err("session_close"))?
        .rows_affected()
            > 0;
        if closed {
            release_assignment(&mut tx, id, None, now_ms, "closed").await?;
        } else {
            let exists: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE id = $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await
                .map_err(query_err("session_close"))?;
            if exists == 0 {
                return Err(session_not_found(id));
            }
        }
        tx.commit().await.map_err(query_err("commit"))?;
        Ok(closed)
    }

    /// Number of sessions in each state that has any, sorted by state name;
    /// closed sessions included.
    pub async fn session_count_by_state(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let mut counts: Vec<(String, i64)> =
            sqlx::query_as("SELECT state, COUNT(*) FROM sessions GROUP BY state")
                .fetch_all(self.pool())
                .await
                .map_err(query_err("session_count_by_state"))?;
        counts.sort_unstable();
        Ok(counts)
    }

    async fn sessions_where(
        &self,
        condition: &str,
        value: &str,
        op: &'static str,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        let rows = sqlx::query(&format!("{SELECT_SESSIONS} WHERE {condition}"))
            .bind(value)
            .fetch_all(self.pool())
            .await
            .map_err(query_err(op))?;
        sessions_from_rows(&rows, op)
    }
}

/// Maps "no row updated" to [`StoreError::NotFound`].
fn found(rows_updated: u64, id: &str) -> Result<(), StoreError> {
    if rows_updated == 0 {
        return Err(session_not_found(id));
    }
    Ok(())
}

fn session_not_found(id: &str) -> StoreError {
    StoreError::NotFound {
        what: "session",
        id: id.to_owned(),
    }
}

async fn fetch_session<'e, E>(
    executor: E,
    id: &str,
    op: &'static str,
) -> Result<Option<SessionRecord>, StoreError>
where
    E: Executor<'e, Database = Any>,
{
    let row = sqlx::query(&format!("{SELECT_SESSIONS} WHERE s.id = $1"))
        .bind(id)
        .fetch_optional(executor)
        .await
        .map_err(query_err(op))?;
    row.map(|row| session_from_row(&row, op)).transpose()
}

fn sessions_from_rows(rows: &[AnyRow], op: &'static str) -> Result<Vec<SessionRecord>, StoreError> {
    rows.iter().map(|row| session_from_row(row, op)).collect()
}

fn session_from_row(row: &AnyRow, op: &'static str) -> Result<SessionRecord, StoreError> {
    let get = |e| query_err(op)(e);
    let state: String = row.try_get("state").map_err(get)?;
    Ok(SessionRecord {
        id: row.try_get("id").map_err(get)?,
        customer_id: row.try_get("customer_id").map_err(get)?,
        customer_jid: row.try_get("customer_jid").map_err(get)?,
        entry_jid: row.try_get("entry_jid").map_err(get)?,
        queue: row.try_get("queue").map_err(get)?,
        state: state.parse()?,
        agent: row.try_get("agent").map_err(get)?,
        priority: row.try_get("priority").map_err(get)?,
        enqueued_at: row.try_get("enqueued_at").map_err(get)?,
        created_at: row.try_get("created_at").map_err(get)?,
        updated_at: row.try_get("updated_at").map_err(get)?,
        closed_at: row.try_get("closed_at").map_err(get)?,
        close_reason: row.try_get("close_reason").map_err(get)?,
        context: row.try_get("context").map_err(get)?,
    })
}
