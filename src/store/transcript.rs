//! Session transcripts: every message of a session in both directions, plus
//! agents' internal notes. A customer's message is appended before it is
//! acknowledged or relayed, and stays undelivered until it reached an agent,
//! so a restart loses nothing.

use std::collections::VecDeque;
use std::fmt::{self, Write as _};
use std::ops::Range;
use std::str::FromStr;

use sqlx::any::AnyRow;
use sqlx::{Connection, Row};

use super::{query_err, Backend, Store, StoreError};

/// Ids per UPDATE statement: well under SQLite's bound-parameter limit
/// (32766 since 3.32, 999 before) and PostgreSQL's (65535).
const UPDATE_CHUNK: usize = 500;

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

/// Rows per INSERT of [`Store::messages_append_batch`], largest first: a
/// batch goes as chunks of these sizes, so five statements in all stay
/// prepared in sqlx's cache (one per batch size would be parsed again and
/// again). 256 rows of 7 parameters are well under both backends' limits.
const APPEND_CHUNKS: [usize; 5] = [256, 64, 16, 4, 1];

/// The bridge's appends on one connection kept for them (see
/// [`Store::transcript_writer`]).
pub struct TranscriptWriter {
    store: Store,
    conn: Option<sqlx::AnyConnection>,
}

impl TranscriptWriter {
    /// [`Store::messages_append_batch`] on the writer's connection. After
    /// any error the connection is dropped, and the next batch opens
    /// another.
    pub async fn append(&mut self, rows: &[NewMessage]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        if self.store.is_memory() {
            // The in-memory database is its pool's one connection.
            return self.store.messages_append_batch(rows).await;
        }
        let mut conn = match self.conn.take() {
            Some(c) => c,
            None => self
                .store
                .pool()
                .acquire()
                .await
                .map_err(query_err("messages_append_batch"))?
                .detach(),
        };
        let result = self.store.append_on(&mut conn, rows).await;
        // Only a connection whose last batch committed is kept. After a
        // failed statement or COMMIT (SQLITE_FULL rolls back, or not, as
        // SQLite decides), sqlx's idea of the open transaction and the
        // database's can differ: on a full disk, every later batch then went
        // into a transaction never committed, reported stored and relayed,
        // and lost with the connection.
        if result.is_ok() {
            self.conn = Some(conn);
        }
        result
    }

    /// [`append`](Self::append), except that when the database refuses the
    /// batch (a constraint, a value out of range), the rows it refuses are
    /// found by halving and the others are stored, in order: one bad row
    /// costs only itself, and at worst about two statements per row.
    /// Returns what was not stored: each refused row as a range of one, or
    /// a whole range that failed for another reason (the connection, the
    /// pool), which halving would not mend.
    pub async fn append_isolating(
        &mut self,
        rows: &[NewMessage],
    ) -> Vec<(Range<usize>, StoreError)> {
        let mut failed = Vec::new();
        // Leftmost first, so that ids follow the order of the rows.
        let mut todo = VecDeque::new();
        todo.push_back(0..rows.len());
        while let Some(range) = todo.pop_front() {
            match self.append(&rows[range.clone()]).await {
                Ok(()) => {}
                Err(err) if range.len() > 1 && err.is_refused() => {
                    let mid = range.start + range.len() / 2;
                    todo.push_front(mid..range.end);
                    todo.push_front(range.start..mid);
                }
                Err(err) => failed.push((range, err)),
            }
        }
        failed
    }
}

