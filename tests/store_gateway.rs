//! Storage tests of the gateway's state: customers, sessions and their
//! queue order, assignment history and transcripts, each run on SQLite and
//! PostgreSQL (see `store_common`).

#[macro_use]
mod store_common;

use std::borrow::Cow;

use sqlx::Connection;
use store_common::empty_db;
use switchboard::store::{
    migrator, schema, Backend, Direction, NewMessage, NewSession, SessionRecord, SessionState,
    Store, StoreError,
};

scenarios! {
    store: [
        customer_upsert_is_idempotent,
        customer_upsert_concurrent,
        session_lifecycle,
        transfer_and_requeue_history,
        open_session_lookup,
        queue_order,
        last_agent_across_sessions,
        transcript_and_delivery,
        batch_append_keeps_order_and_is_all_or_nothing,
        transcript_writer_recovers_after_a_failed_batch,
        transcript_writer_marks_ride_the_next_commit,
        missing_rows,
        counts_by_state,
        schema_is_what_the_code_binds,
        real_timestamps_fit_every_time_column,
        a_refused_row_costs_only_itself,
    ],
    url: [corrupt_rows_are_reported, reopen_restores_gateway_state],
}

const ENTRY: &str = "help@support.example";

/// Creates a customer and a session for them, with a chosen creation time.
async fn session(
    store: &Store,
    id: &str,
    customer: &str,
    priority: i64,
    now_ms: i64,
) -> SessionRecord {
    let c = store
        .customer_upsert(customer, now_ms, &format!("c-{customer}"))
        .await
        .unwrap();
    let new = NewSession {
        id,
        customer_id: &c.id,
        entry_jid: ENTRY,
        queue: "billing",
        state: SessionState::Waiting,
        agent: None,
        priority,
        context: None,
    };
    store.session_create(&new, now_ms).await.unwrap()
}

fn ids(sessions: &[SessionRecord]) -> Vec<&str> {
    sessions.iter().map(|s| s.id.as_str()).collect()
}

async fn customer_upsert_is_idempotent(store: &Store) {
    let first = store
        .customer_upsert("juliet@capulet.example", 100, "c1")
        .await
        .unwrap();
    assert_eq!(
        (first.id.as_str(), first.created_at, first.last_seen),
        ("c1", 100, 100)
    );
    assert_eq!(first.jid, "juliet@capulet.example");
    assert_eq!(first.name, None);

    let again = store
        .customer_upsert("juliet@capulet.example", 200, "c2")
        .await
        .unwrap();
    assert_eq!(
        (again.id.as_str(), again.created_at, again.last_seen),
        ("c1", 100, 200)
    );
    // An older clock reading does not move last_seen back.
    let late = store
        .customer_upsert("juliet@capulet.example", 150, "c3")
        .await
        .unwrap();
    assert_eq!(late.last_seen, 200);
    assert_eq!(store.customer_get("c2").await.unwrap(), None);

    store
        .customer_set_name("c1", Some("Juliet ☀"))
        .await
        .unwrap();
    let named = store.customer_get("c1").await.unwrap().unwrap();
    assert_eq!(named.name.as_deref(), Some("Juliet ☀"));
    assert_eq!(
        store
            .customer_by_jid("juliet@capulet.example")
            .await
            .unwrap(),
        Some(named.clone())
    );
    // The name survives further visits.
    let visit = store
        .customer_upsert("juliet@capulet.example", 300, "c4")
        .await
        .unwrap();
    assert_eq!(visit.name.as_deref(), Some("Juliet ☀"));
    store.customer_set_name("c1", None).await.unwrap();
    assert_eq!(store.customer_get("c1").await.unwrap().unwrap().name, None);

    // JIDs are compared byte for byte: normalising is the caller's job.
    let other = store
        .customer_upsert("romeo@montague.example", 400, "c5")
        .await
        .unwrap();
    assert_eq!(other.id, "c5");
    assert_eq!(
        store
            .customer_by_jid("JULIET@capulet.example")
            .await
            .unwrap(),
        None
    );
    assert!(matches!(
        store.customer_set_name("nobody", Some("x")).await,
        Err(StoreError::NotFound {
            what: "customer",
            ..
        })
    ));
}

async fn customer_upsert_concurrent(store: &Store) {
    let tasks: Vec<_> = (0..10)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .customer_upsert("juliet@capulet.example", 1000 + n, &format!("c{n}"))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut got = Vec::new();
    for task in tasks {
        got.push(task.await.unwrap());
    }
    let winner = got[0].id.clone();
    assert!(got.iter().all(|c| c.id == winner), "{got:?}");
    // Only the winner's id made it into the table.
    for n in 0..10 {
        let id = format!("c{n}");
        let found = store.customer_get(&id).await.unwrap();
        assert_eq!(found.is_some(), id == winner, "{id}");
    }
    let customer = store.customer_get(&winner).await.unwrap().unwrap();
    assert_eq!(customer.last_seen, 1009);
}

