//! How long sessions live: over a restart, and until they fall idle.

use std::time::Duration;

use super::harness::*;

#[tokio::test]
async fn a_restart_keeps_live_sessions_and_offers_again_what_was_offered() {
    let (agents, routing) = (agents_toml(3), routing_toml("offer", "", ""));
    let mut h = Harness::start(&agents, &routing).await;
    h.agents_online().await;
    h.customer_opens(ROMEO, "hello").await;
    let romeo = h
        .line_to(ALICE, "New chat from romeo@customer.test")
        .from()
        .map(bare)
        .unwrap()
        .to_string();
    h.message(ALICE_DESK, &romeo, "/take").await;
    h.line_to(ROMEO_BARE, "You are now chatting with Alice");
    // Alice just got a chat: Bob has been idle longer and gets the offer.
    h.customer_opens(JULIET, "before the restart").await;
    h.line_to(BOB, "New chat from juliet@customer.test");

    let mut h = h.restart(&agents, &routing).await;
    let live = h.stored_session(ROMEO_BARE).await.unwrap();
    assert_eq!(
        (live.id.as_str(), live.state.as_str(), live.agent.as_deref()),
        (bare_id(&romeo), "live", Some(ALICE))
    );
    let offered = h.stored_session(JULIET_BARE).await.unwrap();
    assert_eq!(
        (offered.state.as_str(), offered.agent),
        ("waiting", None),
        "the offer went with the process"
    );
    // Juliet writes again before the agents are back: the same session,
    // first in line, and offered again once they are. (Were the agents
    // back first, it would go to one of them as async work, unoffered: a
    // restart forgets which customers are online.)
    h.message(JULIET, HELP, "after the restart").await;
    h.line_to(
        JULIET_BARE,
        "Nobody who can help with this is on duty right now",
    );
    assert_eq!(h.stored_session(JULIET_BARE).await.unwrap().id, offered.id);
    h.agents_online().await;
    let offer = h.line_to(ALICE, "New chat from juliet@customer.test");
    let juliet = offer.from().map(bare).unwrap().to_string();
    assert_eq!(bare_id(&juliet), offered.id);
    h.message(ALICE_DESK, &juliet, "/take").await;
    h.line_to(ALICE, "before the restart");
    h.line_to(ALICE, "after the restart");
    // The live session still bridges both ways.
    h.message(ALICE_DESK, &romeo, "still here").await;
    assert_eq!(h.line_to(ROMEO_BARE, "still here").from(), Some(HELP));
    h.message(ROMEO, HELP, "good").await;
    assert_eq!(
        h.line_to(ALICE, "good").from().map(bare),
        Some(romeo.as_str())
    );
}

/// `s-xxx` of `s-xxx@support.test`.
fn bare_id(proxy: &str) -> &str {
    proxy.split('@').next().unwrap()
}

#[tokio::test]
async fn an_idle_session_closes_and_the_next_message_opens_another() {
    // Idle after 8 s; the sweep looks every 2 s.
    let mut h = Harness::start(
        &agents_toml(2),
        &routing_toml("direct", "session_idle_secs = 8", ""),
    )
    .await;
    h.agent_presence(ALICE_DESK, true, None).await;
    h.customer_opens(ROMEO, "quick question").await; // 3 s
    let proxy = h.work_item(ALICE).contact;
    h.advance(Duration::from_secs(3)).await; // 6 s
    h.message(ROMEO, HELP, "still there?").await;
    h.advance(Duration::from_secs(8)).await; // 14 s: 8 s of silence
    assert!(
        !h.has_line_to(ROMEO_BARE, "This chat is closed"),
        "{}",
        h.dump()
    );
    h.advance(Duration::from_secs(2)).await; // 16 s: the next sweep
    h.line_to(ROMEO_BARE, "This chat is closed. Write again any time.");
    assert_eq!(h.roster_removes(ALICE), [proxy.as_str()]);
    assert!(h.stored_session(ROMEO_BARE).await.is_none());
    // A new message opens a new session.
    h.customer_opens(ROMEO, "another one").await;
    let item = h.work_item(ALICE);
    assert_ne!(item.contact, proxy);
    h.line_to(ALICE, "another one");
}

