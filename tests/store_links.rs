//! Storage tests of linked identities (`store/links.rs`): persons, verified
//! identifiers, the link audit, the person's past sessions and the sticky
//! agent that follows the person, each on SQLite and PostgreSQL (see
//! `store_common`).

#[macro_use]
mod store_common;

use switchboard::store::{Direction, NewSession, SessionState, Store, StoreError};

scenarios! {
    store: [
        linking_makes_one_person_and_is_transitive,
        unlinking_gives_the_customer_its_own_person_again,
        a_shared_verified_identifier_names_the_other_holders,
        the_last_agent_follows_the_person,
        past_sessions_span_every_identity_newest_first,
        unknown_customers_are_not_found,
    ],
    url: [links_survive_a_reopen],
}

/// 2026-12-01T00:00:00Z: real times need more than 32 bits.
const T: i64 = 1_796_083_200_000;

async fn customer(store: &Store, jid: &str) -> String {
    store
        .customer_upsert(jid, T, &format!("c-{jid}"))
        .await
        .unwrap()
        .id
}

async fn session(store: &Store, id: &str, customer_id: &str, at: i64) {
    let new = NewSession {
        id,
        customer_id,
        entry_jid: "help@support.example",
        queue: "billing",
        state: SessionState::Waiting,
        agent: None,
        priority: 0,
        context: None,
    };
    store.session_create(&new, at).await.unwrap();
}

async fn jids(store: &Store, id: &str) -> Vec<String> {
    let mut all: Vec<String> = store
        .person_customers(id)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.jid)
        .collect();
    all.sort();
    all
}

async fn linking_makes_one_person_and_is_transitive(store: &Store) {
    let a = customer(store, "a@x.example").await;
    let b = customer(store, "b@x.example").await;
    let c = customer(store, "c@x.example").await;
    assert_eq!(jids(store, &a).await, ["a@x.example"]);
    assert!(store
        .link_customers(&a, &b, "agent:alice@a.example", T)
        .await
        .unwrap());
    assert!(!store
        .link_customers(&b, &a, "agent:alice@a.example", T)
        .await
        .unwrap());
    // c joins b's person, which is a's: all three are one.
    assert!(store
        .link_customers(&c, &b, "auto:phone", T + 1)
        .await
        .unwrap());
    for id in [&a, &b, &c] {
        assert_eq!(
            jids(store, id).await,
            ["a@x.example", "b@x.example", "c@x.example"]
        );
    }
    let audit = store.link_events(&c).await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(
        (
            audit[0].action.as_str(),
            audit[0].actor.as_str(),
            audit[0].other_id.as_deref()
        ),
        ("link", "auto:phone", Some(b.as_str()))
    );
    assert_eq!(audit[0].created_at, T + 1);
}

async fn unlinking_gives_the_customer_its_own_person_again(store: &Store) {
    let a = customer(store, "a@x.example").await;
    let b = customer(store, "b@x.example").await;
    let c = customer(store, "c@x.example").await;
    store.link_customers(&a, &b, "agent:x", T).await.unwrap();
    store.link_customers(&a, &c, "agent:x", T).await.unwrap();
    // a names the person; when it leaves, b and c stay one.
    assert!(store.unlink_customer(&a, "agent:y", T + 5).await.unwrap());
    assert_eq!(jids(store, &a).await, ["a@x.example"]);
    assert_eq!(jids(store, &b).await, ["b@x.example", "c@x.example"]);
    assert_eq!(jids(store, &c).await, ["b@x.example", "c@x.example"]);
    assert!(!store.unlink_customer(&a, "agent:y", T + 6).await.unwrap());
    let last = store.link_events(&a).await.unwrap().pop().unwrap();
    assert_eq!((last.action.as_str(), last.other_id), ("unlink", None));
    assert!(store.unlink_customer(&c, "agent:y", T + 7).await.unwrap());
    assert_eq!(jids(store, &b).await, ["b@x.example"]);
}

async fn a_shared_verified_identifier_names_the_other_holders(store: &Store) {
    let a = customer(store, "a@x.example").await;
    let b = customer(store, "b@x.example").await;
    let none = store
        .identifier_record(&a, "account", "4711", T)
        .await
        .unwrap();
    assert!(none.is_empty());
    // Verified again: still one row, nobody else.
    assert!(store
        .identifier_record(&a, "account", "4711", T + 1)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store
            .identifier_record(&b, "account", "4711", T + 2)
            .await
            .unwrap(),
        [a.as_str()]
    );
    assert!(store
        .identifier_record(&b, "phone", "4711", T + 2)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store.identifiers_of(&b).await.unwrap(),
        [
            ("account".to_string(), "4711".to_string()),
            ("phone".into(), "4711".into())
        ]
    );
    // Unlinked by an agent, b forgets what it shares with a's person, so
    // that verifying it again does not undo the agent's decision.
    store
        .link_customers(&a, &b, "auto:account", T + 3)
        .await
        .unwrap();
    store
        .unlink_customer(&b, "agent:alice", T + 4)
        .await
        .unwrap();
    assert_eq!(
        store.identifiers_of(&b).await.unwrap(),
        [("phone".to_string(), "4711".to_string())]
    );
    assert_eq!(store.identifiers_of(&a).await.unwrap().len(), 1);
}