async fn session_lifecycle(store: &Store) {
    let s = session(store, "s-1", "juliet@capulet.example", 0, 1000).await;
    assert_eq!(s.customer_id, "c-juliet@capulet.example");
    assert_eq!(s.customer_jid, "juliet@capulet.example");
    assert_eq!((s.entry_jid.as_str(), s.queue.as_str()), (ENTRY, "billing"));
    assert_eq!((s.state, s.agent.as_deref()), (SessionState::Waiting, None));
    assert_eq!(
        (s.enqueued_at, s.created_at, s.updated_at, s.closed_at),
        (1000, 1000, 1000, None)
    );
    assert_eq!(store.session_get("s-1").await.unwrap(), Some(s.clone()));
    assert!(store.session_assignments("s-1").await.unwrap().is_empty());

    let agent = "alice@agents.support.example";
    let offered = store
        .session_set_state("s-1", SessionState::Offered, Some(agent), 1100)
        .await
        .unwrap();
    assert_eq!(offered.state, SessionState::Offered);
    assert_eq!(offered.agent.as_deref(), Some(agent));
    assert_eq!((offered.updated_at, offered.enqueued_at), (1100, 1000));
    let live = store
        .session_set_state("s-1", SessionState::Live, Some(agent), 1200)
        .await
        .unwrap();
    assert_eq!(live.state, SessionState::Live);
    let asynchronous = store
        .session_set_state("s-1", SessionState::Async, Some(agent), 1300)
        .await
        .unwrap();
    assert_eq!(asynchronous.state, SessionState::Async);
    // One assignment throughout: the agent did not change.
    let history = store.session_assignments("s-1").await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].agent, agent);
    assert_eq!(
        (
            history[0].assigned_at,
            history[0].accepted_at,
            history[0].released_at
        ),
        (1100, Some(1200), None)
    );

    store
        .session_set_context("s-1", r#"{"channel":"xmpp"}"#)
        .await
        .unwrap();
    store.session_set_priority("s-1", 5).await.unwrap();
    assert!(store.session_close("s-1", "resolved", 1400).await.unwrap());
    let closed = store.session_get("s-1").await.unwrap().unwrap();
    assert_eq!(closed.state, SessionState::Closed);
    assert_eq!(
        (closed.closed_at, closed.close_reason.as_deref()),
        (Some(1400), Some("resolved"))
    );
    assert_eq!(closed.agent.as_deref(), Some(agent), "who handled it stays");
    assert_eq!(closed.context.as_deref(), Some(r#"{"channel":"xmpp"}"#));
    assert_eq!((closed.priority, closed.updated_at), (5, 1400));
    let history = store.session_assignments("s-1").await.unwrap();
    assert_eq!(
        (history[0].released_at, history[0].reason.as_deref()),
        (Some(1400), Some("closed"))
    );

    // Closing again changes nothing and says so.
    assert!(!store.session_close("s-1", "again", 1500).await.unwrap());
    let still = store.session_get("s-1").await.unwrap().unwrap();
    assert_eq!(still, closed);
    assert_eq!(store.session_assignments("s-1").await.unwrap(), history);
    assert!(store.sessions_of_agent(agent).await.unwrap().is_empty());

    // A session can be created already assigned and live.
    let c = store
        .customer_upsert("romeo@montague.example", 2000, "c-romeo")
        .await
        .unwrap();
    let new = NewSession {
        id: "s-2",
        customer_id: &c.id,
        entry_jid: ENTRY,
        queue: "vip",
        state: SessionState::Live,
        agent: Some(agent),
        priority: 3,
        context: Some("{}"),
    };
    let s2 = store.session_create(&new, 2000).await.unwrap();
    assert_eq!((s2.state, s2.priority), (SessionState::Live, 3));
    let history = store.session_assignments("s-2").await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].accepted_at, Some(2000));
    assert_eq!(ids(&store.sessions_of_agent(agent).await.unwrap()), ["s-2"]);
}

async fn transfer_and_requeue_history(store: &Store) {
    let (alice, bob, carol) = ("alice@a.example", "bob@a.example", "carol@a.example");
    session(store, "s-1", "juliet@capulet.example", 0, 1000).await;
    store
        .session_set_state("s-1", SessionState::Offered, Some(alice), 1100)
        .await
        .unwrap();
    // Alice lets the offer lapse; it goes to Bob, who takes it.
    store
        .session_set_state("s-1", SessionState::Offered, Some(bob), 1200)
        .await
        .unwrap();
    store
        .session_set_state("s-1", SessionState::Live, Some(bob), 1300)
        .await
        .unwrap();
    // Bob transfers to Carol, straight to live.
    let moved = store
        .session_set_state("s-1", SessionState::Live, Some(carol), 1400)
        .await
        .unwrap();
    assert_eq!(moved.agent.as_deref(), Some(carol));
    assert_eq!(ids(&store.sessions_of_agent(carol).await.unwrap()), ["s-1"]);
    assert!(store.sessions_of_agent(bob).await.unwrap().is_empty());
    // Carol puts it back in the queue; nobody holds it then.
    let requeued = store.session_requeue("s-1", false, 1500).await.unwrap();
    assert_eq!(
        (requeued.state, requeued.agent),
        (SessionState::Waiting, None)
    );
    assert_eq!((requeued.enqueued_at, requeued.updated_at), (1500, 1500));
    // Assigned and then dropped without anyone taking over.
    store
        .session_set_state("s-1", SessionState::Offered, Some(alice), 1600)
        .await
        .unwrap();
    store
        .session_set_state("s-1", SessionState::Waiting, None, 1700)
        .await
        .unwrap();

    let history: Vec<_> = store
        .session_assignments("s-1")
        .await
        .unwrap()
        .into_iter()
        .map(|a| {
            (
                a.agent,
                a.assigned_at,
                a.accepted_at,
                a.released_at,
                a.reason.unwrap_or_default(),
            )
        })
        .collect();
    let row = |agent: &str, at, accepted, released, reason: &str| {
        (agent.to_owned(), at, accepted, released, reason.to_owned())
    };
    assert_eq!(
        history,
        [
            row(alice, 1100, None, Some(1200), "reassigned"),
            row(bob, 1200, Some(1300), Some(1400), "reassigned"),
            row(carol, 1400, Some(1400), Some(1500), "requeued"),
            row(alice, 1600, None, Some(1700), "released"),
        ]
    );
}

