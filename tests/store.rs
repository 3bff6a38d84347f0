//! Storage tests of accounts, rosters, pending subscriptions and offline
//! messages, each run on SQLite and PostgreSQL (see `store_common`).

#[macro_use]
mod store_common;

use sqlx::Connection;
use store_common::pg_url_with_database;
use switchboard::store::{
    Credentials, RosterItem, Store, StoreError, Subscription, DEFAULT_ITERATIONS,
};

scenarios! {
    store: [
        accounts_lifecycle,
        delete_account_cascades,
        credentials_round_trip,
        roster_lifecycle,
        pending_in_lifecycle,
        offline_messages,
        concurrent_writes,
    ],
    url: [reopen_keeps_data, migrations_are_idempotent],
}

fn creds(password: &str) -> Credentials {
    // Few iterations: these tests exercise storage, not key stretching.
    Credentials::derive(password, 2)
}

fn item(contact: &str, sub: Subscription, ask: bool, groups: &[&str]) -> RosterItem {
    RosterItem {
        contact: contact.to_owned(),
        name: None,
        subscription: sub,
        ask,
        groups: groups.iter().map(|g| g.to_string()).collect(),
    }
}

async fn accounts_lifecycle(store: &Store) {
    assert!(!store.account_exists("alice@x").await.unwrap());
    assert_eq!(store.credentials("alice@x").await.unwrap(), None);
    assert!(store.list_accounts().await.unwrap().is_empty());

    let first = creds("one");
    store.set_account("alice@x", &first).await.unwrap();
    assert!(store.account_exists("alice@x").await.unwrap());
    assert_eq!(store.credentials("alice@x").await.unwrap(), Some(first));

    let second = creds("two");
    store.set_account("alice@x", &second).await.unwrap();
    let got = store.credentials("alice@x").await.unwrap().unwrap();
    assert_eq!(got, second);
    assert!(got.verify_plain("two") && !got.verify_plain("one"));

    for jid in ["zed@x", "Bob@x", "élodie@x"] {
        store.set_account(jid, &creds(jid)).await.unwrap();
    }
    // Code-point order regardless of the PostgreSQL collation.
    assert_eq!(
        store.list_accounts().await.unwrap(),
        ["Bob@x", "alice@x", "zed@x", "élodie@x"]
    );
    assert!(!store.account_exists("ALICE@x").await.unwrap());

    assert!(store.delete_account("alice@x").await.unwrap());
    assert!(!store.delete_account("alice@x").await.unwrap());
    assert!(!store.account_exists("alice@x").await.unwrap());
    assert_eq!(store.list_accounts().await.unwrap().len(), 3);
}

async fn delete_account_cascades(store: &Store) {
    for owner in ["alice@x", "bob@x"] {
        store.set_account(owner, &creds(owner)).await.unwrap();
        let groups = ["G"];
        let contact = item("carol@y", Subscription::Both, false, &groups);
        store.roster_upsert(owner, &contact).await.unwrap();
        store
            .pending_in_add(owner, "dave@y", "<presence type='subscribe'/>")
            .await
            .unwrap();
        store.offline_push(owner, "<message/>").await.unwrap();
    }
    let version_before = store.roster_version("alice@x").await.unwrap();

    assert!(store.delete_account("alice@x").await.unwrap());
    assert_eq!(store.credentials("alice@x").await.unwrap(), None);
    assert!(store.roster("alice@x").await.unwrap().is_empty());
    assert_eq!(store.roster_item("alice@x", "carol@y").await.unwrap(), None);
    assert!(store.pending_in("alice@x").await.unwrap().is_empty());
    assert_eq!(store.offline_count("alice@x").await.unwrap(), 0);
    // Never reused, so a re-created account cannot match a stale cache.
    assert!(store.roster_version("alice@x").await.unwrap() > version_before);

    // Bob is untouched.
    assert!(store.account_exists("bob@x").await.unwrap());
    assert_eq!(store.roster("bob@x").await.unwrap().len(), 1);
    assert_eq!(store.pending_in("bob@x").await.unwrap().len(), 1);
    assert_eq!(store.offline_count("bob@x").await.unwrap(), 1);
}

