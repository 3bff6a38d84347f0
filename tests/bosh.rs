//! XEP-0124/XEP-0206 BOSH at `/http-bind` against a real `switchboard
//! serve`: a web visitor's whole chat with an agent (a slixmpp client),
//! the session's terms, holding, replays and acknowledgements, XEP-0198
//! resumption after inactivity, and each bad input with its condition.

mod common;

#[path = "bosh/client.rs"]
mod client;

use std::time::Duration;

use client::{attr_of, http, plain, post, spawn_post, Bosh, ANONYMOUS, NS};
use common::{Client, ClientOpts, ServerOpts, TestServer, TIMEOUT};
use serde_json::Value;

const ALICE: &str = "alice@agents.support.test";
const HELP: &str = "help@support.test";
const WEB: &str = "web.support.test";
const PW: &str = "pw";

/// Switchboard with its HTTP listener, the web domain and agent Alice,
/// who serves the web channel. `http`: more lines for `[http]`.
fn server(http: &str) -> TestServer {
    let agents = format!(
        "[[agent]]\njid = \"{ALICE}\"\nname = \"Alice\"\nprotocols = [\"web\", \"xmpp\"]\n\
         max_live = 3\n"
    );
    let routing = format!(
        "[defaults]\nassign = \"direct\"\n\n[[queue]]\nname = \"general\"\nentry = [\"{HELP}\"]\n\
         skills = []\nstrategy = \"longest-idle\"\n"
    );
    TestServer::start(
        ServerOpts::default()
            .account(ALICE, PW)
            .agents_toml(&agents)
            .routing_toml(&routing)
            .extra_toml(&format!(
                "[http]\nlisten = [\"127.0.0.1:0\"]\nbosh_max_wait_secs = 20\n{http}\n\
                 [web]\ndomain = \"{WEB}\"\ntoken_secret = \"0123456789abcdef0123456789abcdef\"\n"
            )),
    )
}

fn message(to: &str, body: &str) -> String {
    format!("<message to='{to}' type='chat' xmlns='jabber:client'><body>{body}</body></message>")
}

