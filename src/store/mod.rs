//! Persistent storage for accounts, rosters, pending subscriptions, offline
//! messages and the gateway's customers, sessions and transcripts, on SQLite
//! or PostgreSQL through sqlx's `Any` driver.
//!
//! Every query is written once and runs on both backends, which constrains
//! the SQL:
//! - placeholders are `$1, $2, …`: PostgreSQL requires them and sqlx's SQLite
//!   driver maps `$N` to the N-th bound argument;
//! - only `i64`, `String`/`&str`, `Vec<u8>`/`&[u8]` and `Option`s of those
//!   cross the boundary (no booleans, no arrays, no unsigned types), because
//!   those are the types the `Any` driver maps the same way on both sides;
//! - results that users see sorted are sorted in Rust, not with `ORDER BY`
//!   on text, since PostgreSQL's ordering depends on the database collation.

mod accounts;
mod assignments;
mod callbacks;
mod checkpoint;
mod contexts;
mod corrections;
mod credentials;
mod customers;
mod links;
mod offline;
mod roster;
pub mod schema;
mod sessions;
mod transcript;
mod transcript_writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions, Connection, Executor};

pub use assignments::Assignment;
pub use callbacks::{Callback, CallbackState, Chosen};
use checkpoint::Checkpointer;
pub use corrections::Correction;
pub use credentials::{Credentials, DEFAULT_ITERATIONS};
pub use customers::Customer;
pub use links::{LinkEvent, PastNote, PastSession};
pub use offline::OfflineMessage;
pub use roster::{ParseSubscriptionError, RosterItem, Subscription};
pub use sessions::{NewSession, SessionRecord, SessionState};
pub use transcript::{Direction, NewMessage, TranscriptEntry};
pub use transcript_writer::TranscriptWriter;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// The database engine behind a [`Store`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Errors from the storage layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("invalid database URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("cannot create the directory of the database file {}: {cause}", path.display())]
    CreateDir {
        path: PathBuf,
        cause: std::io::Error,
    },
    // The cause is part of each message rather than a `source()`: log lines
    // show `%error`, and "query failed" without the database's own words
    // ("integer out of range") leaves an admin nothing to act on; as a
    // source too, error reports that walk the chain would print it twice.
    #[error("cannot connect to the database: {0}")]
    Connect(sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(sqlx::migrate::MigrateError),
    #[error("database query failed ({op}): {cause}")]
    Query {
        op: &'static str,
        cause: sqlx::Error,
    },
    /// A row holds a value the schema allows but this code cannot represent,
    /// e.g. after a manual edit of the database.
    #[error("invalid data in the database: {0}")]
    Corrupt(String),
    /// The row an update names does not exist.
    #[error("no {what} {id:?}")]
    NotFound { what: &'static str, id: String },
}

impl StoreError {
    /// The database itself refused the statement (a constraint, a value
    /// out of range, bad data): the same statement will fail again, while
    /// one without the offending row may succeed. Failures to reach the
    /// database are not refusals.
    pub fn is_refused(&self) -> bool {
        matches!(
            self,
            StoreError::Query {
                cause: sqlx::Error::Database(_),
                ..
            }
        )
    }
}

/// Tags a sqlx error with the operation that failed, so logs say which query.
pub(crate) fn query_err(op: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |cause| StoreError::Query { op, cause }
}

/// Handle to the database; cloning is cheap and clones share one pool.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// `sqlite::memory:`: the database lives in the pool's one connection.
    memory: bool,
    /// SQLite files only: copies the WAL into the database off the commit
    /// path.
    checkpointer: Option<Arc<Checkpointer>>,
}

/// What a commit survives, `[database] durability`. Both survive a crash
/// of the process (`kill -9`): what a commit wrote is in the operating
/// system's hands. They differ on a power loss or a kernel crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Every commit is on disk before it returns (SQLite `synchronous =
    /// FULL`, PostgreSQL `synchronous_commit = on`): nothing acknowledged
    /// is ever lost; each group commit waits for an fsync.
    #[default]
    Full,
    /// The database stays consistent, but a power loss may lose the last
    /// commits, which peers were told were stored (SQLite `synchronous =
    /// NORMAL` in WAL mode, PostgreSQL `synchronous_commit = off`).
    Normal,
}

