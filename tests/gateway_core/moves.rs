//! Sessions changing hands: an agent who vanishes (after the grace, or
//! back within it), and transfers to an agent or a queue.

use std::time::Duration;

use super::harness::*;

/// Routing with `agent_grace_secs = 10`.
fn grace_routing() -> String {
    routing_toml("direct", "agent_grace_secs = 10", "")
}

#[tokio::test]
async fn an_agent_who_vanishes_has_their_chats_requeued_after_the_grace() {
    let mut h = Harness::start(&agents_toml(2), &grace_routing()).await;
    h.agent_presence(ALICE_DESK, true, None).await;
    h.customer_opens(ROMEO, "hello").await;
    let proxy = h.work_item(ALICE).contact;
    h.message(ALICE_DESK, &proxy, "hi, Alice here").await;
    h.line_to(ROMEO_BARE, "hi, Alice here");
    h.agent_presence(BOB_DESK, true, None).await;
    h.agent_presence(ALICE_DESK, false, None).await;
    h.advance(Duration::from_millis(9_999)).await;
    assert!(!h.has_line_to(ROMEO_BARE, "had to leave"), "{}", h.dump());
    assert!(h.roster_sets(BOB).is_empty());
    h.advance(Duration::from_millis(1)).await;
    h.line_to(
        ROMEO_BARE,
        "Your agent had to leave. You are first in line for the next one.",
    );
    assert_eq!(h.roster_removes(ALICE), [proxy.as_str()]);
    assert_eq!(h.work_item(BOB).contact, proxy);
    // Bob sees what was said before him.
    let context = h.line_to(BOB, "Earlier in this session").body().unwrap();
    assert!(
        context.contains("alice@agents.support.test: hi, Alice here"),
        "{context}"
    );
    h.line_to(ROMEO_BARE, "You are now chatting with Bob");
}

#[tokio::test]
async fn an_agent_back_within_the_grace_keeps_their_chats() {
    let mut h = Harness::start(&agents_toml(2), &grace_routing()).await;
    h.agents_online().await;
    h.customer_opens(ROMEO, "hello").await;
    let proxy = h.work_item(ALICE).contact;
    h.agent_presence(ALICE_DESK, false, None).await;
    h.advance(Duration::from_secs(5)).await;
    // Held in the transcript while she is away, delivered on her return.
    h.message(ROMEO, HELP, "still there?").await;
    assert!(!h.has_line_to(ALICE, "still there?"));
    h.agent_presence(ALICE_DESK, true, None).await;
    let held = h.line_to(ALICE, "still there?");
    assert_eq!(held.from().map(bare), Some(proxy.as_str()));
    h.advance(Duration::from_secs(10)).await;
    assert!(!h.has_line_to(ROMEO_BARE, "had to leave"), "{}", h.dump());
    assert!(h.roster_sets(BOB).is_empty() && h.roster_removes(ALICE).is_empty());
    let rec = h.stored_session(ROMEO_BARE).await.unwrap();
    assert_eq!(
        (rec.state.as_str(), rec.agent.as_deref()),
        ("live", Some(ALICE))
    );
}

#[tokio::test]
async fn transfer_to_another_agent_carries_the_context() {
    let mut h = Harness::start(&agents_toml(2), &routing_toml("direct", "", "")).await;
    h.agent_presence(ALICE_DESK, true, None).await;
    h.customer_opens(ROMEO, "billing question").await;
    let proxy = h.work_item(ALICE).contact;
    h.line_to(ALICE, "billing question");
    h.message(ALICE_DESK, &proxy, "/transfer Zed").await;
    h.line_to(ALICE, "No agent or queue called Zed.");
    h.agent_presence(BOB_DESK, true, None).await;
    h.message(ALICE_DESK, &proxy, "/transfer Bob").await;
    let item = h.work_item(BOB);
    assert_eq!(
        (item.contact.as_str(), item.groups[0].as_str()),
        (proxy.as_str(), "Live")
    );
    let context = h.line_to(BOB, "Earlier in this session");
    assert_eq!(context.from(), Some(proxy.as_str()));
    assert!(context
        .body()
        .unwrap()
        .contains("customer: billing question"));
    assert_eq!(h.roster_removes(ALICE), [proxy.as_str()]);
    h.line_to(ALICE, "This session was transferred to Bob.");
    h.line_to(ALICE, "transferred.");
    h.line_to(ROMEO_BARE, "You are now chatting with Bob");
    h.message(BOB_DESK, &proxy, "Bob from billing").await;
    assert_eq!(h.line_to(ROMEO_BARE, "Bob from billing").from(), Some(HELP));
    // The session is not Alice's any more.
    h.message(ALICE_DESK, &proxy, "me again").await;
    assert_eq!(h.error_to(ALICE_DESK).0, "forbidden");
}

#[tokio::test]
async fn transfer_to_a_queue_puts_the_session_first_in_its_line() {
    let vip = format!(
        "\n[[queue]]\nname = \"vip\"\nentry = [\"vip@support.test\"]\nagents = [\"{BOB}\"]\n"
    );
    let mut h = Harness::start(&agents_toml(2), &routing_toml("direct", "", &vip)).await;
    h.agents_online().await;
    h.customer_opens(ROMEO, "I am a VIP").await;
    let proxy = h.work_item(ALICE).contact;
    h.message(ALICE_DESK, &proxy, "/transfer vip").await;
    h.line_to(ALICE, "Transferred to queue vip.");
    assert_eq!(h.roster_removes(ALICE), [proxy.as_str()]);
    h.line_to(ROMEO_BARE, "You are being transferred; one moment please.");
    assert_eq!(h.work_item(BOB).contact, proxy);
    let info = h.line_to(BOB, "romeo@customer.test").body().unwrap();
    assert!(info.contains("queue vip"), "{info}");
    h.line_to(ROMEO_BARE, "You are now chatting with Bob");
    assert_eq!(h.stored_session(ROMEO_BARE).await.unwrap().queue, "vip");
}