async fn credentials_round_trip(store: &Store) {
    let c = Credentials::derive("correct horse ☃", DEFAULT_ITERATIONS);
    assert_eq!(c.iterations, DEFAULT_ITERATIONS);
    store.set_account("alice@x", &c).await.unwrap();
    let got = store.credentials("alice@x").await.unwrap().unwrap();
    assert_eq!(got, c);
    assert!(got.verify_plain("correct horse ☃"));
    assert!(!got.verify_plain("correct horse"));
    assert!(!got.verify_plain(""));

    // u32 values beyond i32::MAX must survive the i64 column.
    let big = Credentials {
        iterations: u32::MAX,
        ..c.clone()
    };
    store.set_account("big@x", &big).await.unwrap();
    assert_eq!(
        store
            .credentials("big@x")
            .await
            .unwrap()
            .unwrap()
            .iterations,
        u32::MAX
    );
}

async fn roster_lifecycle(store: &Store) {
    let owner = "alice@x";
    assert_eq!(store.roster_version(owner).await.unwrap(), 0);
    assert!(store.roster(owner).await.unwrap().is_empty());

    let mut bob = item(
        "bob@y",
        Subscription::None,
        true,
        &["Work", "Friends", "Work"],
    );
    bob.name = Some("Bob Ünïcode".to_owned());
    store.roster_upsert(owner, &bob).await.unwrap();
    assert_eq!(store.roster_version(owner).await.unwrap(), 1);
    let got = store.roster_item(owner, "bob@y").await.unwrap().unwrap();
    assert_eq!(got.groups, ["Friends", "Work"]);
    assert_eq!(got.name.as_deref(), Some("Bob Ünïcode"));
    assert_eq!(got.subscription, Subscription::None);
    assert!(got.ask);

    store
        .roster_upsert(owner, &item("Carol@y", Subscription::From, false, &[]))
        .await
        .unwrap();
    store
        .roster_upsert(owner, &item("abe@y", Subscription::To, false, &["Work"]))
        .await
        .unwrap();
    assert_eq!(store.roster_version(owner).await.unwrap(), 3);
    let contacts: Vec<String> = store
        .roster(owner)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.contact)
        .collect();
    assert_eq!(contacts, ["Carol@y", "abe@y", "bob@y"]);

    // An update replaces every field, including the whole group set.
    let updated = item("bob@y", Subscription::Both, false, &["Family"]);
    store.roster_upsert(owner, &updated).await.unwrap();
    assert_eq!(store.roster_version(owner).await.unwrap(), 4);
    assert_eq!(
        store.roster_item(owner, "bob@y").await.unwrap(),
        Some(updated.clone())
    );
    let roster = store.roster(owner).await.unwrap();
    assert_eq!(roster.len(), 3);
    assert_eq!(roster[0].groups, Vec::<String>::new());
    assert_eq!(roster[1].groups, ["Work"]);
    assert_eq!(roster[2], updated);

    assert!(store.roster_remove(owner, "bob@y").await.unwrap());
    assert_eq!(store.roster_version(owner).await.unwrap(), 5);
    assert_eq!(store.roster_item(owner, "bob@y").await.unwrap(), None);
    assert!(!store.roster_remove(owner, "bob@y").await.unwrap());
    assert_eq!(store.roster_version(owner).await.unwrap(), 5);
    // Re-adding must not resurrect the old groups.
    store
        .roster_upsert(owner, &item("bob@y", Subscription::None, false, &[]))
        .await
        .unwrap();
    let got = store.roster_item(owner, "bob@y").await.unwrap().unwrap();
    assert!(got.groups.is_empty() && got.name.is_none());

    // Rosters and versions are per owner.
    assert!(store.roster("carol@y").await.unwrap().is_empty());
    assert_eq!(store.roster_version("carol@y").await.unwrap(), 0);
    assert_eq!(store.roster_item("carol@y", "abe@y").await.unwrap(), None);
}

