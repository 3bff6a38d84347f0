//! Hostile and malformed input on raw sockets: each gets the RFC 6120
//! stream error it deserves, and the server stays up for everyone else.

mod common;

use std::time::Duration;

use common::{Client, ClientOpts, RawConn, ServerOpts, TestServer};

const ALICE: &str = "alice@agents.support.test";
const PW: &str = "pw";
const T: Duration = Duration::from_secs(10);

fn open(to: &str) -> String {
    format!(
        "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
         xmlns:stream='http://etherx.jabber.org/streams' to='{to}' version='1.0'>"
    )
}

async fn expect_stream_error(s: &TestServer, input: &[&[u8]], condition: &str) {
    let mut c = RawConn::connect(s.c2s).await;
    for part in input {
        c.send(part).await;
    }
    let got = c.read_to_close(T).await;
    assert!(
        got.contains(&format!(
            "<{condition} xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
        )),
        "expected {condition}, got: {got}"
    );
    assert!(
        got.trim_end().ends_with("</stream:stream>"),
        "stream not closed: {got}"
    );
}

#[tokio::test]
async fn each_bad_input_gets_its_stream_error() {
    let s = TestServer::start(ServerOpts {
        max_stanza_bytes: 10_000,
        ..ServerOpts::default().account(ALICE, PW)
    });
    let good = open("agents.support.test");
    let good = good.as_bytes();
    expect_stream_error(&s, &[open("elsewhere.test").as_bytes()], "host-unknown").await;
    expect_stream_error(
        &s,
        &[good, b"<message to='x@y'><body>hi</body></message>"],
        "not-authorized",
    )
    .await;
    expect_stream_error(
        &s,
        &[good, b"<message><body></message></body>"],
        "not-well-formed",
    )
    .await;
    expect_stream_error(
        &s,
        &[good, b"<message>&undefined;</message>"],
        "not-well-formed",
    )
    .await;
    expect_stream_error(&s, &[good, b"<!-- comment -->"], "restricted-xml").await;
    let big = format!("<message><body>{}</body></message>", "a".repeat(20_000));
    expect_stream_error(&s, &[good, big.as_bytes()], "policy-violation").await;
    let wrong_ns = open("agents.support.test").replace("jabber:client", "jabber:server");
    expect_stream_error(&s, &[wrong_ns.as_bytes()], "invalid-namespace").await;
    expect_stream_error(
        &s,
        &[b"<stream:stream xmlns:stream='urn:not-streams'>"],
        "invalid-namespace",
    )
    .await;
    // The server is still there for a well-behaved client.
    Client::login(&s, ALICE, PW, ClientOpts::default()).await;
}

#[tokio::test]
async fn plain_is_refused_before_tls() {
    let s = TestServer::start(ServerOpts {
        require_encryption: false,
        ..ServerOpts::default().account(ALICE, PW)
    });
    let mut c = RawConn::connect(s.c2s).await;
    c.send(open("agents.support.test").as_bytes()).await;
    let features = c.read_until("</stream:features>", T).await;
    assert!(features.contains("SCRAM-SHA-256"), "{features}");
    assert!(
        !features.contains("PLAIN"),
        "PLAIN offered in clear text: {features}"
    );
    // AGFsaWNlAHB3 = "\0alice\0pw"
    c.send(b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFsaWNlAHB3</auth>")
        .await;
    let got = c.read_until("</failure>", T).await;
    assert!(got.contains("<encryption-required/>"), "{got}");
}

#[tokio::test]
async fn sigterm_sends_system_shutdown_and_exits_cleanly() {
    let mut s = TestServer::start(ServerOpts::default().account(ALICE, PW));
    let mut agent = Client::login(&s, ALICE, PW, ClientOpts::default()).await;
    let mut raw = RawConn::connect(s.c2s).await;
    raw.send(open("agents.support.test").as_bytes()).await;
    raw.read_until("</stream:features>", T).await;
    let status = s.stop_gracefully();
    assert!(status.success(), "exit status {status}");
    let got = raw.read_to_close(T).await;
    assert!(got.contains("<system-shutdown"), "{got}");
    let e = agent.expect_event("stream_error").await;
    assert_eq!(e["condition"], "system-shutdown", "{e}");
}