impl Store {
    /// Opens (creating if needed) the database at `url` and brings its schema
    /// up to date.
    ///
    /// Accepted URLs: `sqlite://PATH` (absolute, or relative to the current
    /// directory), `sqlite::memory:` (private to this `Store` and its clones)
    /// and `postgres://…` / `postgresql://…`.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        Store::connect_with(url, Durability::default()).await
    }

    /// [`Store::connect`] with commits as durable as `durability` says.
    pub async fn connect_with(url: &str, durability: Durability) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let store = match parse_url(url)? {
            Target::SqliteFile(path) => connect_sqlite_file(&path, durability).await?,
            Target::SqliteMemory => connect_sqlite_memory().await?,
            Target::Postgres => Store {
                pool: AnyPoolOptions::new()
                    .max_connections(8)
                    .after_connect(move |conn, _meta| {
                        Box::pin(async move {
                            if durability == Durability::Normal {
                                conn.execute("SET synchronous_commit = off").await?;
                            }
                            Ok(())
                        })
                    })
                    .connect(url)
                    .await
                    .map_err(StoreError::Connect)?,
                backend: Backend::Postgres,
                memory: false,
                checkpointer: None,
            },
        };
        migrator(store.backend)
            .run(&store.pool)
            .await
            .map_err(StoreError::Migrate)?;
        Ok(store)
    }

    /// Whether `url` names an SQLite file that does not exist yet: a
    /// database without accounts, which [`Store::connect`] would create.
    /// `switchboard check` reads accounts and should leave no file behind.
    pub fn is_uncreated(url: &str) -> bool {
        matches!(parse_url(url), Ok(Target::SqliteFile(path)) if !path.exists())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Waits for in-flight queries and closes every connection, for all
    /// clones of this `Store`.
    pub async fn close(&self) {
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.stop().await;
        }
        self.pool.close().await;
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub(crate) fn is_memory(&self) -> bool {
        self.memory
    }
}

/// The migrations embedded for `backend`, in order; [`Store::connect`] runs
/// them all. Public so that a test can stop at an older version.
pub fn migrator(backend: Backend) -> &'static sqlx::migrate::Migrator {
    match backend {
        Backend::Sqlite => &SQLITE_MIGRATIONS,
        Backend::Postgres => &POSTGRES_MIGRATIONS,
    }
}

enum Target {
    SqliteFile(PathBuf),
    SqliteMemory,
    Postgres,
}

fn parse_url(url: &str) -> Result<Target, StoreError> {
    let invalid = |reason: &str| StoreError::InvalidUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    if url == "sqlite::memory:" {
        Ok(Target::SqliteMemory)
    } else if let Some(path) = url.strip_prefix("sqlite://") {
        if path.is_empty() {
            return Err(invalid("missing file path"));
        }
        if path.contains('?') {
            return Err(invalid("query parameters are not supported"));
        }
        let cwd = std::env::current_dir()
            .map_err(|e| invalid(&format!("cannot resolve a relative path: {e}")))?;
        Ok(Target::SqliteFile(cwd.join(path)))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Target::Postgres)
    } else {
        Err(invalid(
            "expected sqlite://PATH, sqlite::memory: or postgres://…",
        ))
    }
}

/// Builds the URL sqlx expects for a database file. sqlx re-parses it as a
/// URL and percent-decodes the path, so the path must be absolute (a relative
/// one would be read as a host name) and `%`, `?` and `#` must be escaped.
fn sqlite_file_url(path: &Path) -> Result<String, StoreError> {
    let text = path.to_str().ok_or_else(|| StoreError::InvalidUrl {
        url: path.display().to_string(),
        reason: "the database path is not valid UTF-8".to_owned(),
    })?;
    let mut url = String::from("sqlite://");
    for c in text.chars() {
        match c {
            '%' => url.push_str("%25"),
            '?' => url.push_str("%3F"),
            '#' => url.push_str("%23"),
            c => url.push(c),
        }
    }
    url.push_str("?mode=rwc");
    Ok(url)
}

async fn connect_sqlite_file(path: &Path, durability: Durability) -> Result<Store, StoreError> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(dir).map_err(|cause| StoreError::CreateDir {
        path: dir.to_owned(),
        cause,
    })?;
    // Canonicalising the (now existing) directory turns `..` and symlinks
    // into a plain absolute path, which survives sqlx's URL normalisation.
    let dir = dir.canonicalize().map_err(|cause| StoreError::CreateDir {
        path: dir.to_owned(),
        cause,
    })?;
    let file_name = path.file_name().ok_or_else(|| StoreError::InvalidUrl {
        url: path.display().to_string(),
        reason: "the path does not name a file".to_owned(),
    })?;
    let url = sqlite_file_url(&dir.join(file_name))?;
    let options: AnyConnectOptions = url.parse().map_err(StoreError::Connect)?;

    // The journal mode is stored in the file, so switch it once on a lone
    // connection: converting needs an exclusive lock that pooled
    // connections racing each other could fail to get.
    let mut conn = options.connect().await.map_err(StoreError::Connect)?;
    let mode: (String,) = sqlx::query_as("PRAGMA journal_mode = WAL")
        .fetch_one(&mut conn)
        .await
        .map_err(query_err("enable WAL"))?;
    if !mode.0.eq_ignore_ascii_case("wal") {
        tracing::warn!(journal_mode = %mode.0, "SQLite refused WAL journal mode");
    }
    conn.close().await.map_err(StoreError::Connect)?;

    let checkpointer = Checkpointer::start(&options).await?;
    let pool = sqlite_pool_options(4, durability)
        .connect_with(options)
        .await
        .map_err(StoreError::Connect)?;
    Ok(Store {
        pool,
        backend: Backend::Sqlite,
        memory: false,
        checkpointer: Some(checkpointer),
    })
}