async fn pending_in_lifecycle(store: &Store) {
    let owner = "alice@x";
    assert!(store.pending_in(owner).await.unwrap().is_empty());
    store
        .pending_in_add(owner, "carol@y", "<c1/>")
        .await
        .unwrap();
    store.pending_in_add(owner, "bob@y", "<b1/>").await.unwrap();
    store.pending_in_add(owner, "bob@y", "<b2/>").await.unwrap();
    store
        .pending_in_add("zoe@x", "bob@y", "<z/>")
        .await
        .unwrap();
    assert_eq!(
        store.pending_in(owner).await.unwrap(),
        [
            ("bob@y".to_owned(), "<b2/>".to_owned()),
            ("carol@y".to_owned(), "<c1/>".to_owned())
        ]
    );
    assert!(store.pending_in_remove(owner, "bob@y").await.unwrap());
    assert!(!store.pending_in_remove(owner, "bob@y").await.unwrap());
    assert_eq!(store.pending_in(owner).await.unwrap().len(), 1);
    assert_eq!(
        store.pending_in("zoe@x").await.unwrap(),
        [("bob@y".to_owned(), "<z/>".to_owned())]
    );
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn offline_messages(store: &Store) {
    let before = now_ms();
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(
            store
                .offline_push("alice@x", &format!("<m{n}/>"))
                .await
                .unwrap(),
        );
    }
    let bob_id = store.offline_push("bob@x", "<bob/>").await.unwrap();
    let after = now_ms();
    assert!(ids.windows(2).all(|w| w[0] < w[1]));

    let list = store.offline_list("alice@x").await.unwrap();
    assert_eq!(list.iter().map(|m| m.id).collect::<Vec<_>>(), ids);
    let stanzas: Vec<&str> = list.iter().map(|m| m.stanza.as_str()).collect();
    assert_eq!(stanzas, ["<m0/>", "<m1/>", "<m2/>"]);
    assert!(list
        .iter()
        .all(|m| (before..=after).contains(&m.stored_at_ms)));
    // Listing does not consume.
    assert_eq!(store.offline_count("alice@x").await.unwrap(), 3);

    let bob = store.offline_list("bob@x").await.unwrap();
    assert_eq!(bob.len(), 1);
    assert_eq!((bob[0].id, bob[0].stanza.as_str()), (bob_id, "<bob/>"));
    assert!(store.offline_list("carol@x").await.unwrap().is_empty());

    // Alice cannot delete Bob's message, even by id.
    let deleted = store
        .offline_delete("alice@x", &[ids[0], ids[2], bob_id])
        .await
        .unwrap();
    assert_eq!(deleted, 2);
    assert_eq!(store.offline_count("bob@x").await.unwrap(), 1);
    assert_eq!(store.offline_delete("alice@x", &[]).await.unwrap(), 0);
    let rest = store.offline_list("alice@x").await.unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!((rest[0].id, rest[0].stanza.as_str()), (ids[1], "<m1/>"));

    // Ids are never reused, even after deleting the newest message.
    let newest = store.offline_push("alice@x", "<m3/>").await.unwrap();
    store.offline_delete("alice@x", &[newest]).await.unwrap();
    let next = store.offline_push("alice@x", "<m4/>").await.unwrap();
    assert!(next > newest);

    // Deleting more ids than fit in one statement.
    let mut many: Vec<i64> = (1..=1200).map(|i| newest + 1_000_000 + i).collect();
    many.push(next);
    assert_eq!(store.offline_delete("alice@x", &many).await.unwrap(), 1);
    assert_eq!(store.offline_count("alice@x").await.unwrap(), 1);
}

