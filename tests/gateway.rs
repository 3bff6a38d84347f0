//! The contact center end to end: customers are slixmpp clients on a real
//! Prosody (federated), agents are slixmpp clients on Switchboard.

mod common;

use common::{
    loopback_ips, Client, ClientOpts, Prosody, ProsodyOpts, ServerOpts, TestServer, TIMEOUT,
};
use serde_json::{json, Value};

const ALICE: &str = "alice@agents.support.test";
const BOB: &str = "bob@agents.support.test";
const JULIET: &str = "juliet@customer.test";
const ROMEO: &str = "romeo@customer.test";
const HELP: &str = "help@support.test";
const PW: &str = "pw";

struct Center {
    sb: TestServer,
    prosody: Prosody,
}

/// Switchboard with agents Alice and Bob and one queue behind
/// help@support.test, federated with a Prosody hosting the customers.
fn center(assign: &str, max_live: u32) -> Center {
    let ips = loopback_ips(2);
    let (sb_ip, p_ip) = (&ips[0], &ips[1]);
    let agents = format!(
        "[[agent]]\njid = \"{ALICE}\"\nname = \"Alice\"\ntier = 1\nskills = [\"billing\"]\n\
         protocols = [\"xmpp\"]\nmax_live = {max_live}\nmax_async = 5\n\n\
         [[agent]]\njid = \"{BOB}\"\nname = \"Bob\"\ntier = 1\nskills = [\"billing\"]\n\
         protocols = [\"xmpp\"]\nmax_live = {max_live}\nmax_async = 5\n"
    );
    let routing = format!(
        "[defaults]\nassign = \"{assign}\"\noffer_timeout_secs = 5\n\n\
         [[queue]]\nname = \"general\"\nentry = [\"{HELP}\"]\nskills = []\n\
         strategy = \"longest-idle\"\n"
    );
    let sb = TestServer::start(
        ServerOpts::default()
            .account(ALICE, PW)
            .account(BOB, PW)
            .agents_toml(&agents)
            .routing_toml(&routing)
            .ca_file("certs/ca.crt")
            .s2s_listen(&format!("{sb_ip}:5269"))
            .s2s_host("customer.test", &format!("{p_ip}:5269")),
    );
    let certs = sb.path().join("certs");
    let prosody = Prosody::start(
        ProsodyOpts::default()
            .user(JULIET, PW)
            .user(ROMEO, PW)
            .ip(p_ip)
            .arg("--s2s-port")
            .arg("5269")
            .arg("--host")
            .arg(&format!("support.test={sb_ip}"))
            .arg("--host")
            .arg(&format!("agents.support.test={sb_ip}"))
            .arg("--ca-cert")
            .arg(certs.join("ca.crt").to_str().unwrap())
            .arg("--ca-key")
            .arg(certs.join("ca.key").to_str().unwrap()),
    );
    Center { sb, prosody }
}

async fn customer(c: &Center, jid: &str) -> Client {
    Client::login(&c.prosody, jid, PW, ClientOpts::default()).await
}

async fn agent(c: &Center, jid: &str) -> Client {
    Client::login(&c.sb, jid, PW, ClientOpts::default()).await
}

/// The next roster push that adds (or, `removed`, removes) a proxy JID.
async fn work_item(agent: &mut Client, removed: bool) -> Value {
    let e = agent
        .expect_what(
            "a work list push",
            |e| {
                e["event"] == "roster_push"
                    && e["items"][0]["jid"]
                        .as_str()
                        .is_some_and(|j| j.starts_with("s-"))
                    && (e["items"][0]["subscription"] == "remove") == removed
            },
            TIMEOUT,
        )
        .await;
    e["items"][0].clone()
}

async fn system_line(customer: &mut Client, contains: &str) -> Value {
    customer
        .expect_what(
            &format!("a line containing {contains:?}"),
            |e| {
                e["event"] == "message"
                    && e["from"].as_str().is_some_and(|f| f.starts_with(HELP))
                    && e["body"].as_str().is_some_and(|b| b.contains(contains))
            },
            TIMEOUT,
        )
        .await
}

