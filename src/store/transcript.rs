//! Session transcripts: every message of a session in both directions, plus
//! agents' internal notes. A customer's message is appended before it is
//! acknowledged or relayed, and stays undelivered until it reached an agent,
//! so a restart loses nothing.

use std::fmt;
use std::str::FromStr;

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{query_err, Store, StoreError};

/// Who wrote a transcript entry, relative to the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the customer, to be delivered to the agent.
    In,
    /// From an agent, to be delivered to the customer.
    Out,
    /// From Switchboard itself to the customer (greetings, queue position).
    System,
    /// An agent's internal note; never shown to the customer.
    Note,
    /// Something that happened to the session, and who did it (an
    /// escalation, a category corrected, a supervisor monitoring, barging
    /// in or taking over); never shown to the customer.
    Event,
    /// A supervisor's line to the agent; never shown to the customer.
    Whisper,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
            Direction::System => "system",
            Direction::Note => "note",
            Direction::Event => "event",
            Direction::Whisper => "whisper",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Direction {
    /// Only the store parses directions, from its own rows.
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "in" => Ok(Direction::In),
            "out" => Ok(Direction::Out),
            "system" => Ok(Direction::System),
            "note" => Ok(Direction::Note),
            "event" => Ok(Direction::Event),
            "whisper" => Ok(Direction::Whisper),
            other => Err(StoreError::Corrupt(format!("message direction {other:?}"))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranscriptEntry {
    /// Increases with every append and is never reused, so it orders the
    /// transcript and safely names entries for
    /// [`Store::messages_mark_delivered`].
    pub id: i64,
    pub session_id: String,
    pub direction: Direction,
    /// Full or bare JID of the author.
    pub sender: String,
    /// Plain-text body, if the stanza had one.
    pub body: Option<String>,
    /// The stanza as received, for faithful re-delivery.
    pub stanza: String,
    pub created_at: i64,
    /// When it reached the other side: for `In` the agent, for `Out` and
    /// `System` the customer's server or offline store.
    pub delivered_at: Option<i64>,
}

const COLUMNS: &str = "id, session_id, direction, sender, body, stanza, created_at, delivered_at";

/// One transcript entry to append, owned so it can wait in a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub session_id: String,
    pub direction: Direction,
    pub sender: String,
    pub body: Option<String>,
    pub stanza: String,
    pub created_at: i64,
    /// Already delivered (relayed right after it is stored).
    pub delivered: bool,
}

impl Store {
    /// Appends an entry and returns its id; `delivered` records it as
    /// delivered at `now_ms` already. A single INSERT and nothing else: this
    /// runs for every bridged message.
    #[allow(clippy::too_many_arguments)]
    pub async fn message_append(
        &self,
        session_id: &str,
        direction: Direction,
        sender: &str,
        body: Option<&str>,
        stanza: &str,
        now_ms: i64,
        delivered: bool,
    ) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            "INSERT INTO messages (session_id, direction, sender, body, stanza, created_at, \
                                   delivered_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(session_id)
        .bind(direction.as_str())
        .bind(sender)
        .bind(body)
        .bind(stanza)
        .bind(now_ms)
        .bind(delivered.then_some(now_ms))
        .fetch_one(self.pool())
        .await
        .map_err(query_err("message_append"))
    }

    /// The last `limit` customers' messages stored, newest first: their
    /// senders, stanzas and bodies.
    pub async fn messages_last_in(
        &self,
        limit: i64,
    ) -> Result<Vec<(String, String, Option<String>)>, StoreError> {
        let rows = sqlx::query(
            "SELECT sender, stanza, body FROM messages WHERE direction = 'in' \
             ORDER BY id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await
        .map_err(query_err("messages_last_in"))?;
        rows.iter()
            .map(|r| {
                let get = |e| query_err("messages_last_in")(e);
                Ok((
                    r.try_get("sender").map_err(get)?,
                    r.try_get("stanza").map_err(get)?,
                    r.try_get("body").map_err(get)?,
                ))
            })
            .collect()
    }

    /// The session's entries in `direction` not delivered yet, oldest first.
    pub async fn messages_undelivered(
        &self,
        session_id: &str,
        direction: Direction,
    ) -> Result<Vec<TranscriptEntry>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM messages \
             WHERE session_id = $1 AND direction = $2 AND delivered_at IS NULL ORDER BY id"
        ))
        .bind(session_id)
        .bind(direction.as_str())
        .fetch_all(self.pool())
        .await
        .map_err(query_err("messages_undelivered"))?;
        entries_from_rows(&rows, "messages_undelivered")
    }

    /// Records the entries as delivered at `now_ms`, and returns how many
    /// were not already: an entry keeps its first delivery time.
    pub async fn messages_mark_delivered(
        &self,
        ids: &[i64],
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        if ids.is_empty() {
            return Ok(0);
        }
        // Several chunks share one transaction, hence one commit.
        let mut tx = self.pool().begin().await.map_err(query_err("begin"))?;
        let marked = self.mark_on(&mut tx, ids, now_ms).await?;
        tx.commit().await.map_err(query_err("commit"))?;
        Ok(marked)
    }

    /// The whole transcript of the session, notes included, oldest first.
    pub async fn transcript(&self, session_id: &str) -> Result<Vec<TranscriptEntry>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM messages WHERE session_id = $1 ORDER BY id"
        ))
        .bind(session_id)
        .fetch_all(self.pool())
        .await
        .map_err(query_err("transcript"))?;
        entries_from_rows(&rows, "transcript")
    }
}

fn entries_from_rows(
    rows: &[AnyRow],
    op: &'static str,
) -> Result<Vec<TranscriptEntry>, StoreError> {
    rows.iter()
        .map(|row| {
            let get = |e| query_err(op)(e);
            let direction: String = row.try_get("direction").map_err(get)?;
            Ok(TranscriptEntry {
                id: row.try_get("id").map_err(get)?,
                session_id: row.try_get("session_id").map_err(get)?,
                direction: direction.parse()?,
                sender: row.try_get("sender").map_err(get)?,
                body: row.try_get("body").map_err(get)?,
                stanza: row.try_get("stanza").map_err(get)?,
                created_at: row.try_get("created_at").map_err(get)?,
                delivered_at: row.try_get("delivered_at").map_err(get)?,
            })
        })
        .collect()
}
