//! A callback end to end, on both stores: a slixmpp customer on a real
//! Prosody is told a wait (the only agent is away), books a callback with Alice a few
//! seconds ahead in the chat and is told the time with its zone; Alice, a
//! slixmpp agent on Switchboard, gets the session at the lead time with
//! the chat it was booked in; at the time the chat opens to the customer
//! from the entry JID with Alice's name, and her answer reaches Alice.

mod center;
mod common;

use center::*;
use common::{on_both_stores, Db, ServerOpts};
use serde_json::json;

const STAFF: &str = "[[agent]]\njid = \"alice@agents.support.test\"\nname = \"Alice\"\n\
     protocols = [\"xmpp\"]\nmax_live = 2\n";

/// The agent gets the session 6 s before the time.
const QUEUES: &str = "[defaults]\nassign = \"direct\"\n\n\
     [[queue]]\nname = \"general\"\nentry = [\"help@support.test\"]\n\n\
     [callbacks]\nlead_secs = 6\noffer_wait_above_mins = 1\ntimezone = \"Europe/Paris\"\n";

on_both_stores!(a_callback_booked_in_the_chat_is_made_by_the_agent_at_the_time);

async fn a_callback_booked_in_the_chat_is_made_by_the_agent_at_the_time(db: Db) {
    let c = center_from(db, ServerOpts::default(), STAFF, QUEUES, true);
    // Alice is logged in but away: she takes no live chat, so Juliet waits
    // (and nothing of the timing below hangs on a login).
    let mut alice = agent(&c, ALICE).await;
    alice
        .request_ok(json!({"cmd": "presence", "show": "away"}))
        .await;
    let mut juliet = customer(&c, JULIET).await;
    juliet.message(HELP, "Hello, my parcel never came").await;
    line_containing(&mut juliet, "Rather be written to later").await;
    juliet
        .message(HELP, "callback with Alice in 12 seconds")
        .await;
    let booked = line_containing(&mut juliet, "Booked: Alice will write to you here on").await;
    assert!(body(&booked).contains("(Europe/Paris)"), "{booked}");

    // Back at her desk before the lead time.
    alice.request_ok(json!({"cmd": "presence"})).await;
    let given = line_containing(&mut alice, "booked by juliet@customer.test").await;
    let proxy = given["from"]
        .as_str()
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    assert!(
        body(&given).contains("Hello, my parcel never came"),
        "{given}"
    );
    // Nothing reaches Juliet before the time.
    assert!(
        !juliet
            .seen()
            .iter()
            .any(|e| body(e).contains("this is Alice")),
        "too early"
    );
    let opening = juliet
        .expect_message(
            HELP,
            "Hello, this is Alice, writing to you as booked. What can I do for you?",
        )
        .await;
    let xml = opening["xml"].as_str().unwrap();
    assert!(
        xml.contains(">Alice</nick>"),
        "the agent's name as the nick: {xml}"
    );
    juliet.message(HELP, "thanks, it is about the parcel").await;
    let relayed = line_containing(&mut alice, "thanks, it is about the parcel").await;
    assert_eq!(
        relayed["from"].as_str().unwrap().split('/').next(),
        Some(proxy.as_str())
    );
    alice.message(&proxy, "I am on it").await;
    juliet.expect_message(HELP, "I am on it").await;
}