async fn open_session_lookup(store: &Store) {
    let first = session(store, "s-1", "juliet@capulet.example", 0, 1000).await;
    let customer = first.customer_id.clone();
    assert_eq!(
        store.session_open_for_customer(&customer).await.unwrap(),
        Some(first)
    );
    assert_eq!(
        store.session_open_for_customer("nobody").await.unwrap(),
        None
    );
    store.session_close("s-1", "left", 1100).await.unwrap();
    assert_eq!(
        store.session_open_for_customer(&customer).await.unwrap(),
        None
    );

    // The gateway keeps one open session per customer; if there are more,
    // the newest is the one.
    session(store, "s-3", "juliet@capulet.example", 0, 2000).await;
    session(store, "s-2", "juliet@capulet.example", 0, 3000).await;
    session(store, "s-4", "romeo@montague.example", 0, 4000).await;
    let open = store.session_open_for_customer(&customer).await.unwrap();
    assert_eq!(open.unwrap().id, "s-2");

    // Reopening a closed session clears its closing.
    let reopened = store
        .session_set_state("s-1", SessionState::Async, Some("alice@a.example"), 5000)
        .await
        .unwrap();
    assert_eq!((reopened.closed_at, reopened.close_reason), (None, None));
    let closed_again = store
        .session_set_state("s-1", SessionState::Closed, Some("alice@a.example"), 6000)
        .await
        .unwrap();
    assert_eq!(closed_again.closed_at, Some(6000));
    let history = store.session_assignments("s-1").await.unwrap();
    assert_eq!(history.last().unwrap().reason.as_deref(), Some("closed"));
}

async fn queue_order(store: &Store) {
    session(store, "s-b", "b@x.example", 0, 1000).await;
    session(store, "s-a", "a@x.example", 0, 1000).await; // ties: id order
    session(store, "s-c", "c@x.example", 0, 900).await;
    session(store, "s-vip", "v@x.example", 10, 2000).await;
    session(store, "s-low", "l@x.example", -1, 100).await;
    let order = store.sessions_open().await.unwrap();
    assert_eq!(ids(&order), ["s-vip", "s-c", "s-a", "s-b", "s-low"]);

    // Offered and live sessions are open too, and keep their place.
    store
        .session_set_state("s-c", SessionState::Offered, Some("alice@a.example"), 3000)
        .await
        .unwrap();
    store.session_close("s-low", "left", 3000).await.unwrap();
    let order = store.sessions_open().await.unwrap();
    assert_eq!(ids(&order), ["s-vip", "s-c", "s-a", "s-b"]);

    // Declined: back in front of everyone of its priority.
    let front = store.session_requeue("s-c", true, 4000).await.unwrap();
    assert_eq!(front.enqueued_at, 999);
    // Front again (nothing else moved): still the earliest.
    let front = store.session_requeue("s-b", true, 4100).await.unwrap();
    assert_eq!(front.enqueued_at, 998);
    let order = store.sessions_open().await.unwrap();
    assert_eq!(ids(&order), ["s-vip", "s-b", "s-c", "s-a"]);

    // A plain requeue goes to the back.
    let back = store.session_requeue("s-b", false, 5000).await.unwrap();
    assert_eq!(back.enqueued_at, 5000);
    store.session_set_priority("s-a", 20).await.unwrap();
    let order = store.sessions_open().await.unwrap();
    assert_eq!(ids(&order), ["s-a", "s-vip", "s-c", "s-b"]);

    // With nobody else waiting, the front is now.
    for id in ["s-a", "s-vip", "s-c"] {
        store.session_close(id, "done", 6000).await.unwrap();
    }
    let alone = store.session_requeue("s-b", true, 7000).await.unwrap();
    assert_eq!(alone.enqueued_at, 7000);
}

async fn last_agent_across_sessions(store: &Store) {
    let (alice, bob) = ("alice@a.example", "bob@a.example");
    let s1 = session(store, "s-1", "juliet@capulet.example", 0, 1000).await;
    let customer = s1.customer_id.clone();
    assert_eq!(store.last_agent_of_customer(&customer).await.unwrap(), None);
    store
        .session_set_state("s-1", SessionState::Live, Some(alice), 1100)
        .await
        .unwrap();
    store.session_close("s-1", "resolved", 1200).await.unwrap();
    assert_eq!(
        store
            .last_agent_of_customer(&customer)
            .await
            .unwrap()
            .as_deref(),
        Some(alice)
    );

    // Next visit: Bob is offered the chat but never takes it.
    session(store, "s-2", "juliet@capulet.example", 0, 2000).await;
    store
        .session_set_state("s-2", SessionState::Offered, Some(bob), 2100)
        .await
        .unwrap();
    store.session_requeue("s-2", true, 2200).await.unwrap();
    assert_eq!(
        store
            .last_agent_of_customer(&customer)
            .await
            .unwrap()
            .as_deref(),
        Some(alice)
    );
    // Then he does, asynchronously.
    store
        .session_set_state("s-2", SessionState::Async, Some(bob), 2300)
        .await
        .unwrap();
    assert_eq!(
        store
            .last_agent_of_customer(&customer)
            .await
            .unwrap()
            .as_deref(),
        Some(bob)
    );
    // Per customer.
    let other = session(store, "s-3", "romeo@montague.example", 0, 3000).await;
    assert_eq!(
        store
            .last_agent_of_customer(&other.customer_id)
            .await
            .unwrap(),
        None
    );
}