async fn connect_sqlite_memory() -> Result<Store, StoreError> {
    // sqlx gives every new connection to `:memory:` its own database, so the
    // pool must hold exactly one connection and never recycle it.
    let pool = sqlite_pool_options(1, Durability::Normal)
        .min_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect("sqlite::memory:")
        .await
        .map_err(StoreError::Connect)?;
    Ok(Store {
        pool,
        backend: Backend::Sqlite,
        memory: true,
        checkpointer: None,
    })
}

/// Per-connection SQLite settings. WAL makes `synchronous = NORMAL` safe
/// against corruption (a power loss may only drop the last commits; `FULL`
/// syncs the WAL at every commit so that none is), and the busy timeout
/// lets writers queue instead of failing with SQLITE_BUSY.
/// sqlx already defaults to 5 s and foreign keys on through its native
/// options, but the `Any` driver builds connections from the URL alone, so
/// we do not rely on those defaults.
fn sqlite_pool_options(max_connections: u32, durability: Durability) -> AnyPoolOptions {
    let synchronous = match durability {
        Durability::Full => "PRAGMA synchronous = FULL",
        Durability::Normal => "PRAGMA synchronous = NORMAL",
    };
    AnyPoolOptions::new()
        .max_connections(max_connections)
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                conn.execute(synchronous).await?;
                conn.execute("PRAGMA busy_timeout = 5000").await?;
                conn.execute("PRAGMA foreign_keys = ON").await?;
                // A multi-row INSERT keeps a statement journal to undo
                // itself; in a temp file it was 4% of the server's CPU in
                // support chat (perf), in memory it is a copy.
                conn.execute("PRAGMA temp_store = MEMORY").await?;
                // The checkpoint a commit runs itself only every 40 MB of
                // WAL rather than 4: the background checkpointer (see
                // checkpoint.rs) copies pages in between, and this one's job
                // is to restart the WAL.
                conn.execute("PRAGMA wal_autocheckpoint = 10000").await?;
                Ok(())
            })
        })
}

/// Milliseconds since the Unix epoch, for timestamps stored as integers.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis()
        .try_into()
        .unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_parsing() {
        assert!(matches!(
            parse_url("sqlite::memory:"),
            Ok(Target::SqliteMemory)
        ));
        assert!(matches!(
            parse_url("postgresql://u@h/db"),
            Ok(Target::Postgres)
        ));
        let cwd = std::env::current_dir().unwrap();
        match parse_url("sqlite://data/x.db") {
            Ok(Target::SqliteFile(p)) => assert_eq!(p, cwd.join("data/x.db")),
            _ => panic!("relative path not resolved against cwd"),
        }
        match parse_url("sqlite:///abs/x.db") {
            Ok(Target::SqliteFile(p)) => assert_eq!(p, Path::new("/abs/x.db")),
            _ => panic!("absolute path mangled"),
        }
        for bad in ["mysql://x", "sqlite://", "sqlite://a.db?mode=ro", "x.db"] {
            assert!(
                matches!(parse_url(bad), Err(StoreError::InvalidUrl { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn sqlite_url_escapes_reserved_characters() {
        assert_eq!(
            sqlite_file_url(Path::new("/a b/c%d?e#f.db")).unwrap(),
            "sqlite:///a b/c%25d%3Fe%23f.db?mode=rwc"
        );
    }

    /// Commits far below the automatic checkpoint's 40 MB still reach the
    /// database file: the background checkpointer copied them.
    #[tokio::test]
    async fn sqlite_wal_is_checkpointed_in_the_background() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let store = Store::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        let size = || std::fs::metadata(&path).unwrap().len();
        let before = size();
        sqlx::raw_sql(
            "CREATE TABLE filler (data BLOB); INSERT INTO filler VALUES (zeroblob(1048576))",
        )
        .execute(store.pool())
        .await
        .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while size() < before + 1_048_576 {
            assert!(
                std::time::Instant::now() < deadline,
                "1 MB committed, still only in the WAL after 10 s ({} -> {} bytes)",
                before,
                size()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        store.close().await;
    }

    /// `durability = "normal"` is what the connections get.
    #[tokio::test]
    async fn normal_durability_syncs_less() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("n.db").display());
        let store = Store::connect_with(&url, Durability::Normal).await.unwrap();
        let value: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(value, 1, "NORMAL");
        store.close().await;
    }

    /// Every pooled connection, not just the first, must carry the settings.
    #[tokio::test]
    async fn sqlite_connections_get_pragmas() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("p.db").display());
        let store = Store::connect(&url).await.unwrap();
        let mut conns = Vec::new();
        for _ in 0..4 {
            conns.push(store.pool().acquire().await.unwrap());
        }
        for conn in &mut conns {
            for (pragma, expected) in [
                ("PRAGMA synchronous", 2), // FULL, the default durability
                ("PRAGMA foreign_keys", 1),
                ("PRAGMA busy_timeout", 5000),
            ] {
                let value: i64 = sqlx::query_scalar(pragma)
                    .fetch_one(&mut **conn)
                    .await
                    .unwrap();
                assert_eq!(value, expected, "{pragma}");
            }
            let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
                .fetch_one(&mut **conn)
                .await
                .unwrap();
            assert_eq!(mode, "wal");
        }
        drop(conns);
        store.close().await;
    }
}
