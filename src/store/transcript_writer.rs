//! The bridge's group commit in the store: a batch of appended messages and
//! the delivery marks that came in meanwhile, in one transaction, on a
//! connection kept for it.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::ops::Range;

use sqlx::Connection;

use super::transcript::NewMessage;
use super::{query_err, Backend, Store, StoreError};

/// Rows per INSERT (and ids per UPDATE of delivery marks), largest first:
/// a batch goes as chunks of these sizes, so five statements of each stay
/// prepared in sqlx's cache (one per batch size would be parsed again and
/// again). 256 rows of 7 parameters are well under both backends' limits.
const CHUNKS: [usize; 5] = [256, 64, 16, 4, 1];

/// The bridge's appends on one connection kept for them (see
/// [`Store::transcript_writer`]).
pub struct TranscriptWriter {
    store: Store,
    conn: Option<sqlx::AnyConnection>,
    /// Rows reported delivered since the last commit, marked by the next
    /// one: a mark costs no commit of its own.
    marks: Vec<i64>,
    marks_at: i64,
}

impl TranscriptWriter {
    /// Marks `ids` delivered at `at_ms` with the next commit.
    pub fn mark_delivered(&mut self, ids: &[i64], at_ms: i64) {
        self.marks.extend_from_slice(ids);
        self.marks_at = at_ms;
    }

    /// Marks waiting for a commit.
    pub fn marks_pending(&self) -> usize {
        self.marks.len()
    }

    /// [`Store::messages_append_batch`] on the writer's connection, with
    /// the pending marks; returns the rows' ids, in order. After any error
    /// the connection is dropped, the next batch opens another, and the
    /// marks wait for it.
    pub async fn append(&mut self, rows: &[NewMessage]) -> Result<Vec<i64>, StoreError> {
        if rows.is_empty() && self.marks.is_empty() {
            return Ok(Vec::new());
        }
        let marks = std::mem::take(&mut self.marks);
        let result = self.append_marking(rows, &marks).await;
        if result.is_err() {
            self.marks = marks;
        }
        result
    }

    /// Writes the pending marks, if any, in a transaction of their own.
    pub async fn commit_marks(&mut self) -> Result<(), StoreError> {
        self.append(&[]).await.map(|_| ())
    }