/// The agent's end: the work item's proxy JID once `text` arrived on it.
async fn agent_gets(alice: &mut Client, text: &str) -> String {
    let m = alice
        .expect_what(
            &format!("a message {text:?}"),
            |e| e["event"] == "message" && e["body"] == text,
            TIMEOUT,
        )
        .await;
    m["from"]
        .as_str()
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn a_visitor_over_bosh_chats_with_an_agent() {
    let sb = server("");
    let addr = sb.addr("http");
    let mut alice = Client::login(&sb, ALICE, PW, ClientOpts::default()).await;

    let mut v = Bosh::create(addr, WEB, "").await;
    let c = &v.created;
    assert_eq!(c.header("content-type"), Some("text/xml; charset=utf-8"));
    assert_eq!(c.header("access-control-allow-origin"), Some("*"));
    for (attr, value) in [
        ("wait", "5"),
        ("hold", "1"),
        ("requests", "2"),
        ("inactivity", "60"),
        ("xmpp:version", "1.0"),
        ("xmpp:restartlogic", "true"),
        ("from", WEB),
    ] {
        assert_eq!(c.attr(attr).as_deref(), Some(value), "{attr}: {c:?}");
    }
    assert!(
        c.attr("authid").is_some() && c.attr("ver").is_some(),
        "{c:?}"
    );
    let features = &c.elements()[0];
    assert!(
        features.starts_with("<stream:features") && features.contains("ANONYMOUS"),
        "the first features come with the session: {c:?}"
    );
    assert!(
        features.contains("PLAIN"),
        "loopback is secure, so PLAIN (web tokens) is offered: {features}"
    );

    let jid = v.login(ANONYMOUS).await;
    assert!(
        jid.starts_with("a.") && jid.contains(&format!("@{WEB}/")),
        "{jid}"
    );
    v.send("", "<enable xmlns='urn:xmpp:sm:3' resume='true'/>")
        .await;
    v.expect("SM enabled", |e| e.starts_with("<enabled")).await;

    v.send("", &message(HELP, "my parcel is late")).await;
    let proxy = agent_gets(&mut alice, "my parcel is late").await;
    alice.message(&proxy, "It left the depot today").await;
    let reply = v
        .expect("the agent's answer", |e| {
            e.starts_with("<message") && e.contains("It left the depot today")
        })
        .await;
    assert!(
        reply.contains(&format!("from=\"{HELP}")) || reply.contains(&format!("from='{HELP}")),
        "{reply}"
    );
    assert!(
        reply.contains("xmlns=\"jabber:client\"") || reply.contains("xmlns='jabber:client'"),
        "{reply}"
    );

    // type='terminate' ends the session and its stream.
    let bye = v
        .send(
            "type='terminate'",
            "<presence type='unavailable' xmlns='jabber:client'/>",
        )
        .await;
    assert!(bye.terminates(), "{bye:?}");
    let after = post(addr, &v.next_body("", "")).await;
    after.assert_terminal(404, "item-not-found");
    sb.wait_for_log("BOSH request for an unknown session", TIMEOUT)
        .await;
}

#[tokio::test]
async fn terms_cors_holding_replays_and_acks() {
    let sb = server("trusted_proxies = [\"127.0.0.1\"]");
    let addr = sb.addr("http");

    // Through a trusted proxy that says the browser's connection is plain
    // HTTP: the stream is not secure, so PLAIN is not offered.
    let insecure = http(
        addr,
        "POST",
        "/http-bind",
        &[
            ("Content-Type", "text/xml; charset=utf-8"),
            ("X-Forwarded-Proto", "http"),
        ],
        format!(
            "<body rid='7' to='{WEB}' wait='5' ver='1.6' xmpp:version='1.0' \
             xmlns:xmpp='urn:xmpp:xbosh' xmlns='{NS}'/>"
        )
        .as_bytes(),
    )
    .await;
    let features = &insecure.elements()[0];
    assert!(
        features.contains(">ANONYMOUS<") && !features.contains(">PLAIN<"),
        "{insecure:?}"
    );

    // The CORS preflight of a page on another origin.
    let pre = http(
        addr,
        "OPTIONS",
        "/http-bind",
        &[
            ("Origin", "http://shop.example"),
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "content-type"),
        ],
        b"",
    )
    .await;
    assert!(pre.status == 204 || pre.status == 200, "{pre:?}");
    assert_eq!(pre.header("access-control-allow-origin"), Some("*"));
    assert!(pre
        .header("access-control-allow-methods")
        .unwrap()
        .contains("POST"));
    assert!(pre
        .header("access-control-allow-headers")
        .unwrap()
        .to_ascii_lowercase()
        .contains("content-type"));

    // Asked for more than allowed: the server's own bounds.
    let rid = 42_000u64;
    let c = post(
        addr,
        &format!(
            "<body rid='{rid}' to='{WEB}' wait='600' hold='3' ack='1' ver='1.6' xmpp:version='1.0' \
             xmlns:xmpp='urn:xmpp:xbosh' xmlns='{NS}'/>"
        ),
    )
    .await;
    assert_eq!(c.attr("wait").as_deref(), Some("20"), "{c:?}");
    assert_eq!(c.attr("hold").as_deref(), Some("1"), "{c:?}");
    assert_eq!(
        c.attr("ack").as_deref(),
        Some("42000"),
        "acks answered: {c:?}"
    );
    let mut v = Bosh {
        addr,
        sid: c.attr("sid").unwrap(),
        rid: rid + 1,
        inbox: c.elements(),
        created: c,
    };

    // A replay gets the same answer, and the payload is not taken twice.
    let auth = v.next_body(&format!("ack='{rid}'"), ANONYMOUS);
    let first = post(addr, &auth).await;
    assert!(first.body.contains("<success"), "{first:?}");
    let again = post(addr, &auth).await;
    assert_eq!(again.body, first.body, "the cached answer");

    // Hold 1: a new request answers the held one at once.
    let held_rid = v.rid;
    let held = spawn_post(addr, v.next_body(&format!("ack='{}'", rid + 1), ""));
    sb.wait_for_log(&format!("rid={held_rid} held"), TIMEOUT)
        .await;
    let restart = spawn_post(
        addr,
        v.next_body(&format!("ack='{}' xmpp:restart='true'", rid + 1), ""),
    );
    let older = held.await.unwrap();
    assert_eq!(older.status, 200);
    assert!(older.elements().is_empty(), "answered empty: {older:?}");
    assert_eq!(
        older.attr("ack"),
        Some((held_rid + 1).to_string()),
        "acknowledges the request that came after it: {older:?}"
    );
    let features = restart.await.unwrap();
    assert!(
        features.body.contains("urn:ietf:params:xml:ns:xmpp-bind"),
        "{features:?}"
    );

    // The client has acknowledged the SASL answer: it is not kept.
    let replay = post(
        addr,
        &v.body_for(rid + 1, &format!("ack='{}'", rid + 3), ""),
    )
    .await;
    replay.assert_terminal(200, "item-not-found");
}

