//! The history of which agent held each session: one row per period, so
//! "the agent this customer spoke with last" can be found and a transfer
//! audited. Maintained by the session updates in `sessions.rs`, inside
//! their transactions.

use sqlx::{AnyConnection, Row};

use super::{query_err, SessionState, Store, StoreError};

/// One period during which an agent held a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// Increases with every assignment; orders those of one session.
    pub id: i64,
    pub session_id: String,
    /// Bare JID of the agent.
    pub agent: String,
    pub assigned_at: i64,
    /// When the session first went live or async with this agent; `None`
    /// for an offer that was never taken.
    pub accepted_at: Option<i64>,
    /// `None` while the agent still holds the session.
    pub released_at: Option<i64>,
    /// Why it ended: `reassigned` (another agent took over), `released` (set
    /// to no agent), `requeued` or `closed`.
    pub reason: Option<String>,
}

impl Store {
    /// The agent the customer's person spoke with last, from any of its
    /// linked identities (see `links.rs`), in any session, closed or not:
    /// the agent of the latest assignment that was accepted (went live or
    /// async), by assignment time then row order. Agents who were only
    /// offered the chat do not count.
    pub async fn last_agent_of_customer(
        &self,
        customer_id: &str,
    ) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar(
            "SELECT a.agent FROM session_agents a JOIN sessions s ON s.id = a.session_id \
             JOIN customers c ON c.id = s.customer_id \
             WHERE COALESCE(c.person_id, c.id) = \
                 (SELECT COALESCE(person_id, id) FROM customers WHERE id = $1) \
               AND a.accepted_at IS NOT NULL \
             ORDER BY a.assigned_at DESC, a.id DESC LIMIT 1",
        )
        .bind(customer_id)
        .fetch_optional(self.pool())
        .await
        .map_err(query_err("last_agent_of_customer"))
    }

    /// The session's assignments, oldest first.
    pub async fn session_assignments(
        &self,
        session_id: &str,
    ) -> Result<Vec<Assignment>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, session_id, agent, assigned_at, accepted_at, released_at, reason \
             FROM session_agents WHERE session_id = $1 ORDER BY id",
        )
        .bind(session_id)
        .fetch_all(self.pool())
        .await
        .map_err(query_err("session_assignments"))?;
        rows.iter()
            .map(|row| {
                Ok(Assignment {
                    id: row.try_get("id")?,
                    session_id: row.try_get("session_id")?,
                    agent: row.try_get("agent")?,
                    assigned_at: row.try_get("assigned_at")?,
                    accepted_at: row.try_get("accepted_at")?,
                    released_at: row.try_get("released_at")?,
                    reason: row.try_get("reason")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(query_err("session_assignments"))
    }
}

/// Ends the session's open assignment, unless it belongs to `keep`.
pub(super) async fn release_assignment(
    conn: &mut AnyConnection,
    session_id: &str,
    keep: Option<&str>,
    now_ms: i64,
    reason: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE session_agents SET released_at = $3, reason = $4 \
         WHERE session_id = $1 AND released_at IS NULL AND ($2 IS NULL OR agent <> $2)",
    )
    .bind(session_id)
    .bind(keep)
    .bind(now_ms)
    .bind(reason)
    .execute(conn)
    .await
    .map_err(query_err("release_assignment"))?;
    Ok(())
}

/// Makes `agent` the holder of the session's open assignment, after
/// [`release_assignment`] ended anyone else's: starts one if none is open,
/// and marks it accepted once the state says the agent took the session.
pub(super) async fn open_assignment(
    conn: &mut AnyConnection,
    session_id: &str,
    agent: &str,
    state: SessionState,
    now_ms: i64,
) -> Result<(), StoreError> {
    let err = || query_err("open_assignment");
    let accepted_at = state.is_accepted().then_some(now_ms);
    let inserted = sqlx::query(
        "INSERT INTO session_agents (session_id, agent, assigned_at, accepted_at) \
         SELECT $1, $2, $3, $4 WHERE NOT EXISTS \
             (SELECT 1 FROM session_agents WHERE session_id = $1 AND released_at IS NULL)",
    )
    .bind(session_id)
    .bind(agent)
    .bind(now_ms)
    .bind(accepted_at)
    .execute(&mut *conn)
    .await
    .map_err(err())?
    .rows_affected();
    if inserted == 0 && accepted_at.is_some() {
        sqlx::query(
            "UPDATE session_agents SET accepted_at = $2 \
             WHERE session_id = $1 AND released_at IS NULL AND accepted_at IS NULL",
        )
        .bind(session_id)
        .bind(now_ms)
        .execute(&mut *conn)
        .await
        .map_err(err())?;
    }
    Ok(())
}