/// The bridge's group commit: many rows in one transaction, in order, over
/// more than one INSERT; a batch with a bad row stores none of them.
async fn batch_append_keeps_order_and_is_all_or_nothing(store: &Store) {
    session(store, "s-1", "juliet@capulet.example", 0, 1000).await;
    let row = |i: i64, delivered: bool| NewMessage {
        session_id: "s-1".into(),
        direction: if i % 2 == 0 {
            Direction::In
        } else {
            Direction::Out
        },
        sender: "juliet@capulet.example/phone".into(),
        body: Some(format!("m{i}")),
        stanza: format!("<message><body>m{i}</body></message>"),
        created_at: 2000 + i,
        delivered,
    };
    let rows: Vec<NewMessage> = (0..600).map(|i| row(i, i % 3 == 0)).collect();
    store.messages_append_batch(&rows).await.unwrap();
    store.messages_append_batch(&[]).await.unwrap();
    let all = store.transcript("s-1").await.unwrap();
    assert_eq!(all.len(), 600);
    for (i, m) in all.iter().enumerate() {
        assert_eq!(m.body.as_deref(), Some(format!("m{i}").as_str()));
        assert_eq!(m.delivered_at, (i % 3 == 0).then_some(2000 + i as i64));
    }
    assert!(all.windows(2).all(|w| w[0].id < w[1].id));
    // A row for a session that does not exist breaks the foreign key.
    let mut bad = vec![row(1000, false), row(1001, false)];
    bad[1].session_id = "s-missing".into();
    assert!(store.messages_append_batch(&bad).await.is_err());
    assert_eq!(store.transcript("s-1").await.unwrap().len(), 600);
}

/// The journal's own connection: its rows are seen through the pool, a
/// failed batch leaves nothing half-written, and the next batch goes
/// through (on a new connection).
async fn transcript_writer_recovers_after_a_failed_batch(store: &Store) {
    session(store, "s-1", "juliet@capulet.example", 0, 1000).await;
    let row = |i: i64| NewMessage {
        session_id: "s-1".into(),
        direction: Direction::In,
        sender: "juliet@capulet.example/phone".into(),
        body: Some(format!("w{i}")),
        stanza: format!("<message><body>w{i}</body></message>"),
        created_at: 3000 + i,
        delivered: true,
    };
    let mut writer = store.transcript_writer();
    let first: Vec<NewMessage> = (0..37).map(row).collect();
    writer.append(&first).await.unwrap();
    writer.append(&[]).await.unwrap();
    assert_eq!(store.transcript("s-1").await.unwrap().len(), 37);
    let mut bad: Vec<NewMessage> = (37..340).map(row).collect();
    bad[300].session_id = "s-missing".into();
    assert!(writer.append(&bad).await.is_err());
    assert_eq!(store.transcript("s-1").await.unwrap().len(), 37);
    let again: Vec<NewMessage> = (37..40).map(row).collect();
    writer.append(&again).await.unwrap();
    let all = store.transcript("s-1").await.unwrap();
    let bodies: Vec<String> = all.iter().filter_map(|m| m.body.clone()).collect();
    let expected: Vec<String> = (0..40).map(|i| format!("w{i}")).collect();
    assert_eq!(bodies, expected);
}

/// Delivery marks wait for the writer's next commit, appends or not, and
/// stay pending (not lost) when that commit fails.
async fn transcript_writer_marks_ride_the_next_commit(store: &Store) {
    session(store, "s-1", "juliet@capulet.example", 0, 1000).await;
    let row = |i: i64, session: &str| NewMessage {
        session_id: session.into(),
        direction: Direction::In,
        sender: "juliet@capulet.example/phone".into(),
        body: Some(format!("d{i}")),
        stanza: format!("<message><body>d{i}</body></message>"),
        created_at: 3000 + i,
        delivered: false,
    };
    let undelivered = || async {
        let left = store.messages_undelivered("s-1", Direction::In).await;
        left.unwrap()
            .into_iter()
            .filter_map(|m| m.body)
            .collect::<Vec<_>>()
    };
    let mut writer = store.transcript_writer();
    let ids = writer
        .append(&[row(0, "s-1"), row(1, "s-1"), row(2, "s-1")])
        .await
        .unwrap();
    assert_eq!(ids.len(), 3);
    writer.mark_delivered(&ids[..2], 5000);
    assert_eq!(writer.marks_pending(), 2);
    assert_eq!(
        undelivered().await,
        ["d0", "d1", "d2"],
        "not before a commit"
    );
    // A failed batch keeps them for the next.
    assert!(writer.append(&[row(3, "s-missing")]).await.is_err());
    assert_eq!(writer.marks_pending(), 2);
    assert_eq!(undelivered().await, ["d0", "d1", "d2"]);
    let more = writer.append(&[row(4, "s-1")]).await.unwrap();
    assert_eq!(writer.marks_pending(), 0);
    assert_eq!(undelivered().await, ["d2", "d4"]);
    let all = store.transcript("s-1").await.unwrap();
    assert_eq!(all[0].delivered_at, Some(5000));
    // Alone, in a commit of their own; marking twice keeps the first time.
    writer.mark_delivered(&[ids[0], ids[2], more[0]], 6000);
    writer.commit_marks().await.unwrap();
    assert!(undelivered().await.is_empty());
    let all = store.transcript("s-1").await.unwrap();
    assert_eq!(all[0].delivered_at, Some(5000));
    assert_eq!(all[2].delivered_at, Some(6000));
}