    async fn append_marking(
        &mut self,
        rows: &[NewMessage],
        marks: &[i64],
    ) -> Result<Vec<i64>, StoreError> {
        let at = self.marks_at;
        if self.store.is_memory() {
            // The in-memory database is its pool's one connection.
            let mut conn = self
                .store
                .pool()
                .acquire()
                .await
                .map_err(query_err("messages_append_batch"))?;
            return self.store.append_on(&mut conn, rows, marks, at).await;
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
        let result = self.store.append_on(&mut conn, rows, marks, at).await;
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
    /// Returns each row's id (`None`: not stored), and what was not stored:
    /// each refused row as a range of one, or a whole range that failed
    /// for another reason (the connection, the pool), which halving would
    /// not mend.
    pub async fn append_isolating(
        &mut self,
        rows: &[NewMessage],
    ) -> (Vec<Option<i64>>, Vec<(Range<usize>, StoreError)>) {
        let mut ids = vec![None; rows.len()];
        let mut failed = Vec::new();
        // Leftmost first, so that ids follow the order of the rows.
        let mut todo = VecDeque::new();
        todo.push_back(0..rows.len());
        while let Some(range) = todo.pop_front() {
            match self.append(&rows[range.clone()]).await {
                Ok(got) => {
                    for (slot, id) in ids[range].iter_mut().zip(got) {
                        *slot = Some(id);
                    }
                }
                Err(err) if range.len() > 1 && err.is_refused() => {
                    let mid = range.start + range.len() / 2;
                    todo.push_front(mid..range.end);
                    todo.push_front(range.start..mid);
                }
                Err(err) => failed.push((range, err)),
            }
        }
        (ids, failed)
    }
}

/// `INSERT INTO messages ... VALUES` with `rows` tuples of placeholders,
/// returning the new ids.
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
    sql.push_str(" RETURNING id");
    sql
}

/// `UPDATE messages SET delivered_at = $1 WHERE ... id IN ($2, …)` for
/// `ids` ids.
fn mark_delivered_sql(ids: usize) -> String {
    // The Any driver cannot bind arrays, so build `IN ($2, $3, …)`.
    let placeholders: Vec<String> = (2..ids + 2).map(|n| format!("${n}")).collect();
    format!(
        "UPDATE messages SET delivered_at = $1 \
         WHERE delivered_at IS NULL AND id IN ({})",
        placeholders.join(", ")
    )
}

impl Store {
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
        self.append_on(&mut conn, rows, &[], 0).await.map(|_| ())
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
            marks: Vec::new(),
            marks_at: 0,
        }
    }

    async fn append_on(
        &self,
        conn: &mut sqlx::AnyConnection,
        rows: &[NewMessage],
        marks: &[i64],
        marks_at: i64,
    ) -> Result<Vec<i64>, StoreError> {
        let op = "messages_append_batch";
        let mut tx = conn.begin().await.map_err(query_err(op))?;
        let mut ids = Vec::with_capacity(rows.len());
        let mut rest = rows;
        while !rest.is_empty() {
            let size = chunk_size(rest.len());
            let (chunk, tail) = rest.split_at(size);
            rest = tail;
            let mut q = sqlx::query_scalar::<_, i64>(self.cached_sql(Kind::Insert, size));
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
            let mut got = q.fetch_all(&mut *tx).await.map_err(query_err(op))?;
            // RETURNING promises no order; one statement's ids rise with
            // its rows.
            got.sort_unstable();
            ids.extend(got);
        }
        self.mark_on(&mut tx, marks, marks_at).await?;
        tx.commit().await.map_err(query_err(op))?;
        Ok(ids)
    }

    /// Marks `ids` delivered at `at_ms` on `conn`, inside the caller's
    /// transaction; returns how many were not already (an entry keeps its
    /// first delivery time).
    pub(super) async fn mark_on(
        &self,
        conn: &mut sqlx::AnyConnection,
        ids: &[i64],
        at_ms: i64,
    ) -> Result<u64, StoreError> {
        let mut marked = 0;
        let mut rest = ids;
        while !rest.is_empty() {
            let size = chunk_size(rest.len());
            let (chunk, tail) = rest.split_at(size);
            rest = tail;
            let mut q = sqlx::query(self.cached_sql(Kind::Mark, size)).bind(at_ms);
            for &id in chunk {
                q = q.bind(id);
            }
            marked += q
                .execute(&mut *conn)
                .await
                .map_err(query_err("messages_mark_delivered"))?
                .rows_affected();
        }
        Ok(marked)
    }

    /// The statement of `kind` for `rows` rows (one of [`CHUNKS`]), built
    /// once.
    fn cached_sql(&self, kind: Kind, rows: usize) -> &'static str {
        type Built = std::sync::OnceLock<Vec<String>>;
        static BUILT: [[Built; 2]; 2] =
            [[Built::new(), Built::new()], [Built::new(), Built::new()]];
        let backend = self.backend();
        let b = match backend {
            Backend::Sqlite => 0,
            Backend::Postgres => 1,
        };
        let built = BUILT[kind as usize][b].get_or_init(|| {
            CHUNKS
                .into_iter()
                .map(|n| match kind {
                    Kind::Insert => insert_messages_sql(backend, n),
                    Kind::Mark => mark_delivered_sql(n),
                })
                .collect()
        });
        let at = CHUNKS
            .iter()
            .position(|&n| n == rows)
            .expect("one of the chunk sizes");
        &built[at]
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Insert = 0,
    Mark = 1,
}

/// The largest of [`CHUNKS`] that `left` rows fill.
fn chunk_size(left: usize) -> usize {
    CHUNKS.into_iter().find(|&n| n <= left).unwrap_or(1)
}
