//! The gateway's decisions, in-process (see `gateway_core/harness.rs`):
//! the same scenarios as the end-to-end suite in `gateway.rs`, whose real
//! peers prove the wiring, here with exact time and no external process.

#[path = "gateway_core/access.rs"]
mod access;
#[path = "gateway_core/assigning.rs"]
mod assigning;
#[path = "gateway_core/callbacks.rs"]
mod callbacks;
#[path = "gateway_core/clients.rs"]
mod clients;
#[path = "gateway_core/dialogs.rs"]
mod dialogs;
#[path = "gateway_core/harness.rs"]
mod harness;
#[path = "gateway_core/language.rs"]
mod language;
#[path = "gateway_core/lifetime.rs"]
mod lifetime;
#[path = "gateway_core/links.rs"]
mod links;
#[path = "gateway_core/moves.rs"]
mod moves;
#[path = "gateway_core/push.rs"]
mod push;
#[path = "gateway_core/routing.rs"]
mod routing;
#[path = "gateway_core/selfservice.rs"]
mod selfservice;
#[path = "gateway_core/supervision.rs"]
mod supervision;
#[path = "gateway_core/upload.rs"]
mod upload;
#[path = "gateway_core/waiting.rs"]
mod waiting;

use std::time::Duration;

use harness::*;

#[tokio::test]
async fn first_contact_is_offered_taken_and_bridged_both_ways() {
    let mut h = Harness::start(&agents_toml(3), &routing_toml("offer", "", "")).await;
    h.agents_online().await;
    h.customer_opens(ROMEO, "my invoice is wrong").await;
    let offer = h.line_to(ALICE, "New chat from romeo@customer.test");
    let proxy = offer.from().unwrap().to_string();
    h.message(&format!("{ALICE}/desk"), &proxy, "/take").await;
    h.line_to(ALICE, "is yours");
    h.line_to("romeo@customer.test", "You are now chatting with Alice");
    // What the customer wrote while waiting reaches the agent, stamped.
    let first = h.line_to(ALICE, "my invoice is wrong");
    assert!(String::from_utf8_lossy(first.bytes()).contains("urn:xmpp:delay"));
    h.message(&format!("{ALICE}/desk"), &proxy, "let me look")
        .await;
    let reply = h.line_to("romeo@customer.test", "let me look");
    assert_eq!(reply.from(), Some(HELP));
    h.message(ROMEO, HELP, "thanks").await;
    let relayed = h.line_to(ALICE, "thanks");
    assert_eq!(relayed.from(), Some(proxy.as_str()));
}

#[tokio::test]
async fn an_unanswered_offer_lapses_and_goes_to_the_next_agent() {
    let mut h = Harness::start(&agents_toml(3), &routing_toml("offer", "", "")).await;
    h.agents_online().await;
    h.customer_opens(ROMEO, "hello").await;
    // Longest idle first: both came online at the same instant, Alice first.
    h.line_to(ALICE, "New chat from");
    assert!(!h.has_line_to(BOB, "New chat from"));
    h.advance(Duration::from_millis(4_999)).await;
    assert!(!h.has_line_to(ALICE, "lapsed"), "{}", h.dump());
    h.advance(Duration::from_millis(1)).await;
    h.line_to(ALICE, "The offer lapsed");
    h.line_to(BOB, "New chat from romeo@customer.test");
}
