//! Callbacks booked in a chat: who is written to, by whom, when, in which
//! zone they were told, and what became of it. The gateway keeps the open
//! ones in memory and counts agents' slots from them; these rows are what
//! a restart reloads, so a booking is stored before it is confirmed.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{query_err, Store, StoreError};

/// Where a callback is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackState {
    /// Waiting for its lead time.
    Booked,
    /// Its session was opened with its agent, who holds it until the time.
    Opened,
    /// The customer was written to at the time.
    Made,
    /// The customer (or a supervisor) called it off.
    Cancelled,
    /// Nobody could make it; supervisors were told.
    Failed,
}

impl CallbackState {
    pub fn as_str(self) -> &'static str {
        match self {
            CallbackState::Booked => "booked",
            CallbackState::Opened => "opened",
            CallbackState::Made => "made",
            CallbackState::Cancelled => "cancelled",
            CallbackState::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Result<CallbackState, StoreError> {
        Ok(match s {
            "booked" => CallbackState::Booked,
            "opened" => CallbackState::Opened,
            "made" => CallbackState::Made,
            "cancelled" => CallbackState::Cancelled,
            "failed" => CallbackState::Failed,
            other => return Err(StoreError::Corrupt(format!("callback state {other:?}"))),
        })
    }
}

/// How the customer chose the agent: only an agent picked for them may be
/// replaced without asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chosen {
    Named,
    Same,
    Anyone,
}

impl Chosen {
    pub fn as_str(self) -> &'static str {
        match self {
            Chosen::Named => "named",
            Chosen::Same => "same",
            Chosen::Anyone => "anyone",
        }
    }

    fn parse(s: &str) -> Result<Chosen, StoreError> {
        Ok(match s {
            "named" => Chosen::Named,
            "same" => Chosen::Same,
            "anyone" => Chosen::Anyone,
            other => return Err(StoreError::Corrupt(format!("callback choice {other:?}"))),
        })
    }
}

/// One callback, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callback {
    pub id: String,
    pub customer_jid: String,
    pub entry_jid: String,
    pub queue: String,
    pub agent: String,
    pub how: Chosen,
    /// Milliseconds since the epoch.
    pub due_at: i64,
    /// IANA name.
    pub timezone: String,
    pub lang: Option<String>,
    pub from_session: Option<String>,
    pub session_id: Option<String>,
    pub state: CallbackState,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, customer_jid, entry_jid, queue, agent, how, due_at, timezone, lang, \
                       from_session, session_id, state, created_at, updated_at";

impl Store {
    pub async fn callback_create(&self, c: &Callback) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO callbacks ({COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        ))
        .bind(&c.id)
        .bind(&c.customer_jid)
        .bind(&c.entry_jid)
        .bind(&c.queue)
        .bind(&c.agent)
        .bind(c.how.as_str())
        .bind(c.due_at)
        .bind(&c.timezone)
        .bind(c.lang.as_deref())
        .bind(c.from_session.as_deref())
        .bind(c.session_id.as_deref())
        .bind(c.state.as_str())
        .bind(c.created_at)
        .bind(c.updated_at)
        .execute(self.pool())
        .await
        .map_err(query_err("callback_create"))?;
        Ok(())
    }

    /// Writes what may change after booking: agent, time, zone, state and
    /// the session opened for it.
    pub async fn callback_update(&self, c: &Callback) -> Result<(), StoreError> {
        let updated = sqlx::query(
            "UPDATE callbacks SET agent = $2, how = $3, due_at = $4, timezone = $5, \
                 session_id = $6, state = $7, updated_at = $8 \
             WHERE id = $1",
        )
        .bind(&c.id)
        .bind(&c.agent)
        .bind(c.how.as_str())
        .bind(c.due_at)
        .bind(&c.timezone)
        .bind(c.session_id.as_deref())
        .bind(c.state.as_str())
        .bind(c.updated_at)
        .execute(self.pool())
        .await
        .map_err(query_err("callback_update"))?
        .rows_affected();
        if updated == 0 {
            return Err(StoreError::NotFound {
                what: "callback",
                id: c.id.clone(),
            });
        }
        Ok(())
    }

    /// The callbacks still to be made (booked, or opened and not yet
    /// written), soonest first.
    pub async fn callbacks_open(&self) -> Result<Vec<Callback>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM callbacks WHERE state IN ('booked', 'opened') \
             ORDER BY due_at, id"
        ))
        .fetch_all(self.pool())
        .await
        .map_err(query_err("callbacks_open"))?;
        rows.iter().map(callback).collect()
    }

    pub async fn callback_get(&self, id: &str) -> Result<Option<Callback>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM callbacks WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .map_err(query_err("callback_get"))?;
        row.as_ref().map(callback).transpose()
    }
}

fn callback(r: &AnyRow) -> Result<Callback, StoreError> {
    let e = query_err("callback row");
    let get = |name: &str| -> Result<String, StoreError> {
        r.try_get::<String, _>(name)
            .map_err(query_err("callback row"))
    };
    Ok(Callback {
        id: get("id")?,
        customer_jid: get("customer_jid")?,
        entry_jid: get("entry_jid")?,
        queue: get("queue")?,
        agent: get("agent")?,
        how: Chosen::parse(&get("how")?)?,
        due_at: r.try_get("due_at").map_err(e)?,
        timezone: get("timezone")?,
        lang: r.try_get("lang").map_err(query_err("callback row"))?,
        from_session: r
            .try_get("from_session")
            .map_err(query_err("callback row"))?,
        session_id: r.try_get("session_id").map_err(query_err("callback row"))?,
        state: CallbackState::parse(&get("state")?)?,
        created_at: r.try_get("created_at").map_err(query_err("callback row"))?,
        updated_at: r.try_get("updated_at").map_err(query_err("callback row"))?,
    })
}
