//! Several devices of one agent: bind conflicts, carbons, and stream
//! management resumption with nothing lost.

mod common;

use common::{Client, ClientOpts, ServerOpts, TestServer};
use serde_json::json;

const ALICE: &str = "alice@agents.support.test";
const BOB: &str = "bob@agents.support.test";
const PW: &str = "pw";

fn server() -> TestServer {
    TestServer::start(ServerOpts::default().account(ALICE, PW).account(BOB, PW))
}

#[tokio::test]
async fn a_conflicting_bind_replaces_the_old_session() {
    let s = server();
    let mut first = Client::login(&s, ALICE, PW, ClientOpts::default().resource("phone")).await;
    let mut second = Client::login(&s, ALICE, PW, ClientOpts::default().resource("phone")).await;
    let e = first.expect_event("stream_error").await;
    assert_eq!(e["condition"], "conflict", "{e}");
    let mut bob = Client::login(&s, BOB, PW, ClientOpts::default()).await;
    bob.message(&format!("{ALICE}/phone"), "to the new one")
        .await;
    second.expect_message(BOB, "to the new one").await;
}

#[tokio::test]
async fn resumption_after_a_dropped_connection_loses_nothing() {
    let s = server();
    let mut alice = Client::login(&s, ALICE, PW, ClientOpts::default()).await;
    let mut bob = Client::login(&s, BOB, PW, ClientOpts::default()).await;
    alice.request_ok(json!({"cmd": "drop_tcp"})).await;
    for i in 0..5 {
        bob.message(ALICE, &format!("during the gap {i}")).await;
    }
    let resumed = alice
        .expect_what(
            "sm resumed",
            |e| e["event"] == "sm" && e["state"] == "resumed",
            common::TIMEOUT,
        )
        .await;
    let _ = resumed;
    for i in 0..5 {
        alice
            .expect_message(BOB, &format!("during the gap {i}"))
            .await;
    }
}
