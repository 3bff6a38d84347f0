//! XEP-0114 components (transports for other IM networks): the handshake,
//! the domain a component may speak for, and its users reaching an agent
//! through an entry JID like any customer.

mod common;

use std::time::Duration;

use common::{Client, ClientOpts, RawConn, ServerOpts, TestServer};
use sha1::{Digest, Sha1};

const ALICE: &str = "alice@agents.support.test";
const PW: &str = "pw";
const SMS: &str = "sms.support.test";
const SECRET: &str = "s3cret-sms";
const T: Duration = Duration::from_secs(10);

fn server() -> TestServer {
    TestServer::start(
        ServerOpts::default()
            .account(ALICE, PW)
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