/// `INSERT INTO messages ... VALUES` with `rows` tuples of placeholders.
fn insert_messages_sql(backend: Backend, rows: usize) -> String {
    let mut sql = String::from(
        "INSERT INTO messages (session_id, direction, sender, body, stanza, created_at, \
         delivered_at) VALUES ",
    );
    for i in 0..rows {
        if i > 0 {
            sql.push_str(", ");
        }
        match backend {
            // SQLite looks up a numbered parameter's name by walking a list
            // (sqlite3_bind_parameter_name), which made binding a batch
            // quadratic: 16% of the server's CPU in support chat at
            // saturation. Anonymous ones bind in order for free.
            Backend::Sqlite => sql.push_str("(?, ?, ?, ?, ?, ?, ?)"),
            Backend::Postgres => {
                let p = i * 7;
                let _ = write!(
                    sql,
                    "(${}, ${}, ${}, ${}, ${}, ${}, ${})",
                    p + 1,
                    p + 2,
                    p + 3,
                    p + 4,
                    p + 5,
                    p + 6,
                    p + 7
                );
            }
        }
    }
    sql
}

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

    /// Appends `rows` in order, all or none, in one transaction: the group
    /// commit of the bridge, whose many small appends would otherwise each
    /// pay a commit. (The bridge itself writes through a
    /// [`TranscriptWriter`].)
    pub async fn messages_append_batch(&self, rows: &[NewMessage]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut conn = self
            .pool()
            .acquire()
            .await
            .map_err(query_err("messages_append_batch"))?;
        self.append_on(&mut conn, rows).await
    }

    /// A connection of its own for the bridge's appends: a batch does not
    /// wait behind other queries for a pooled connection, nor pay the
    /// pool's liveness check (a round trip to SQLite's thread, 2% of the
    /// server's CPU in support chat), and one page cache keeps the index
    /// pages the appends touch.
    pub fn transcript_writer(&self) -> TranscriptWriter {
        TranscriptWriter {
            store: self.clone(),
            conn: None,
        }
    }

    async fn append_on(
        &self,
        conn: &mut sqlx::AnyConnection,
        rows: &[NewMessage],
    ) -> Result<(), StoreError> {
        let mut tx = conn
            .begin()
            .await
            .map_err(query_err("messages_append_batch"))?;
        let mut rest = rows;
        while !rest.is_empty() {
            let size = APPEND_CHUNKS
                .into_iter()
                .find(|&n| n <= rest.len())
                .unwrap_or(1);
            let (chunk, tail) = rest.split_at(size);
            rest = tail;
            let mut q = sqlx::query(self.append_sql(size));
            for r in chunk {
                q = q
                    .bind(r.session_id.as_str())
                    .bind(r.direction.as_str())
                    .bind(r.sender.as_str())
                    .bind(r.body.as_deref())
                    .bind(r.stanza.as_str())
                    .bind(r.created_at)
                    .bind(r.delivered.then_some(r.created_at));
            }
            q.execute(&mut *tx)
                .await
                .map_err(query_err("messages_append_batch"))?;
        }
        tx.commit()
            .await
            .map_err(query_err("messages_append_batch"))
    }

    /// The INSERT of `rows` messages (one of [`APPEND_CHUNKS`]), built once.
    fn append_sql(&self, rows: usize) -> &'static str {
        type Built = std::sync::OnceLock<Vec<String>>;
        static SQLITE: Built = std::sync::OnceLock::new();
        static POSTGRES: Built = std::sync::OnceLock::new();
        let backend = self.backend();
        let cell = match backend {
            Backend::Sqlite => &SQLITE,
            Backend::Postgres => &POSTGRES,
        };
        let built = cell.get_or_init(|| {
            APPEND_CHUNKS
                .into_iter()
                .map(|n| insert_messages_sql(backend, n))
                .collect()
        });
        let at = APPEND_CHUNKS
            .iter()
            .position(|&n| n == rows)
            .expect("one of the chunk sizes");
        &built[at]
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
        // The Any driver cannot bind arrays, so build `IN ($2, $3, …)`.
        let statement = |chunk: &[i64]| {
            let placeholders: Vec<String> = (2..chunk.len() + 2).map(|n| format!("${n}")).collect();
            format!(
                "UPDATE messages SET delivered_at = $1 \
                 WHERE delivered_at IS NULL AND id IN ({})",
                placeholders.join(", ")
            )
        };
        if ids.is_empty() {
            return Ok(0);
        }
        if ids.len() <= UPDATE_CHUNK {
            // The common case: one statement, without BEGIN and COMMIT.
            return Ok(bind_ids(&statement(ids), now_ms, ids)
                .execute(self.pool())
                .await
                .map_err(query_err("messages_mark_delivered"))?
                .rows_affected());
        }
        // Several chunks share one transaction, hence one commit.
        let mut tx = self.pool().begin().await.map_err(query_err("begin"))?;
        let mut marked = 0;
        for chunk in ids.chunks(UPDATE_CHUNK) {
            marked += bind_ids(&statement(chunk), now_ms, chunk)
                .execute(&mut *tx)
                .await
                .map_err(query_err("messages_mark_delivered"))?
                .rows_affected();
        }
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

fn bind_ids<'q>(
    sql: &'q str,
    now_ms: i64,
    ids: &[i64],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    // Not cached: each chunk length is a distinct statement.
    let mut query = sqlx::query(sql).persistent(false).bind(now_ms);
    for &id in ids {
        query = query.bind(id);
    }
    query
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
