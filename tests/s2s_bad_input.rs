//! Hostile peers on the s2s port, over raw sockets: each gets the RFC 6120
//! stream error it deserves. The spoofing test plays a whole server: it
//! authenticates `spoof.test` with dialback (answering Switchboard's
//! `db:verify` from a fake authoritative server), then sends a stanza from
//! another domain on the authenticated stream.

mod common;

use std::time::Duration;

use common::{Client, ClientOpts, RawConn, ServerOpts, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ALICE: &str = "alice@agents.support.test";
const BOB: &str = "bob@agents.support.test";
const PW: &str = "pw";
const T: Duration = Duration::from_secs(10);

fn open(from: &str, to: &str, ns: &str) -> String {
    format!(
        "<?xml version='1.0'?><stream:stream xmlns='{ns}' \
         xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' \
         from='{from}' to='{to}' version='1.0'>"
    )
}

async fn expect_stream_error(c: &mut RawConn, condition: &str) -> String {
    let got = c.read_to_close(T).await;
    assert!(
        got.contains(&format!(
            "<{condition} xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
        )),
        "expected {condition}, got: {got}"
    );
    got
}

/// A server on plain TCP (`require_encryption = false`) so raw sockets can
/// speak s2s; `spoof.test` resolves to `authoritative`.
fn server(authoritative: Option<std::net::SocketAddr>) -> TestServer {
    let mut opts = ServerOpts::default()
        .account(ALICE, PW)
        .account(BOB, PW)
        .s2s_toml("require_encryption = false")
        .s2s_toml("secure_auth = false");
    if let Some(a) = authoritative {
        opts = opts.s2s_host("spoof.test", &a.to_string());
    }
    TestServer::start(opts)
}

#[tokio::test]
async fn bad_s2s_streams_get_their_errors() {
    let s = server(None);
    let s2s = s.addr("s2s");
    let mut c = RawConn::connect(s2s).await;
    c.send(open("spoof.test", "elsewhere.test", "jabber:server").as_bytes())
        .await;
    expect_stream_error(&mut c, "host-unknown").await;

    let mut c = RawConn::connect(s2s).await;
    c.send(open("spoof.test", "support.test", "jabber:client").as_bytes())
        .await;
    expect_stream_error(&mut c, "invalid-namespace").await;

    let mut c = RawConn::connect(s2s).await;
    c.send(open("spoof.test", "support.test", "jabber:server").as_bytes())
        .await;
    c.send(
        b"<message from='x@spoof.test' to='alice@agents.support.test'><body>hi</body></message>",
    )
    .await;
    expect_stream_error(&mut c, "not-authorized").await;

    // A dialback key nobody vouches for (spoof.test has no server here).
    let mut c = RawConn::connect(s2s).await;
    c.send(open("spoof.test", "support.test", "jabber:server").as_bytes())
        .await;
    c.send(b"<db:verify from='spoof.test' to='support.test' id='nope'>0123abcd</db:verify>")
        .await;
    let got = c.read_until("<db:verify", T).await;
    c.read_until("/>", T).await;
    assert!(c.received().contains("type='invalid'"), "{got}");
}

/// Plays spoof.test's authoritative server: answers every db:verify as valid.
async fn fake_authoritative() -> std::net::SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut seen = String::new();
                let mut buf = [0u8; 4096];
                let mut opened = false;
                loop {
                    let Ok(n) = tcp.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    seen.push_str(&String::from_utf8_lossy(&buf[..n]));
                    if !opened && seen.contains("<stream:stream") {
                        opened = true;
                        let _ = tcp
                            .write_all(
                                format!(
                                    "{}<stream:features/>",
                                    open("spoof.test", "support.test", "jabber:server")
                                        .replace("version='1.0'>", "id='auth1' version='1.0'>")
                                )
                                .as_bytes(),
                            )
                            .await;
                    }
                    if let Some(i) = seen.find("<db:verify") {
                        let tag = &seen[i..];
                        let id = tag.split("id='").nth(1).and_then(|r| r.split('\'').next());
                        if let (Some(id), true) = (id, tag.contains("</db:verify>")) {
                            let answer = format!(
                                "<db:verify from='spoof.test' to='support.test' id='{id}' type='valid'/>"
                            );
                            let _ = tcp.write_all(answer.as_bytes()).await;
                            seen.clear();
                        }
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_spoofed_from_on_an_authenticated_stream_is_refused() {
    let auth = fake_authoritative().await;
    let s = server(Some(auth));
    let mut alice = Client::login(&s, ALICE, PW, ClientOpts::default()).await;
    let mut c = RawConn::connect(s.addr("s2s")).await;
    c.send(open("spoof.test", "agents.support.test", "jabber:server").as_bytes())
        .await;
    c.read_until("</stream:features>", T).await;
    c.send(b"<db:result from='spoof.test' to='agents.support.test'>00ff</db:result>")
        .await;
    let got = c.read_until("type='valid'", T).await;
    assert!(got.contains("<db:result"), "{got}");
    // Authenticated: its own stanzas pass...
    c.send(b"<message from='mallory@spoof.test' to='alice@agents.support.test' type='chat'><body>legit</body></message>")
        .await;
    alice.expect_message("mallory@spoof.test", "legit").await;
    // ...but not another domain's.
    c.send(b"<message from='ceo@bank.test' to='alice@agents.support.test' type='chat'><body>wire money</body></message>")
        .await;
    expect_stream_error(&mut c, "invalid-from").await;
    // The stream error was written after the stanza was judged, so a later
    // message marks the point by which it would have arrived.
    let mut bob = Client::login(&s, BOB, PW, ClientOpts::default()).await;
    bob.message(ALICE, "marker").await;
    alice.expect_message(BOB, "marker").await;
    assert!(
        !alice.seen().iter().any(|e| e["body"] == "wire money"),
        "the spoofed message was delivered"
    );
}

/// A peer that is down (nothing listens) or stalled (accepts, never
/// answers): senders get `remote-server-not-found` or
/// `remote-server-timeout`, within the configured negotiation time.
#[tokio::test]
async fn a_peer_that_is_down_or_stalled_bounces_messages() {
    let closed = {
        // Bound and dropped: a port where nothing listens.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let stalled = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let stalled_addr = stalled.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = stalled.accept().await {
            held.push(tcp);
        }
    });
    let s = TestServer::start(
        ServerOpts::default()
            .account(ALICE, PW)
            .s2s_toml("negotiation_timeout_secs = 2")
            .s2s_host("down.test", &closed.to_string())
            .s2s_host("stalled.test", &stalled_addr.to_string()),
    );
    let mut alice = Client::login(&s, ALICE, PW, ClientOpts::default()).await;
    for (to, condition) in [
        ("someone@down.test", "remote-server-not-found"),
        ("someone@stalled.test", "remote-server-timeout"),
    ] {
        alice.message(to, "anyone there?").await;
        let e = alice
            .expect_what(
                &format!("an error from {to}"),
                |e| e["event"] == "message" && e["type"] == "error" && e["from"] == to,
                T,
            )
            .await;
        assert_eq!(e["condition"], condition, "{e}");
    }
    // IQs bounce the same way.
    let e = alice
        .request(serde_json::json!({"cmd": "version", "to": "down.test"}))
        .await;
    assert_eq!(e["condition"], "remote-server-not-found", "{e}");
}
