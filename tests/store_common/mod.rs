//! Shared harness of the storage tests (`tests/store.rs`,
//! `tests/store_gateway.rs`): `#[macro_use] mod store_common;` in a test
//! file. Every scenario is written once and run against SQLite (a temporary
//! file) and PostgreSQL (a fresh database per test on the server at
//! `SWITCHBOARD_TEST_POSTGRES` (scripts/test sets it), default below). An unreachable PostgreSQL
//! fails the PostgreSQL tests rather than skipping them.
// Each test file uses only part of the harness.
#![allow(dead_code)]

use std::future::Future;

use sqlx::Connection;
use switchboard::store::{Backend, Store};

const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A database for one test, dropped by [`Database::finish`].
pub struct Database {
    pub url: String,
    cleanup: Cleanup,
}

pub struct TestDb {
    pub store: Store,
    pub url: String,
    db: Database,
}

enum Cleanup {
    // Held so the directory lives until the test ends.
    Sqlite { _dir: tempfile::TempDir },
    Postgres { base_url: String, name: String },
}

pub async fn sqlite_db() -> TestDb {
    connected(empty_db(Backend::Sqlite).await).await
}

pub async fn postgres_db() -> TestDb {
    connected(empty_db(Backend::Postgres).await).await
}

async fn connected(db: Database) -> TestDb {
    let store = Store::connect(&db.url)
        .await
        .unwrap_or_else(|e| panic!("open the store at {}: {e}", db.url));
    TestDb {
        store,
        url: db.url.clone(),
        db,
    }
}

pub fn pg_base_url() -> String {
    std::env::var("SWITCHBOARD_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_PG_URL.to_owned())
}

/// `base` with its database name replaced by `name`, keeping any query.
pub fn pg_url_with_database(base: &str, name: &str) -> String {
    let (main, query) = match base.split_once('?') {
        Some((main, query)) => (main, format!("?{query}")),
        None => (base, String::new()),
    };
    let authority_start = main.find("://").expect("URL has a scheme") + 3;
    let path_start = main[authority_start..]
        .find('/')
        .map_or(main.len(), |i| authority_start + i);
    format!("{}/{name}{query}", &main[..path_start])
}

/// A database on `backend` that no migration has touched yet.
pub async fn empty_db(backend: Backend) -> Database {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            Database {
                url: format!("sqlite://{}", dir.path().join("switchboard.db").display()),
                cleanup: Cleanup::Sqlite { _dir: dir },
            }
        }
        Backend::Postgres => {
            let base_url = pg_base_url();
            let name = format!("sb_test_{:016x}", rand::random::<u64>());
            let mut admin = sqlx::PgConnection::connect(&base_url)
                .await
                .unwrap_or_else(|e| panic!("PostgreSQL at {base_url} is unreachable: {e}"));
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut admin)
                .await
                .expect("create test database");
            admin.close().await.ok();
            Database {
                url: pg_url_with_database(&base_url, &name),
                cleanup: Cleanup::Postgres { base_url, name },
            }
        }
    }
}

impl Database {
    pub async fn finish(self) {
        if let Cleanup::Postgres { base_url, name } = self.cleanup {
            let dropped = async {
                let mut admin = sqlx::PgConnection::connect(&base_url).await?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await?;
                admin.close().await
            };
            if let Err(e) = dropped.await {
                eprintln!("could not drop test database {name}: {e}");
            }
        }
    }
}

impl TestDb {
    pub async fn finish(self) {
        self.store.close().await;
        self.db.finish().await;
    }
}

/// Runs a scenario in its own task so that a failing assertion still lets us
/// drop the PostgreSQL database before the panic is re-raised.
pub async fn run<F, Fut>(db: TestDb, scenario: F)
where
    F: FnOnce(Store, String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let result = tokio::spawn(scenario(db.store.clone(), db.url.clone())).await;
    db.finish().await;
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// Instantiates every scenario once per backend, as `sqlite::NAME` and
/// `postgres::NAME` tests of the calling file. `store` scenarios take
/// `&Store`; `url` scenarios also get the URL to open more stores on the
/// same database.
macro_rules! scenarios {
    (store: [$($s:ident),* $(,)?], url: [$($u:ident),* $(,)?] $(,)?) => {
        scenarios!(@backend sqlite, sqlite_db, [$($s),*], [$($u),*]);
        scenarios!(@backend postgres, postgres_db, [$($s),*], [$($u),*]);
    };
    (@backend $module:ident, $open:ident, [$($s:ident),*], [$($u:ident),*]) => {
        mod $module {
            use $crate::store_common::{run, $open};
            $(
                #[tokio::test]
                async fn $s() {
                    run($open().await, |store, _url| async move {
                        super::$s(&store).await
                    })
                    .await
                }
            )*
            $(
                #[tokio::test]
                async fn $u() {
                    run($open().await, |store, url| async move {
                        super::$u(&store, &url).await
                    })
                    .await
                }
            )*
        }
    };
}
