//! Several devices of one agent: bind conflicts, carbons, and stream
//! management resumption with nothing lost.

mod common;

use common::{Client, ClientOpts, Proxy, ServerOpts, TestServer};
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

/// A resumed session keeps reading after the time limit of the
/// negotiation that resumed it (it used to stop there: the reader ran
/// inside that limit).
#[tokio::test]
async fn a_resumed_session_outlives_the_negotiation_time_limit() {
    let s = TestServer::start(
        ServerOpts::default()
            .account(ALICE, PW)
            .account(BOB, PW)
            .c2s_toml("negotiation_timeout_secs = 2"),
    );
    let mut alice = Client::login(&s, ALICE, PW, ClientOpts::default()).await;
    let mut bob = Client::login(&s, BOB, PW, ClientOpts::default()).await;
    alice.request_ok(json!({"cmd": "drop_tcp"})).await;
    alice
        .expect_what(
            "sm resumed",
            |e| e["event"] == "sm" && e["state"] == "resumed",
            common::TIMEOUT,
        )
        .await;
    // Nothing to wait for but the clock: the limit (2 s, plus the second
    // of grace a stalled TLS handshake gets) must be behind us.
    tokio::time::sleep(std::time::Duration::from_millis(3500)).await;
    alice.message(BOB, "still reading").await;
    bob.expect_message(ALICE, "still reading").await;
    bob.message(ALICE, "and writing").await;
    alice.expect_message(BOB, "and writing").await;
}

#[tokio::test]
async fn carbons_copy_each_chat_to_the_other_device() {
    let s = server();
    let mut desk = Client::login(
        &s,
        ALICE,
        PW,
        ClientOpts::default().resource("desk").carbons(),
    )
    .await;
    let mut phone = Client::login(
        &s,
        ALICE,
        PW,
        ClientOpts::default().resource("phone").carbons(),
    )
    .await;
    let mut bob = Client::login(&s, BOB, PW, ClientOpts::default()).await;

    bob.message(&format!("{ALICE}/desk"), "for the desk").await;
    let m = desk.expect_message(BOB, "for the desk").await;
    assert!(
        m["carbon"].is_null(),
        "the addressee gets the original: {m}"
    );
    let c = phone.expect_message(BOB, "for the desk").await;
    assert_eq!(c["carbon"], "received", "{c}");
    assert_eq!(c["to"], format!("{ALICE}/desk"), "{c}");

    desk.message(BOB, "from the desk").await;
    bob.expect_message(ALICE, "from the desk").await;
    let c = phone.expect_message(ALICE, "from the desk").await;
    assert_eq!(c["carbon"], "sent", "{c}");
    assert_eq!(c["to"], BOB, "{c}");
}

/// A client whose network goes silent (no reset, no FIN) is pinged when
/// idle, then dropped; its contacts see it leave.
#[tokio::test]
async fn a_silent_client_is_pinged_then_timed_out() {
    let s = TestServer::start(
        ServerOpts::default()
            .account(ALICE, PW)
            .account(BOB, PW)
            .c2s_toml("idle_timeout_secs = 1")
            .c2s_toml("ping_timeout_secs = 1")
            .c2s_toml("resume_timeout_secs = 1"),
    );
    let mut bob = Client::login(&s, BOB, PW, ClientOpts::default()).await;
    let path = Proxy::start(s.c2s).await;
    let mut alice = Client::connect_to(
        path.addr,
        Some(&s.ca_file),
        ALICE,
        PW,
        ClientOpts::default(),
    );
    alice.wait_session_start().await;
    // Mutual subscription, so bob sees alice's presence come and go.
    alice
        .request_ok(json!({"cmd": "subscribe", "to": BOB}))
        .await;
    bob.expect_presence(ALICE, "subscribe").await;
    bob.request_ok(json!({"cmd": "subscribed", "to": ALICE}))
        .await;
    bob.request_ok(json!({"cmd": "subscribe", "to": ALICE}))
        .await;
    alice.expect_presence(BOB, "subscribe").await;
    alice
        .request_ok(json!({"cmd": "subscribed", "to": BOB}))
        .await;
    bob.expect_presence(ALICE, "available").await;
    path.freeze();
    bob.expect_presence(ALICE, "unavailable").await;
    let log = s.log();
    assert!(log.contains("connection-timeout"), "no timeout in the log");
}