async fn transcript_and_delivery(store: &Store) {
    session(store, "s-1", "juliet@capulet.example", 0, 1000).await;
    session(store, "s-2", "romeo@montague.example", 0, 1000).await;
    let customer = "juliet@capulet.example/phone";
    let agent = "alice@a.example/gajim";
    let append = |direction, sender: &'static str, body: Option<&'static str>, at, delivered| {
        let store = store.clone();
        async move {
            let stanza = format!("<message><body>{}</body></message>", body.unwrap_or(""));
            store
                .message_append("s-1", direction, sender, body, &stanza, at, delivered)
                .await
                .unwrap()
        }
    };
    let m1 = append(Direction::In, customer, Some("hello"), 1100, false).await;
    let m2 = append(
        Direction::System,
        "help@support.example",
        Some("wait"),
        1110,
        true,
    )
    .await;
    let m3 = append(Direction::In, customer, Some("anyone?"), 1200, false).await;
    let m4 = append(Direction::Note, agent, Some("VIP"), 1300, true).await;
    let m5 = append(Direction::Out, agent, None, 1400, false).await;
    let other = store
        .message_append(
            "s-2",
            Direction::In,
            "romeo@montague.example",
            Some("hi"),
            "<m/>",
            1500,
            false,
        )
        .await
        .unwrap();
    assert!([m1, m2, m3, m4, m5, other].windows(2).all(|w| w[0] < w[1]));

    let pending = store
        .messages_undelivered("s-1", Direction::In)
        .await
        .unwrap();
    assert_eq!(pending.iter().map(|m| m.id).collect::<Vec<_>>(), [m1, m3]);
    assert_eq!(pending[0].session_id, "s-1");
    assert_eq!(pending[0].direction, Direction::In);
    assert_eq!(pending[0].sender, customer);
    assert_eq!(pending[0].body.as_deref(), Some("hello"));
    assert_eq!(pending[0].stanza, "<message><body>hello</body></message>");
    assert_eq!(
        (pending[0].created_at, pending[0].delivered_at),
        (1100, None)
    );
    let out = store
        .messages_undelivered("s-1", Direction::Out)
        .await
        .unwrap();
    assert_eq!((out.len(), out[0].id, out[0].body.clone()), (1, m5, None));
    assert!(store
        .messages_undelivered("s-1", Direction::System)
        .await
        .unwrap()
        .is_empty());

    // Marking keeps the first delivery time and counts only new marks.
    assert_eq!(
        store
            .messages_mark_delivered(&[m1, m2], 2000)
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.messages_mark_delivered(&[m1], 2100).await.unwrap(), 0);
    assert_eq!(store.messages_mark_delivered(&[], 2100).await.unwrap(), 0);
    let pending = store
        .messages_undelivered("s-1", Direction::In)
        .await
        .unwrap();
    assert_eq!(pending.iter().map(|m| m.id).collect::<Vec<_>>(), [m3]);

    // More ids than fit in one statement, most of them unknown.
    let mut many: Vec<i64> = (1..=1200).map(|i| other + 1_000_000 + i).collect();
    many.extend([m3, m5, other]);
    assert_eq!(store.messages_mark_delivered(&many, 3000).await.unwrap(), 3);

    let transcript = store.transcript("s-1").await.unwrap();
    let summary: Vec<_> = transcript
        .iter()
        .map(|m| (m.id, m.direction, m.delivered_at))
        .collect();
    assert_eq!(
        summary,
        [
            (m1, Direction::In, Some(2000)),
            (m2, Direction::System, Some(1110)),
            (m3, Direction::In, Some(3000)),
            (m4, Direction::Note, Some(1300)),
            (m5, Direction::Out, Some(3000)),
        ]
    );
    assert_eq!(store.transcript("s-2").await.unwrap().len(), 1);
    assert!(store.transcript("s-none").await.unwrap().is_empty());
}