#[tokio::test]
async fn bad_input_gets_its_condition_and_the_server_goes_on() {
    let sb = server("max_streams_per_address = 3");
    let addr = sb.addr("http");

    // An unknown session.
    let r = post(
        addr,
        &format!("<body rid='5' sid='nosuchsession' xmlns='{NS}'/>"),
    )
    .await;
    r.assert_terminal(404, "item-not-found");
    sb.wait_for_log("BOSH request for an unknown session", TIMEOUT)
        .await;

    // Not well-formed, and not a BOSH body.
    for bad in [
        format!("<body rid='5' xmlns='{NS}'><message>"),
        "<body rid='5' to='web.support.test' xmlns='jabber:client'/>".to_string(),
        "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>".to_string(),
    ] {
        let r = post(addr, &bad).await;
        r.assert_terminal(400, "bad-request");
    }
    sb.wait_for_log("BOSH request refused: bad-request", TIMEOUT)
        .await;

    // Larger than the stanza limit: refused on its Content-Length, before
    // it is sent.
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let huge = 262_144 + 10_000;
    let head = format!(
        "POST /http-bind HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: {huge}\r\n\r\n<body"
    );
    tokio::io::AsyncWriteExt::write_all(&mut tcp, head.as_bytes())
        .await
        .unwrap();
    let r = client::read_reply(&mut tcp).await;
    r.assert_terminal(413, "policy-violation");
    // ...and without one (chunked): refused once the limit is passed.
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let chunk = "a".repeat(100_000);
    let head = "POST /http-bind HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    tokio::io::AsyncWriteExt::write_all(&mut tcp, head.as_bytes())
        .await
        .unwrap();
    for _ in 0..3 {
        let c = format!("{:x}\r\n{chunk}\r\n", chunk.len());
        if tokio::io::AsyncWriteExt::write_all(&mut tcp, c.as_bytes())
            .await
            .is_err()
        {
            break;
        }
    }
    let r = client::read_reply(&mut tcp).await;
    r.assert_terminal(413, "policy-violation");
    sb.wait_for_log("BOSH body over the size limit refused", TIMEOUT)
        .await;

    // A rid beyond the window ends the session.
    let mut v = Bosh::create(addr, WEB, "").await;
    let r = post(addr, &v.body_for(v.rid + 5, "", "")).await;
    r.assert_terminal(200, "item-not-found");
    let r = post(addr, &v.next_body("", "")).await;
    r.assert_terminal(404, "item-not-found");
    sb.wait_for_log("BOSH session ended by a bad request", TIMEOUT)
        .await;

    // A replay of an answer no longer kept (two newer were answered).
    let mut v = Bosh::create(addr, WEB, "").await;
    let first = v.rid - 1;
    v.send("", ANONYMOUS).await;
    v.send("xmpp:restart='true'", "").await;
    let r = post(addr, &v.body_for(first, "", "")).await;
    r.assert_terminal(200, "item-not-found");

    // More requests at once than `requests` (2): one held, one ahead of
    // its turn, then a third.
    let mut v = Bosh::create(addr, WEB, "").await;
    let (a, b, c) = (v.rid, v.rid + 1, v.rid + 2);
    v.rid += 3;
    let held = spawn_post(addr, v.body_for(a, "", ""));
    sb.wait_for_log(&format!("rid={a} held"), TIMEOUT).await;
    let early = spawn_post(addr, v.body_for(c, "", ""));
    sb.wait_for_log(&format!("rid={c} ahead of its turn"), TIMEOUT)
        .await;
    let r = post(addr, &v.body_for(b, "", "")).await;
    r.assert_terminal(200, "policy-violation");
    assert!(held.await.unwrap().terminates());
    assert!(early.await.unwrap().terminates());

    // A stream error becomes remote-stream-error, with the error inside.
    let r = post(
        addr,
        &format!(
            "<body rid='9' to='nowhere.test' wait='5' hold='1' ver='1.6' xmpp:version='1.0' \
             xmlns:xmpp='urn:xmpp:xbosh' xmlns='{NS}'/>"
        ),
    )
    .await;
    r.assert_terminal(200, "remote-stream-error");
    assert!(
        r.body.contains("<stream:error") && r.body.contains("host-unknown"),
        "{r:?}"
    );

    // Too many streams from one address (WebSockets and BOSH sessions
    // together): the sessions above are over, so three fit, and a fourth
    // does not.
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(until_created(addr).await);
    }
    // A session keeps its place past the negotiation, for its whole life.
    open[0].login(ANONYMOUS).await;
    let r = post(
        addr,
        &format!("<body rid='7' to='{WEB}' ver='1.6' xmpp:version='1.0' xmlns:xmpp='urn:xmpp:xbosh' xmlns='{NS}'/>"),
    )
    .await;
    r.assert_terminal(429, "policy-violation");
    sb.wait_for_log("too many web streams from one address", TIMEOUT)
        .await;
    // Ending one frees its place.
    let mut gone = open.pop().unwrap();
    assert!(gone.send("type='terminate'", "").await.terminates());
    let mut v = until_created(addr).await;
    let jid = v.login(ANONYMOUS).await;
    assert!(jid.contains(WEB), "the server goes on serving: {jid}");
}