async fn concurrent_writes(store: &Store) {
    let tasks: Vec<_> = (0..16)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move {
                let owner = format!("user{}@x", n % 4);
                store.offline_push(&owner, "<m/>").await.unwrap();
                let contact = item(&format!("c{n}@y"), Subscription::To, false, &["G"]);
                store.roster_upsert(&owner, &contact).await.unwrap();
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    for n in 0..4 {
        let owner = format!("user{n}@x");
        assert_eq!(store.offline_count(&owner).await.unwrap(), 4);
        assert_eq!(store.roster(&owner).await.unwrap().len(), 4);
        assert_eq!(store.roster_version(&owner).await.unwrap(), 4);
    }
}

async fn reopen_keeps_data(store: &Store, url: &str) {
    let c = creds("pw");
    store.set_account("alice@x", &c).await.unwrap();
    let bob = item("bob@y", Subscription::Both, false, &["G"]);
    store.roster_upsert("alice@x", &bob).await.unwrap();
    store
        .pending_in_add("alice@x", "carol@y", "<p/>")
        .await
        .unwrap();
    let id = store.offline_push("alice@x", "<m/>").await.unwrap();
    store.close().await;

    let reopened = Store::connect(url).await.unwrap();
    assert_eq!(reopened.credentials("alice@x").await.unwrap(), Some(c));
    assert_eq!(reopened.roster("alice@x").await.unwrap(), [bob]);
    assert_eq!(reopened.roster_version("alice@x").await.unwrap(), 1);
    assert_eq!(reopened.pending_in("alice@x").await.unwrap().len(), 1);
    let offline = reopened.offline_list("alice@x").await.unwrap();
    assert_eq!((offline.len(), offline[0].id), (1, id));
    reopened.close().await;
}

async fn migrations_are_idempotent(store: &Store, url: &str) {
    store.set_account("alice@x", &creds("pw")).await.unwrap();
    // Connecting again re-runs the migrator against an up-to-date schema,
    // while the first store is still open.
    let second = Store::connect(url).await.unwrap();
    let third = Store::connect(url).await.unwrap();
    assert!(second.account_exists("alice@x").await.unwrap());
    third.set_account("bob@x", &creds("pw")).await.unwrap();
    assert_eq!(store.list_accounts().await.unwrap(), ["alice@x", "bob@x"]);
    second.close().await;
    third.close().await;
}

#[tokio::test]
async fn sqlite_creates_directories_and_uses_wal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/../c/switchboard.db");
    let store = Store::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    store.set_account("alice@x", &creds("pw")).await.unwrap();
    store.close().await;

    let file = dir.path().join("a/c/switchboard.db");
    assert!(file.is_file());
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", file.display()))
        .await
        .unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    conn.close().await.unwrap();
}

#[tokio::test]
async fn sqlite_memory_is_shared_by_clones() {
    let store = Store::connect("sqlite::memory:").await.unwrap();
    let clone = store.clone();
    store.set_account("alice@x", &creds("pw")).await.unwrap();
    assert!(clone.account_exists("alice@x").await.unwrap());
    let pushes: Vec<_> = (0..8)
        .map(|_| {
            let s = store.clone();
            tokio::spawn(async move { s.offline_push("alice@x", "<m/>").await.unwrap() })
        })
        .collect();
    for p in pushes {
        p.await.unwrap();
    }
    assert_eq!(clone.offline_count("alice@x").await.unwrap(), 8);
    store.close().await;
}

#[tokio::test]
async fn invalid_urls_are_rejected() {
    for url in ["mysql://localhost/x", "sqlite://", "", "/tmp/x.db"] {
        match Store::connect(url).await {
            Err(StoreError::InvalidUrl { .. }) => {}
            other => panic!("{url:?}: expected InvalidUrl, got {other:?}"),
        }
    }
}

#[test]
fn pg_url_rewriting() {
    assert_eq!(
        pg_url_with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
        "postgres://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(
        pg_url_with_database("postgresql://u:p@h/db?sslmode=disable", "x"),
        "postgresql://u:p@h/x?sslmode=disable"
    );
    assert_eq!(pg_url_with_database("postgres://h", "x"), "postgres://h/x");
}