async fn missing_rows(store: &Store) {
    let not_found = |r: Result<_, StoreError>| matches!(r, Err(StoreError::NotFound { what: "session", ref id }) if id == "s-x");
    assert_eq!(store.session_get("s-x").await.unwrap(), None);
    assert!(not_found(
        store
            .session_set_state("s-x", SessionState::Live, Some("a@a.example"), 1)
            .await
            .map(drop)
    ));
    assert!(not_found(
        store.session_requeue("s-x", true, 1).await.map(drop)
    ));
    assert!(not_found(
        store.session_close("s-x", "r", 1).await.map(drop)
    ));
    assert!(not_found(store.session_set_context("s-x", "{}").await));
    assert!(not_found(store.session_set_priority("s-x", 1).await));

    // Foreign keys hold on both backends.
    let orphan = NewSession {
        id: "s-y",
        customer_id: "nobody",
        entry_jid: ENTRY,
        queue: "q",
        state: SessionState::Waiting,
        agent: None,
        priority: 0,
        context: None,
    };
    assert!(matches!(
        store.session_create(&orphan, 1).await,
        Err(StoreError::Query { .. })
    ));
    assert!(matches!(
        store
            .message_append("s-x", Direction::In, "a@b", None, "<m/>", 1, false)
            .await,
        Err(StoreError::Query { .. })
    ));
    // Session ids are unique.
    session(store, "s-1", "juliet@capulet.example", 0, 1).await;
    let dup = NewSession {
        id: "s-1",
        customer_id: "c-juliet@capulet.example",
        ..orphan
    };
    assert!(store.session_create(&dup, 2).await.is_err());
}

async fn counts_by_state(store: &Store) {
    assert!(store.session_count_by_state().await.unwrap().is_empty());
    for (n, id) in ["s-1", "s-2", "s-3", "s-4"].into_iter().enumerate() {
        session(store, id, &format!("c{n}@x.example"), 0, 1000).await;
    }
    store
        .session_set_state("s-2", SessionState::Live, Some("a@a.example"), 1100)
        .await
        .unwrap();
    store.session_close("s-3", "left", 1100).await.unwrap();
    let counts = store.session_count_by_state().await.unwrap();
    let expected = [("closed", 1), ("live", 1), ("waiting", 2)];
    assert_eq!(
        counts,
        expected.map(|(s, n)| (s.to_owned(), n)),
        "{counts:?}"
    );
}

#[test]
fn states_and_directions_parse() {
    for state in [
        SessionState::Waiting,
        SessionState::Offered,
        SessionState::Live,
        SessionState::Async,
        SessionState::Closed,
    ] {
        assert_eq!(state.as_str().parse::<SessionState>().unwrap(), state);
        assert_eq!(state.to_string(), state.as_str());
    }
    for direction in [
        Direction::In,
        Direction::Out,
        Direction::System,
        Direction::Note,
    ] {
        assert_eq!(direction.as_str().parse::<Direction>().unwrap(), direction);
    }
    for bad in ["", "Live", "queued"] {
        assert!(matches!(
            bad.parse::<SessionState>(),
            Err(StoreError::Corrupt(_))
        ));
    }
    assert!(matches!(
        "inbound".parse::<Direction>(),
        Err(StoreError::Corrupt(_))
    ));
}

/// Writes values the schema's CHECK constraints keep out, as a manual edit
/// or a newer version could, and expects `Corrupt` rather than a panic or a
/// generic query error.
async fn corrupt_rows_are_reported(store: &Store, url: &str) {
    let s = session(store, "s-1", "juliet@capulet.example", 0, 1000).await;
    store
        .message_append("s-1", Direction::In, "j@c", None, "<m/>", 1000, false)
        .await
        .unwrap();
    let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
    let setup: &[&str] = match store.backend() {
        Backend::Sqlite => &["PRAGMA ignore_check_constraints = ON"],
        Backend::Postgres => &[
            "ALTER TABLE sessions DROP CONSTRAINT sessions_state_check",
            "ALTER TABLE messages DROP CONSTRAINT messages_direction_check",
        ],
    };
    for sql in setup.iter().chain(&[
        "UPDATE sessions SET state = 'limbo'",
        "UPDATE messages SET direction = 'sideways'",
    ]) {
        sqlx::query(sql).execute(&mut conn).await.unwrap();
    }
    conn.close().await.unwrap();

    let corrupt = |r: Result<(), StoreError>| matches!(r, Err(StoreError::Corrupt(_)));
    assert!(corrupt(store.session_get("s-1").await.map(drop)));
    assert!(corrupt(
        store
            .session_open_for_customer(&s.customer_id)
            .await
            .map(drop)
    ));
    assert!(corrupt(store.transcript("s-1").await.map(drop)));
}

