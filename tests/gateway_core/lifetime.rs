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