#[tokio::test]
async fn first_contact_is_queued_then_bridged_both_ways_until_closed() {
    let c = center("direct", 2);
    let mut juliet = customer(&c, JULIET).await;
    juliet
        .request_ok(json!({"cmd": "subscribe", "to": HELP}))
        .await;
    juliet.expect_presence(HELP, "subscribed").await;
    let p = juliet.expect_presence(HELP, "available").await;
    assert_eq!(p["show"], "xa", "nobody on duty: {p}");

    juliet.message(HELP, "my invoice is wrong").await;
    system_line(&mut juliet, "number 1 in the queue").await;

    let mut alice = agent(&c, ALICE).await;
    let item = work_item(&mut alice, false).await;
    assert_eq!(item["groups"], json!(["Live"]), "{item}");
    assert_eq!(item["name"], "juliet · customer.test", "{item}");
    let proxy = item["jid"].as_str().unwrap().to_string();
    let waited = alice.expect_message(&proxy, "my invoice is wrong").await;
    assert!(
        !waited["delay"].is_null(),
        "queued message keeps its time: {waited}"
    );
    system_line(&mut juliet, "now chatting with Alice").await;

    alice.message(&proxy, "Let me look at it").await;
    let m = juliet.expect_message(HELP, "Let me look at it").await;
    assert!(m["xml"].as_str().unwrap().contains("Alice"), "nick: {m}");
    juliet.message(HELP, "thanks").await;
    alice.expect_message(&proxy, "thanks").await;

    alice.message(&proxy, "/close").await;
    system_line(&mut juliet, "closed").await;
    work_item(&mut alice, true).await;
}

#[tokio::test]
async fn an_unanswered_offer_goes_to_the_next_agent() {
    let c = center("offer", 2);
    let mut alice = agent(&c, ALICE).await;
    let mut bob = agent(&c, BOB).await;
    let mut juliet = customer(&c, JULIET).await;
    juliet.message(HELP, "hello?").await;
    // Alice has been idle longest: she gets the offer, and lets it lapse.
    let offer = alice
        .expect_what(
            "an offer",
            |e| e["event"] == "message" && e["body"].as_str().is_some_and(|b| b.contains("/take")),
            TIMEOUT,
        )
        .await;
    let proxy = offer["from"].as_str().unwrap().to_string();
    let offer = bob
        .expect_what(
            "the offer after Alice's lapsed",
            |e| e["event"] == "message" && e["body"].as_str().is_some_and(|b| b.contains("/take")),
            TIMEOUT,
        )
        .await;
    assert_eq!(offer["from"], proxy.as_str(), "{offer}");
    bob.message(&proxy, "/take").await;
    work_item(&mut bob, false).await;
    bob.expect_message(&proxy, "hello?").await;
    system_line(&mut juliet, "now chatting with Bob").await;
    bob.message(&proxy, "Bob here").await;
    juliet.expect_message(HELP, "Bob here").await;
}

#[tokio::test]
async fn customers_cannot_reach_agents_or_other_sessions_directly() {
    let c = center("direct", 2);
    let mut alice = agent(&c, ALICE).await;
    let mut bob = agent(&c, BOB).await;
    let mut juliet = customer(&c, JULIET).await;
    juliet.message(HELP, "hi").await;
    // Whoever got it, the other agent tries to write into it.
    let (owner, other) = tokio::select! {
        i = work_item(&mut alice, false) => (i, &mut bob),
        i = work_item(&mut bob, false) => (i, &mut alice),
    };
    let proxy = owner["jid"].as_str().unwrap().to_string();
    other.message(&proxy, "let me in").await;
    let e = other
        .expect_what(
            "an error",
            |e| e["event"] == "message" && e["type"] == "error",
            TIMEOUT,
        )
        .await;
    assert_eq!(e["condition"], "forbidden", "{e}");
    // The customer writes to the proxy and to an agent's own JID.
    juliet.message(&proxy, "sneaky").await;
    let e = juliet
        .expect_what(
            "an error",
            |e| e["event"] == "message" && e["type"] == "error",
            TIMEOUT,
        )
        .await;
    assert_eq!(e["condition"], "forbidden", "{e}");
    juliet.message(ALICE, "direct line").await;
    let e = juliet
        .expect_what(
            "an error",
            |e| e["event"] == "message" && e["type"] == "error" && e["from"] == ALICE,
            TIMEOUT,
        )
        .await;
    assert_eq!(e["condition"], "service-unavailable", "{e}");
}

#[tokio::test]
async fn a_restart_loses_neither_the_session_nor_what_waited() {
    let mut c = center("direct", 2);
    let mut juliet = customer(&c, JULIET).await;
    juliet.message(HELP, "before the restart").await;
    system_line(&mut juliet, "number 1").await;
    c.sb.stop_gracefully();
    c.sb.restart();
    let mut alice = agent(&c, ALICE).await;
    let item = work_item(&mut alice, false).await;
    let proxy = item["jid"].as_str().unwrap().to_string();
    alice.expect_message(&proxy, "before the restart").await;
    alice.message(&proxy, "after the restart").await;
    juliet.expect_message(HELP, "after the restart").await;
}