/// A new session, once the address has a free place (a session just
/// ended frees its place when its stream has closed).
async fn until_created(addr: std::net::SocketAddr) -> Bosh {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        match Bosh::try_create(addr, WEB, "").await {
            Ok(v) => return v,
            Err(r) => {
                r.assert_terminal(429, "policy-violation");
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "no free place: {r:?}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

#[tokio::test]
async fn an_inactive_session_is_resumed_with_what_waited() {
    let sb = server("bosh_inactivity_secs = 5");
    let addr = sb.addr("http");
    let mut alice = Client::login(&sb, ALICE, PW, ClientOpts::default()).await;

    let minted = http(addr, "POST", "/web/visitor", &[], b"").await;
    let minted: Value = serde_json::from_str(&minted.body).expect("a visitor token");
    let token = minted["token"].as_str().unwrap();

    let mut v = Bosh::create(addr, WEB, "").await;
    let jid = v.login(&plain(token)).await;
    assert!(
        jid.starts_with(minted["jid"].as_str().unwrap()),
        "{jid} {minted}"
    );
    v.send("", "<enable xmlns='urn:xmpp:sm:3' resume='true'/>")
        .await;
    let enabled = v.expect("SM enabled", |e| e.starts_with("<enabled")).await;
    let id = attr_of(&enabled, "id").expect("a resumption id");
    v.send("", &message(HELP, "is anyone there?")).await;
    let proxy = agent_gets(&mut alice, "is anyone there?").await;

    // No request for `inactivity`: the stream ends as a dropped connection.
    sb.wait_for_log("BOSH session inactive", Duration::from_secs(30))
        .await;
    alice.message(&proxy, "yes, Alice here").await;

    let mut back = Bosh::create(addr, WEB, "").await;
    back.expect("features", |e| e.contains("<mechanisms")).await;
    back.send("", &plain(token)).await;
    back.expect("SASL success", |e| e.starts_with("<success"))
        .await;
    back.send("xmpp:restart='true'", "").await;
    back.expect("SM feature", |e| e.contains("urn:xmpp:sm:3"))
        .await;
    back.send(
        "",
        &format!("<resume xmlns='urn:xmpp:sm:3' h='0' previd='{id}'/>"),
    )
    .await;
    back.expect("resumed", |e| e.starts_with("<resumed")).await;
    back.expect("what waited", |e| e.contains("yes, Alice here"))
        .await;
    // The old session's sid is gone.
    let r = post(addr, &v.next_body("", "")).await;
    r.assert_terminal(404, "item-not-found");
}
