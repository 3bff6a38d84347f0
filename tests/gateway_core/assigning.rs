//! Who gets a session: limits, async work turning live, the agent a
//! customer spoke with last, and duty.

use std::time::Duration;

use super::harness::*;

#[tokio::test]
async fn at_max_live_the_next_customer_overflows_to_a_second_agent() {
    let mut h = Harness::start(&agents_toml(1), &routing_toml("direct", "", "")).await;
    h.agent_presence(ALICE_DESK, true, None).await;
    h.customer_opens(ROMEO, "first").await;
    assert_eq!(h.work_item(ALICE).groups, ["Live"]);
    // Bob comes on duty after Alice's assignment: Alice has been idle the
    // longest, and only her limit sends Juliet to Bob.
    h.advance(Duration::from_secs(1)).await;
    h.agent_presence(BOB_DESK, true, None).await;
    h.customer_opens(JULIET, "second").await;
    let item = h.work_item(BOB);
    assert_eq!(item.groups, ["Live"]);
    assert_eq!(item.name.as_deref(), Some("juliet · customer.test"));
    h.line_to(BOB, "second");
    h.line_to(JULIET_BARE, "You are now chatting with Bob");
    assert!(h.roster_sets(ALICE).is_empty(), "{}", h.dump());
}

#[tokio::test]
async fn an_async_session_going_live_overflows_to_a_second_agent_at_max_live() {
    let mut h = Harness::start(&agents_toml(1), &routing_toml("direct", "", "")).await;
    h.agent_presence(ALICE_DESK, true, Some("away")).await;
    h.customer_opens(JULIET, "no rush: my address changed")
        .await;
    let item = h.work_item(ALICE);
    assert_eq!(item.groups, ["Async"], "away agents take async work");
    let proxy = item.contact;
    h.line_to(ALICE, "no rush: my address changed");
    h.message(ALICE_DESK, &proxy, "/note customer moved to Lyon")
        .await;
    h.line_to(ALICE, "Noted.");
    // Alice is back and takes a live chat: she is at max_live = 1.
    h.agent_presence(ALICE_DESK, true, None).await;
    h.customer_opens(ROMEO, "urgent!").await;
    assert_eq!(h.work_item(ALICE).groups, ["Live"]);
    h.agent_presence(BOB_DESK, true, None).await;
    // Juliet is back and wants to talk now: Bob gets it, with the context.
    h.message(JULIET, HELP, "are you there?").await;
    let item = h.work_item(BOB);
    assert_eq!(item.contact, proxy, "the same session");
    assert_eq!(item.groups, ["Live"]);
    let context = h.line_to(BOB, "Earlier in this session").body().unwrap();
    assert!(
        context.contains("my address changed")
            && context.contains("note by alice@agents.support.test: customer moved to Lyon"),
        "{context}"
    );
    h.line_to(BOB, "are you there?");
    assert_eq!(h.roster_removes(ALICE), [proxy.as_str()]);
    h.line_to(ALICE, "This session went live with Bob.");
    h.line_to(JULIET_BARE, "You are now chatting with Bob");
    let rec = h.stored_session(JULIET_BARE).await.unwrap();
    assert_eq!(
        (rec.state.as_str(), rec.agent.as_deref()),
        ("live", Some(BOB))
    );
}

#[tokio::test]
async fn a_returning_customer_goes_back_to_their_last_agent() {
    let mut h = Harness::start(&agents_toml(2), &routing_toml("direct", "", "")).await;
    // Alice is on duty first but away: she has been idle the longest.
    h.agent_presence(ALICE_DESK, true, Some("away")).await;
    h.advance(Duration::from_secs(1)).await;
    h.agent_presence(BOB_DESK, true, None).await;
    h.customer_opens(JULIET, "first visit").await;
    let first = h.work_item(BOB).contact;
    h.message(BOB_DESK, &first, "/close").await;
    h.line_to(JULIET_BARE, "This chat is closed");
    // Alice is available now and idle longest, but Juliet spoke with Bob.
    h.agent_presence(ALICE_DESK, true, None).await;
    h.customer_opens(JULIET, "second visit").await;
    let second = h.work_item(BOB).contact;
    assert_ne!(second, first, "a new session");
    h.line_to(BOB, "second visit");
    h.line_to(JULIET_BARE, "You are now chatting with Bob");
    assert!(h.roster_sets(ALICE).is_empty(), "{}", h.dump());
    // Anyone else goes to Alice, idle the longest.
    h.customer_opens(ROMEO, "hello").await;
    h.work_item(ALICE);
}

#[tokio::test]
async fn off_duty_agents_get_no_new_sessions_until_back_on() {
    let mut h = Harness::start(&agents_toml(2), &routing_toml("direct", "", "")).await;
    h.agents_online().await;
    h.control(ALICE_DESK, "/off").await;
    h.line_to(ALICE_DESK, "You are off duty: no new sessions.");
    // Alice would win the tie of equal idle times (by JID): Bob gets it.
    h.customer_opens(ROMEO, "hi").await;
    h.work_item(BOB);
    h.control(BOB_DESK, "/off").await;
    h.customer_opens(JULIET, "hello?").await;
    h.line_to(
        JULIET_BARE,
        "Nobody who can help with this is on duty right now",
    );
    assert!(h.roster_sets(ALICE).is_empty() && h.roster_sets(BOB).is_empty());
    // Back on duty: the waiting customer is hers at once.
    h.control(ALICE_DESK, "/on").await;
    h.line_to(ALICE_DESK, "You are on duty.");
    assert_eq!(
        h.work_item(ALICE).name.as_deref(),
        Some("juliet · customer.test")
    );
    h.line_to(JULIET_BARE, "You are now chatting with Alice");
}
