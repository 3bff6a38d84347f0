//! XEP-0114 components (transports for other IM networks): the handshake,
//! the domain a component may speak for, and its users reaching an agent
//! through an entry JID like any customer.

mod common;

use std::time::Duration;

use common::{Client, ClientOpts, RawConn, ServerOpts, TestServer};
use serde_json::json;
use sha1::{Digest, Sha1};

const ALICE: &str = "alice@agents.support.test";
const PW: &str = "pw";
const SMS: &str = "sms.support.test";
const SECRET: &str = "s3cret-sms";
const T: Duration = Duration::from_secs(10);

fn server() -> TestServer {
    server_with(ServerOpts::default())
}

fn server_with(opts: ServerOpts) -> TestServer {
    TestServer::start(
        opts.account(ALICE, PW)
            .agents_toml(&format!(
                "[[agent]]\njid = \"{ALICE}\"\nname = \"Alice\"\nprotocols = [\"xmpp\", \"sms\"]\nmax_live = 2\n"
            ))
            .routing_toml(
                "[defaults]\nassign = \"direct\"\n\n[[queue]]\nname = \"general\"\n\
                 entry = [\"help@support.test\"]\nstrategy = \"longest-idle\"\n",
            )
            .extra_toml(&format!(
                "[component]\nlisten = [\"127.0.0.1:0\"]\n\n[[component.accept]]\ndomain = \"{SMS}\"\nsecret = \"{SECRET}\"\n"
            )),
    )
}

/// Opens a component stream and answers the handshake with `secret`;
/// returns the connection and what the server said after it.
async fn connect(s: &TestServer, secret: &str) -> (RawConn, String) {
    let mut c = RawConn::connect(s.addr("component")).await;
    c.send(
        format!(
            "<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' \
             xmlns:stream='http://etherx.jabber.org/streams' to='{SMS}'>"
        )
        .as_bytes(),
    )
    .await;
    let header = c.read_until(">", T).await;
    let id = header
        .split("id='")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .expect("stream id")
        .to_string();
    let digest: String = Sha1::digest(format!("{id}{secret}").as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    c.send(format!("<handshake>{digest}</handshake>").as_bytes())
        .await;
    let answer = if secret == SECRET {
        c.read_until("<handshake/>", T).await
    } else {
        c.read_to_close(T).await
    };
    (c, answer)
}

#[tokio::test]
async fn a_wrong_secret_is_not_authorized() {
    let s = server();
    let (c, answer) = connect(&s, "guess").await;
    assert!(answer.contains("<not-authorized"), "{answer}");
    assert!(c.is_closed());
}

#[tokio::test]
async fn a_transports_user_reaches_an_agent_and_back() {
    let s = server();
    let mut alice = Client::login(&s, ALICE, PW, ClientOpts::default()).await;
    let (mut sms, _) = connect(&s, SECRET).await;
    sms.send(
        b"<message from='+15551234@sms.support.test' to='help@support.test' type='chat'>\
          <body>my parcel is late</body></message>",
    )
    .await;
    let m = alice
        .expect_what(
            "the SMS customer's message",
            |e| e["event"] == "message" && e["body"] == "my parcel is late",
            T,
        )
        .await;
    let proxy = m["from"].as_str().unwrap().to_string();
    alice.message(&proxy, "Tracking it now").await;
    let got = sms.read_until("Tracking it now", T).await;
    assert!(got.contains("+15551234@sms.support.test"), "{got}");
    assert!(got.contains("help@support.test"), "{got}");
}

#[tokio::test]
async fn a_component_speaks_only_for_its_domain_and_is_missed_when_away() {
    let s = server();
    let mut alice = Client::login(&s, ALICE, PW, ClientOpts::default()).await;
    // Not connected: service-unavailable.
    alice.message("+1555@sms.support.test", "hello?").await;
    let e = alice
        .expect_what(
            "an error",
            |e| e["event"] == "message" && e["type"] == "error",
            T,
        )
        .await;
    assert_eq!(e["condition"], "service-unavailable", "{e}");
    let (mut sms, _) = connect(&s, SECRET).await;
    sms.send(
        b"<message from='ceo@bank.test' to='alice@agents.support.test'><body>x</body></message>",
    )
    .await;
    let got = sms.read_to_close(T).await;
    assert!(got.contains("<invalid-from"), "{got}");
}

/// A component that stops reading is cut off once a write to it has made
/// no progress for `send_timeout_secs`: its connection closes, and each
/// stanza for it went into its socket or comes back to its sender as an
/// error, none dropped.
#[tokio::test]
async fn a_component_that_stops_reading_is_cut_off_and_nothing_is_dropped() {
    let s = server_with(ServerOpts::default().limits_toml(
        "connections_per_address = 0\nnew_connections_per_second = 0\n\
         c2s_bytes_per_second = 0\nsend_timeout_secs = 1\n",
    ));
    let mut alice = Client::login(&s, ALICE, PW, ClientOpts::default()).await;
    let (mut sms, _) = connect(&s, SECRET).await;
    // 24 MB, more than the socket buffers hold, to a component that reads
    // nothing.
    let n = 6_000;
    alice.send(
        json!({"cmd": "burst", "to": "+1555@sms.support.test", "count": n,
        "rate": 5000, "prefix": "m", "pad": 4000, "tag": "burst"}),
    );
    let sent = alice
        .expect(|e| e["tag"] == "burst", Duration::from_secs(60))
        .await;
    assert_eq!(sent["event"], "ok", "{sent}");
    alice
        .expect_what(
            "the first message back",
            |e| e["event"] == "message" && e["type"] == "error",
            Duration::from_secs(30),
        )
        .await;
    let got = sms.read_to_close(Duration::from_secs(30)).await;
    assert!(sms.is_closed());
    let mut received = std::collections::HashSet::new();
    for part in got.split("id=").skip(1) {
        let id = part.trim_start_matches(['"', '\'']);
        let end = id.find(['"', '\'']).unwrap_or(id.len());
        received.insert(id[..end].to_string());
    }
    // Every message: in what the component's socket held, or back.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let (told, missing) = loop {
        alice
            .expect_none(|_| false, Duration::from_millis(200))
            .await;
        let mut told = std::collections::HashSet::new();
        for e in alice.seen() {
            if e["event"] == "message" && e["type"] == "error" {
                assert_eq!(e["condition"], "service-unavailable", "{e}");
                told.insert(e["id"].as_str().unwrap_or_default().to_string());
            }
        }
        let missing: Vec<String> = (0..n)
            .map(|k| format!("m-{k}"))
            .filter(|id| !told.contains(id) && !received.contains(id))
            .collect();
        if missing.is_empty() || std::time::Instant::now() > deadline {
            break (told, missing);
        }
    };
    eprintln!(
        "stalled component: {} of {n} in its socket, {} told back, {} dropped",
        received.len(),
        told.len(),
        missing.len()
    );
    assert!(
        missing.is_empty(),
        "dropped: {:?}",
        &missing[..missing.len().min(10)]
    );
    assert!(!told.is_empty() && !received.is_empty());
}