async fn reopen_restores_gateway_state(store: &Store, url: &str) {
    let agent = "alice@a.example";
    session(store, "s-wait", "a@x.example", 0, 1000).await;
    session(store, "s-live", "b@x.example", 0, 900).await;
    session(store, "s-done", "c@x.example", 0, 800).await;
    session(store, "s-next", "d@x.example", 0, 950).await;
    store
        .session_set_state("s-live", SessionState::Live, Some(agent), 1100)
        .await
        .unwrap();
    store
        .session_set_context("s-live", r#"{"client":"Conversations"}"#)
        .await
        .unwrap();
    store
        .session_close("s-done", "resolved", 1200)
        .await
        .unwrap();
    store.session_requeue("s-wait", true, 1300).await.unwrap();
    let pending = store
        .message_append(
            "s-wait",
            Direction::In,
            "a@x.example/r",
            Some("hi"),
            "<m/>",
            1400,
            false,
        )
        .await
        .unwrap();
    let before_open = store.sessions_open().await.unwrap();
    let before_live = store.session_get("s-live").await.unwrap();
    store.close().await;

    let reopened = Store::connect(url).await.unwrap();
    assert_eq!(reopened.sessions_open().await.unwrap(), before_open);
    assert_eq!(ids(&before_open), ["s-live", "s-wait", "s-next"]);
    assert_eq!(before_open[1].enqueued_at, 949);
    assert_eq!(reopened.session_get("s-live").await.unwrap(), before_live);
    assert_eq!(
        ids(&reopened.sessions_of_agent(agent).await.unwrap()),
        ["s-live"]
    );
    let undelivered = reopened
        .messages_undelivered("s-wait", Direction::In)
        .await
        .unwrap();
    assert_eq!((undelivered.len(), undelivered[0].id), (1, pending));
    assert_eq!(
        reopened
            .last_agent_of_customer("c-b@x.example")
            .await
            .unwrap()
            .as_deref(),
        Some(agent)
    );
    // Ids keep increasing across the restart.
    let next = reopened
        .message_append("s-wait", Direction::Out, agent, None, "<m/>", 1500, true)
        .await
        .unwrap();
    assert!(next > pending);
    reopened.close().await;
}

/// `sqlite::memory:` lives in its pool's one connection: the writer must
/// not take that connection away from the pool.
#[tokio::test]
async fn transcript_writer_on_an_in_memory_database() {
    let store = Store::connect("sqlite::memory:").await.unwrap();
    transcript_writer_recovers_after_a_failed_batch(&store).await;
    assert!(store.sessions_open().await.is_ok());
}

/// Every column is what the code binds and decodes it as (store::schema).
async fn schema_is_what_the_code_binds(store: &Store) {
    assert_eq!(
        store.schema_mismatches().await.unwrap(),
        Vec::<String>::new()
    );
}

/// 2026-12-01T00:00:00Z and 9999-12-31T23:59:59Z in milliseconds: real
/// times need more than 32 bits, which the other tests' small ones do not.
const TODAY_MS: i64 = 1_796_083_200_000;
const FAR_MS: i64 = 253_402_300_799_000;

/// Real timestamps through every write that takes a time, read back.
async fn real_timestamps_fit_every_time_column(store: &Store) {
    let agent = "alice@a.example";
    let s = session(store, "s-1", "juliet@capulet.example", 0, TODAY_MS).await;
    assert_eq!(
        (s.created_at, s.enqueued_at, s.updated_at),
        (TODAY_MS, TODAY_MS, TODAY_MS)
    );
    let c = store.customer_get(&s.customer_id).await.unwrap().unwrap();
    assert_eq!((c.created_at, c.last_seen), (TODAY_MS, TODAY_MS));
    let live = store
        .session_set_state("s-1", SessionState::Live, Some(agent), TODAY_MS + 1)
        .await
        .unwrap();
    assert_eq!(live.updated_at, TODAY_MS + 1);
    let one = store
        .message_append(
            "s-1",
            Direction::In,
            "j@c/r",
            Some("a"),
            "<m/>",
            TODAY_MS + 2,
            true,
        )
        .await
        .unwrap();
    let row = |i: i64, delivered| NewMessage {
        session_id: "s-1".into(),
        direction: Direction::Out,
        sender: agent.into(),
        body: Some(format!("b{i}")),
        stanza: "<m/>".into(),
        created_at: FAR_MS - 10 + i,
        delivered,
    };
    store
        .messages_append_batch(&[row(0, true), row(1, false)])
        .await
        .unwrap();
    let mut writer = store.transcript_writer();
    writer.append(&[row(2, true), row(3, false)]).await.unwrap();
    let pending: Vec<i64> = store
        .messages_undelivered("s-1", Direction::Out)
        .await
        .unwrap()
        .iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(pending.len(), 2);
    assert_eq!(
        store
            .messages_mark_delivered(&pending, FAR_MS)
            .await
            .unwrap(),
        2
    );
    let times: Vec<(i64, Option<i64>)> = store
        .transcript("s-1")
        .await
        .unwrap()
        .iter()
        .map(|m| (m.created_at, m.delivered_at))
        .collect();
    assert_eq!(
        times,
        [
            (TODAY_MS + 2, Some(TODAY_MS + 2)),
            (FAR_MS - 10, Some(FAR_MS - 10)),
            (FAR_MS - 9, Some(FAR_MS)),
            (FAR_MS - 8, Some(FAR_MS - 8)),
            (FAR_MS - 7, Some(FAR_MS)),
        ]
    );
    assert!(one > 0);
    let requeued = store
        .session_requeue("s-1", false, FAR_MS - 2)
        .await
        .unwrap();
    assert_eq!(requeued.enqueued_at, FAR_MS - 2);
    store
        .session_set_state("s-1", SessionState::Async, Some(agent), FAR_MS - 1)
        .await
        .unwrap();
    assert!(store
        .session_close("s-1", "resolved", FAR_MS)
        .await
        .unwrap());
    let closed = store.session_get("s-1").await.unwrap().unwrap();
    assert_eq!(
        (closed.closed_at, closed.updated_at),
        (Some(FAR_MS), FAR_MS)
    );
    let spans: Vec<(i64, Option<i64>, Option<i64>)> = store
        .session_assignments("s-1")
        .await
        .unwrap()
        .iter()
        .map(|a| (a.assigned_at, a.accepted_at, a.released_at))
        .collect();
    assert_eq!(
        spans,
        [
            (TODAY_MS + 1, Some(TODAY_MS + 1), Some(FAR_MS - 2)),
            (FAR_MS - 1, Some(FAR_MS - 1), Some(FAR_MS)),
        ]
    );
}

/// A batch with refused rows among good ones stores the good ones, in
/// order, and names exactly the refused ones; the writer goes on.
async fn a_refused_row_costs_only_itself(store: &Store) {
    session(store, "s-1", "juliet@capulet.example", 0, TODAY_MS).await;
    let row = |i: usize| NewMessage {
        session_id: "s-1".into(),
        direction: Direction::In,
        sender: "juliet@capulet.example/phone".into(),
        body: Some(format!("r{i}")),
        stanza: "<m/>".into(),
        created_at: TODAY_MS + i as i64,
        delivered: i % 2 == 0,
    };
    let mut rows: Vec<NewMessage> = (0..300).map(row).collect();
    // A session that does not exist breaks the foreign key.
    for bad in [0, 137, 138, 299] {
        rows[bad].session_id = "s-missing".into();
    }
    let mut writer = store.transcript_writer();
    let (ids, failed) = writer.append_isolating(&rows).await;
    let refused: Vec<usize> = failed.iter().map(|(r, _)| r.start).collect();
    let unstored: Vec<usize> = (0..300).filter(|&i| ids[i].is_none()).collect();
    assert_eq!(unstored, refused);
    assert_eq!(refused, [0, 137, 138, 299]);
    for (range, err) in &failed {
        assert_eq!(range.len(), 1);
        assert!(err.is_refused(), "{err}");
        // The database's own words reach the message.
        assert!(
            err.to_string().to_lowercase().contains("foreign key"),
            "{err}"
        );
    }
    let bodies: Vec<String> = store
        .transcript("s-1")
        .await
        .unwrap()
        .into_iter()
        .filter_map(|m| m.body)
        .collect();
    let expected: Vec<String> = (0..300)
        .filter(|i| ![0, 137, 138, 299].contains(i))
        .map(|i| format!("r{i}"))
        .collect();
    assert_eq!(bodies, expected);
    // Each stored row got its own id, in the order of the rows.
    let stored: Vec<i64> = ids.iter().flatten().copied().collect();
    let by_id: Vec<i64> = store
        .transcript("s-1")
        .await
        .unwrap()
        .iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(stored, by_id);
    assert!(writer.append_isolating(&[row(300)]).await.1.is_empty());
    assert_eq!(store.transcript("s-1").await.unwrap().len(), 297);
}

/// The schema check catches the column 0002 got wrong on PostgreSQL
/// (INTEGER, 32 bits, for milliseconds), and 0003 widens it keeping the
/// rows already there. On SQLite, INTEGER was always 64 bits.
async fn migration_0003_widens_delivered_at(backend: Backend) {
    sqlx::any::install_default_drivers();
    let db = empty_db(backend).await;
    let url = db.url.clone();
    let result = tokio::spawn(async move {
        let full = migrator(backend);
        let old = sqlx::migrate::Migrator {
            migrations: Cow::Owned(full.iter().filter(|m| m.version <= 2).cloned().collect()),
            ..sqlx::migrate::Migrator::DEFAULT
        };
        // sqlx opens a SQLite file read-write only when asked to create it.
        let create = match backend {
            Backend::Sqlite => "?mode=rwc",
            Backend::Postgres => "",
        };
        let mut conn = sqlx::AnyConnection::connect(&format!("{url}{create}"))
            .await
            .unwrap();
        old.run_direct(&mut conn).await.unwrap();
        for sql in [
            "INSERT INTO customers (id, jid, created_at, last_seen) VALUES ('c', 'c@x', 1, 1)",
            "INSERT INTO sessions (id, customer_id, entry_jid, queue, state, enqueued_at, \
             created_at, updated_at) VALUES ('s-1', 'c', 'e@x', 'q', 'live', 1, 1, 1)",
            "INSERT INTO messages (session_id, direction, sender, stanza, created_at, \
             delivered_at) VALUES ('s-1', 'in', 'c@x', '<m/>', 5, 2147483647)",
        ] {
            sqlx::query(sql).execute(&mut conn).await.unwrap();
        }
        let mut found = schema::mismatches(&mut conn, backend).await.unwrap();
        // What later migrations add is missing at version 2, as it should be.
        found
            .retain(|p| !p.ends_with("declared in store::schema::COLUMNS but not in the database"));
        match backend {
            Backend::Postgres => assert_eq!(
                found,
                ["messages.delivered_at: integer on PostgreSQL, but the code binds i64"]
            ),
            Backend::Sqlite => assert_eq!(found, Vec::<String>::new()),
        }
        conn.close().await.unwrap();

        let store = Store::connect(&url).await.unwrap();
        assert_eq!(
            store.schema_mismatches().await.unwrap(),
            Vec::<String>::new()
        );
        let kept = store.transcript("s-1").await.unwrap();
        assert_eq!(kept[0].delivered_at, Some(2_147_483_647));
        store
            .message_append("s-1", Direction::In, "c@x", None, "<m/>", TODAY_MS, true)
            .await
            .unwrap();
        assert_eq!(
            store.transcript("s-1").await.unwrap()[1].delivered_at,
            Some(TODAY_MS)
        );
        store.close().await;
    })
    .await;
    db.finish().await;
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}

#[tokio::test]
async fn sqlite_migration_0003_widens_delivered_at() {
    migration_0003_widens_delivered_at(Backend::Sqlite).await
}

#[tokio::test]
async fn postgres_migration_0003_widens_delivered_at() {
    migration_0003_widens_delivered_at(Backend::Postgres).await
}