/// A customer's message is stored undelivered and marked delivered only
/// when the agent's client has it: one relayed whose acknowledgement the
/// process did not live to see is relayed again once the agent is back,
/// stamped with when the customer wrote it and under its own id (a client
/// that did get it shows it once); one acknowledged is not.
#[tokio::test]
async fn what_the_agent_never_acknowledged_is_relayed_again_after_a_restart() {
    let (agents, routing) = (agents_toml(2), routing_toml("direct", "", ""));
    let mut h = Harness::start(&agents, &routing).await;
    h.agent_presence(ALICE_DESK, true, None).await;
    h.customer_opens(ROMEO, "hello").await;
    h.line_to(ALICE, "hello");
    h.message(ROMEO, HELP, "seen before the crash").await;
    h.line_to(ALICE, "seen before the crash");
    h.advance(Duration::from_secs(1)).await;
    h.acknowledgements_lost();
    h.message(ROMEO, HELP, "in flight at the crash").await;
    let first = h.line_to(ALICE, "in flight at the crash");

    let mut h = h.restart(&agents, &routing).await;
    h.agent_presence(ALICE_DESK, true, None).await;
    let again = h.line_to(ALICE, "in flight at the crash");
    assert_eq!((again.id(), again.from()), (first.id(), first.from()));
    assert!(
        String::from_utf8_lossy(again.bytes()).contains("urn:xmpp:delay"),
        "{again:?}"
    );
    for seen in ["hello", "seen before the crash"] {
        assert!(!h.has_line_to(ALICE, seen), "{seen}: {}", h.dump());
    }
}

/// A customer's server that sends again, after our restart, what we had
/// stored but did not live to acknowledge (`mod_smacks` with
/// `smacks_s2s_resend`): the agent gets it once, the transcript holds it
/// once. Only the same message counts (sender, id and body), and only
/// shortly after the start: later, a client that reuses ids is writing a
/// new line.
#[tokio::test]
async fn a_message_sent_again_after_a_restart_is_stored_and_relayed_once() {
    let (agents, routing) = (agents_toml(2), routing_toml("direct", "", ""));
    let mut h = Harness::start(&agents, &routing).await;
    h.agent_presence(ALICE_DESK, true, None).await;
    h.customer_opens(ROMEO, "hello").await;
    let line = |id: &str, body: &str| {
        format!(
            "<message type='chat' from='{ROMEO}' to='{HELP}' id='{id}'><body>{body}</body></message>"
        )
    };
    h.stanza(&line("r1", "stored before the crash")).await;
    h.line_to(ALICE, "stored before the crash");

    let mut h = h.restart(&agents, &routing).await;
    h.agent_presence(ALICE_DESK, true, None).await;
    h.stanza(&line("r1", "stored before the crash")).await;
    h.stanza(&line("r1", "same id, other words")).await;
    h.stanza(&line("r2", "stored before the crash")).await;
    let relayed: Vec<String> = h
        .messages_to(ALICE)
        .into_iter()
        .map(|(_, b)| b)
        .filter(|b| !b.starts_with("Welcome"))
        .collect();
    assert_eq!(relayed, ["same id, other words", "stored before the crash"]);
    h.advance(Duration::from_secs(121)).await;
    h.stanza(&line("r1", "stored before the crash")).await;
    h.line_to(ALICE, "stored before the crash");
    let id = h.stored_session(ROMEO_BARE).await.unwrap().id;
    let stored = h.store.transcript(&id).await.unwrap();
    let copies = stored
        .iter()
        .filter(|m| m.body.as_deref() == Some("stored before the crash"))
        .count();
    assert_eq!(copies, 3, "r1 before, r2, and r1 long after");
}