async fn the_last_agent_follows_the_person(store: &Store) {
    let a = customer(store, "a@x.example").await;
    let b = customer(store, "b@x.example").await;
    session(store, "s-a", &a, T).await;
    store
        .session_set_state("s-a", SessionState::Live, Some("alice@a.example"), T + 1)
        .await
        .unwrap();
    assert_eq!(store.last_agent_of_customer(&b).await.unwrap(), None);
    store
        .link_customers(&b, &a, "agent:bob", T + 2)
        .await
        .unwrap();
    // Open or closed, a's session counts for b.
    assert_eq!(
        store.last_agent_of_customer(&b).await.unwrap().as_deref(),
        Some("alice@a.example")
    );
    store.unlink_customer(&b, "agent:bob", T + 3).await.unwrap();
    assert_eq!(store.last_agent_of_customer(&b).await.unwrap(), None);
}

async fn past_sessions_span_every_identity_newest_first(store: &Store) {
    let a = customer(store, "a@x.example").await;
    let b = customer(store, "b@x.example").await;
    let other = customer(store, "z@x.example").await;
    session(store, "s-1", &a, T).await;
    session(store, "s-2", &b, T + 100).await;
    session(store, "s-3", &a, T + 200).await;
    session(store, "s-z", &other, T + 300).await;
    store
        .link_customers(&a, &b, "agent:alice", T + 50)
        .await
        .unwrap();
    for (id, agent) in [("s-1", "alice@a.example"), ("s-2", "bob@a.example")] {
        store
            .session_set_state(id, SessionState::Live, Some(agent), T + 101)
            .await
            .unwrap();
    }
    store
        .session_close("s-1", "resolved", T + 150)
        .await
        .unwrap();
    for (dir, body) in [
        (Direction::In, "hello"),
        (Direction::Out, "hi"),
        (Direction::System, "joined"),
        (Direction::Note, "wants a refund"),
    ] {
        store
            .message_append(
                "s-1",
                dir,
                "alice@a.example",
                Some(body),
                "<m/>",
                T + 120,
                true,
            )
            .await
            .unwrap();
    }
    let past = store.past_sessions_of_person(&b, None, 10).await.unwrap();
    let ids: Vec<&str> = past.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["s-3", "s-2", "s-1"]);
    let s1 = &past[2];
    assert_eq!(s1.customer_jid, "a@x.example");
    assert_eq!(s1.agents, ["alice@a.example"]);
    assert_eq!(
        (s1.state.as_str(), s1.close_reason.as_deref()),
        ("closed", Some("resolved"))
    );
    assert_eq!(s1.closed_at, Some(T + 150));
    assert_eq!(s1.messages, 2);
    assert_eq!(s1.notes.len(), 1);
    assert_eq!(s1.notes[0].body, "wants a refund");
    assert_eq!(past[1].agents, ["bob@a.example"]);
    assert_eq!(past[0].messages, 0);
    assert_eq!(
        store
            .past_sessions_of_person(&a, None, 1)
            .await
            .unwrap()
            .len(),
        1
    );
    let but = store
        .past_sessions_of_person(&a, Some("s-3"), 10)
        .await
        .unwrap();
    assert_eq!(
        but.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        ["s-2", "s-1"]
    );
}

async fn unknown_customers_are_not_found(store: &Store) {
    let a = customer(store, "a@x.example").await;
    let r = store.link_customers(&a, "c-nobody", "agent:x", T).await;
    assert!(matches!(r, Err(StoreError::NotFound { .. })), "{r:?}");
    assert!(store.person_customers("c-nobody").await.unwrap().is_empty());
    assert!(matches!(
        store.unlink_customer("c-nobody", "agent:x", T).await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn links_survive_a_reopen(store: &Store, url: &str) {
    let a = customer(store, "a@x.example").await;
    let b = customer(store, "b@x.example").await;
    session(store, "s-a", &a, T).await;
    store
        .session_set_state("s-a", SessionState::Async, Some("alice@a.example"), T + 1)
        .await
        .unwrap();
    store
        .identifier_record(&b, "web-user", "u42", T)
        .await
        .unwrap();
    store
        .link_customers(&a, &b, "agent:alice", T + 2)
        .await
        .unwrap();
    store.close().await;

    let reopened = Store::connect(url).await.unwrap();
    assert_eq!(jids(&reopened, &b).await, ["a@x.example", "b@x.example"]);
    assert_eq!(
        reopened
            .last_agent_of_customer(&b)
            .await
            .unwrap()
            .as_deref(),
        Some("alice@a.example")
    );
    assert_eq!(
        reopened.identifiers_of(&b).await.unwrap(),
        [("web-user".to_string(), "u42".to_string())]
    );
    assert_eq!(reopened.link_events(&a).await.unwrap().len(), 1);
    reopened.close().await;
}
