//! The contact center end to end: customers are slixmpp clients on a real
//! Prosody (federated), agents are slixmpp clients on Switchboard.

mod common;

use common::{
    loopback_ips, on_both_stores, Client, ClientOpts, Db, Prosody, ProsodyOpts, ServerOpts,
    TestServer, TIMEOUT,
};
use serde_json::{json, Value};

const ALICE: &str = "alice@agents.support.test";
const BOB: &str = "bob@agents.support.test";
const JULIET: &str = "juliet@customer.test";
const ROMEO: &str = "romeo@customer.test";
const HELP: &str = "help@support.test";
/// An agent whose account is on the customers' server.
const CAROL: &str = "carol@customer.test";
const PW: &str = "pw";

struct Center {
    sb: TestServer,
    prosody: Prosody,
}

/// Switchboard with agents Alice and Bob and one queue behind
/// help@support.test, federated with a Prosody hosting the customers.
fn center(db: Db, assign: &str, max_live: u32) -> Center {
    center_with(db, assign, max_live, "")
}

/// `defaults`: more lines for routing.toml's `[defaults]`.
fn center_with(db: Db, assign: &str, max_live: u32, defaults: &str) -> Center {
    center_full(db, assign, max_live, defaults, "")
}

/// `more_agents`: more `[[agent]]` tables for agents.toml.
fn center_full(db: Db, assign: &str, max_live: u32, defaults: &str, more_agents: &str) -> Center {
    let ips = loopback_ips(2);
    let (sb_ip, p_ip) = (&ips[0], &ips[1]);
    let agents = format!(
        "[[agent]]\njid = \"{ALICE}\"\nname = \"Alice\"\ntier = 1\nskills = [\"billing\"]\n\
         protocols = [\"xmpp\"]\nmax_live = {max_live}\nmax_async = 5\n\n\
         [[agent]]\njid = \"{BOB}\"\nname = \"Bob\"\ntier = 1\nskills = [\"billing\"]\n\
         protocols = [\"xmpp\"]\nmax_live = {max_live}\nmax_async = 5\n{more_agents}"
    );
    let routing = format!(
        "[defaults]\nassign = \"{assign}\"\noffer_timeout_secs = 5\n{defaults}\n\
         [[queue]]\nname = \"general\"\nentry = [\"{HELP}\"]\nskills = []\n\
         strategy = \"longest-idle\"\n"
    );
    let sb = TestServer::start(
        ServerOpts::default()
            .db(db)
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
            .user(CAROL, PW)
            .federated(p_ip, sb_ip, &certs),
    );
    Center { sb, prosody }
}

fn routing_path(c: &Center) -> std::path::PathBuf {
    c.sb.path().join("routing.toml")
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

/// The next message whose body contains `text`, from anyone.
async fn line_containing(c: &mut Client, text: &str) -> Value {
    c.expect_what(
        &format!("a message containing {text:?}"),
        |e| e["event"] == "message" && e["body"].as_str().is_some_and(|b| b.contains(text)),
        TIMEOUT,
    )
    .await
}

/// What a customer is told while no agent able to serve them is on duty.
const NOBODY_ON_DUTY: &str = "Nobody who can help with this is on duty right now";

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

on_both_stores!(
    first_contact_is_queued_then_bridged_both_ways_until_closed,
    an_unanswered_offer_goes_to_the_next_agent,
    customers_cannot_reach_agents_or_other_sessions_directly,
    a_restart_loses_neither_the_session_nor_what_waited,
    a_crash_loses_nothing_stored_and_delivers_nothing_twice,
    entry_presence_tells_whether_anyone_is_there,
    a_returning_customer_goes_back_to_their_last_agent,
    an_async_session_going_live_overflows_to_a_second_agent_at_max_live,
    a_second_device_joins_the_same_session,
    transfer_to_another_agent_carries_the_context,
    an_agent_who_vanishes_has_their_chats_requeued_after_the_grace,
    an_invalid_routing_file_is_refused_and_the_old_rules_stay,
    ad_hoc_and_control_commands,
    an_idle_session_closes_and_the_next_message_opens_another,
    extensions_pass_through_the_bridge,
    an_agent_on_another_server_serves_through_federation,
    linked_identities_follow_the_person_to_their_last_agent,
);

async fn first_contact_is_queued_then_bridged_both_ways_until_closed(db: Db) {
    let c = center(db, "direct", 2);
    let mut juliet = customer(&c, JULIET).await;
    juliet
        .request_ok(json!({"cmd": "subscribe", "to": HELP}))
        .await;
    juliet.expect_presence(HELP, "subscribed").await;
    let p = juliet.expect_presence(HELP, "available").await;
    assert_eq!(p["show"], "xa", "nobody on duty: {p}");

    juliet.message(HELP, "my invoice is wrong").await;
    system_line(&mut juliet, NOBODY_ON_DUTY).await;

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

async fn an_unanswered_offer_goes_to_the_next_agent(db: Db) {
    let c = center(db, "offer", 2);
    let mut alice = agent(&c, ALICE).await;
    let mut bob = agent(&c, BOB).await;
    let mut juliet = customer(&c, JULIET).await;
    juliet.message(HELP, "hello?").await;
    // Alice has been idle longest: she gets the offer, and lets it lapse.
    let offer = line_containing(&mut alice, "/take").await;
    let proxy = offer["from"].as_str().unwrap().to_string();
    let offer = line_containing(&mut bob, "/take").await;
    assert_eq!(offer["from"], proxy.as_str(), "{offer}");
    bob.message(&proxy, "/take").await;
    work_item(&mut bob, false).await;
    bob.expect_message(&proxy, "hello?").await;
    system_line(&mut juliet, "now chatting with Bob").await;
    bob.message(&proxy, "Bob here").await;
    juliet.expect_message(HELP, "Bob here").await;
}

async fn customers_cannot_reach_agents_or_other_sessions_directly(db: Db) {
    let c = center(db, "direct", 2);
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

async fn a_restart_loses_neither_the_session_nor_what_waited(db: Db) {
    let mut c = center(db, "direct", 2);
    let mut juliet = customer(&c, JULIET).await;
    juliet.message(HELP, "before the restart").await;
    system_line(&mut juliet, NOBODY_ON_DUTY).await;
    c.sb.stop_gracefully();
    c.sb.restart();
    let mut alice = agent(&c, ALICE).await;
    let item = work_item(&mut alice, false).await;
    let proxy = item["jid"].as_str().unwrap().to_string();
    alice.expect_message(&proxy, "before the restart").await;
    alice.message(&proxy, "after the restart").await;
    juliet.expect_message(HELP, "after the restart").await;
}

/// `kill -9` with a live chat: every customer line the store holds (the
/// point at which the gateway answers for it) reaches the agent after the
/// restart, in order and once; those she had before the crash do not come
/// again. The delivery marks are what says which is which.
async fn a_crash_loses_nothing_stored_and_delivers_nothing_twice(db: Db) {
    let mut c = center(db, "direct", 2);
    let mut alice = agent(&c, ALICE).await;
    let mut juliet = customer(&c, JULIET).await;
    juliet.message(HELP, "a0").await;
    let proxy = work_item(&mut alice, false).await["jid"]
        .as_str()
        .unwrap()
        .to_string();
    for i in 1..20 {
        juliet.message(HELP, &format!("a{i}")).await;
    }
    for i in 0..20 {
        alice.expect_message(&proxy, &format!("a{i}")).await;
    }
    alice.message(&proxy, "got them").await;
    juliet.expect_message(HELP, "got them").await;
    alice.disconnect().await;
    for i in 0..20 {
        juliet.message(HELP, &format!("b{i}")).await;
    }
    let stored = "SELECT COUNT(*) FROM messages WHERE direction = 'in'";
    let deadline = std::time::Instant::now() + TIMEOUT;
    while c.sb.db_value(stored) != "40" {
        assert!(
            std::time::Instant::now() < deadline,
            "the store holds {} of the customer's 40 lines",
            c.sb.db_value(stored)
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    c.sb.kill();
    c.sb.restart();

    let mut alice = agent(&c, ALICE).await;
    alice.expect_message(&proxy, "b19").await;
    juliet.message(HELP, "after the crash").await;
    alice.expect_message(&proxy, "after the crash").await;
    // What Juliet wrote, leaving out the gateway's own lines (the info).
    let customer_line = |b: &str| {
        b == "after the crash"
            || (b.len() > 1
                && b.starts_with(['a', 'b'])
                && b[1..].bytes().all(|c| c.is_ascii_digit()))
    };
    let got: Vec<&str> = alice
        .seen()
        .iter()
        .filter(|e| {
            e["event"] == "message"
                && e["from"].as_str().is_some_and(|f| f.starts_with(&proxy))
                && e["body"].as_str().is_some_and(customer_line)
        })
        .filter_map(|e| e["body"].as_str())
        .collect();
    let mut want: Vec<String> = (0..20).map(|i| format!("b{i}")).collect();
    want.push("after the crash".into());
    assert_eq!(got, want);
    alice.message(&proxy, "still here").await;
    juliet.expect_message(HELP, "still here").await;
}

async fn presence_cmd(c: &mut Client, show: Option<&str>) {
    let mut cmd = json!({"cmd": "presence"});
    if let Some(show) = show {
        cmd["show"] = json!(show);
    }
    c.request_ok(cmd).await;
    // A round trip through the gateway after it: the presence reached the
    // gateway first, on the same path, so what the test does next (a
    // customer writing over s2s) cannot overtake it.
    c.request(json!({"cmd": "disco_items", "to": "support.test",
        "node": "http://jabber.org/protocol/commands"}))
        .await;
}

async fn entry_presence_tells_whether_anyone_is_there(db: Db) {
    let c = center(db, "direct", 2);
    let mut juliet = customer(&c, JULIET).await;
    juliet
        .request_ok(json!({"cmd": "subscribe", "to": HELP}))
        .await;
    let p = juliet.expect_presence(HELP, "available").await;
    assert_eq!(p["show"], "xa", "{p}");
    assert!(
        p["status"]
            .as_str()
            .unwrap()
            .contains("No agent on duty right now"),
        "open hours, nobody there: {p}"
    );
    let info = juliet
        .request(json!({"cmd": "disco_info", "to": HELP}))
        .await;
    assert_eq!(info["identities"][0][0], "client", "{info}");
    assert!(
        info["features"].to_string().contains("urn:xmpp:receipts"),
        "{info}"
    );

    let mut alice = agent(&c, ALICE).await;
    let p = juliet.expect_presence(HELP, "available").await;
    assert!(p["show"].is_null(), "an agent is there: {p}");
    presence_cmd(&mut alice, Some("away")).await;
    let p = juliet.expect_presence(HELP, "available").await;
    assert_eq!(p["show"], "away", "{p}");
    assert!(p["status"].as_str().unwrap().contains("busy"), "{p}");
    alice.disconnect().await;
    let p = juliet.expect_presence(HELP, "available").await;
    assert_eq!(p["show"], "xa", "{p}");
}

async fn a_returning_customer_goes_back_to_their_last_agent(db: Db) {
    let c = center(db, "direct", 2);
    // Alice is on duty first but away: she has been idle the longest.
    let mut alice = agent(&c, ALICE).await;
    presence_cmd(&mut alice, Some("away")).await;
    let mut bob = agent(&c, BOB).await;
    let mut juliet = customer(&c, JULIET).await;
    juliet.message(HELP, "first visit").await;
    let item = work_item(&mut bob, false).await;
    let proxy = item["jid"].as_str().unwrap().to_string();
    bob.message(&proxy, "/close").await;
    work_item(&mut bob, true).await;
    system_line(&mut juliet, "closed").await;
    // Alice is available now and idle longest, but Juliet spoke with Bob.
    presence_cmd(&mut alice, None).await;
    juliet.message(HELP, "second visit").await;
    let item = work_item(&mut bob, false).await;
    let proxy = item["jid"].as_str().unwrap().to_string();
    bob.expect_message(&proxy, "second visit").await;
    system_line(&mut juliet, "now chatting with Bob").await;
}

async fn an_async_session_going_live_overflows_to_a_second_agent_at_max_live(db: Db) {
    let c = center(db, "direct", 1);
    let mut alice = agent(&c, ALICE).await;
    presence_cmd(&mut alice, Some("away")).await;
    let mut juliet = customer(&c, JULIET).await;
    juliet.message(HELP, "no rush: my address changed").await;
    let item = work_item(&mut alice, false).await;
    assert_eq!(item["groups"], json!(["Async"]), "{item}");
    let juliet_proxy = item["jid"].as_str().unwrap().to_string();
    alice
        .expect_message(&juliet_proxy, "no rush: my address changed")
        .await;
    alice
        .message(&juliet_proxy, "/note customer moved to Lyon")
        .await;
    // Alice comes back and takes a live chat: she is at max_live = 1.
    presence_cmd(&mut alice, None).await;
    let mut romeo = customer(&c, ROMEO).await;
    romeo.message(HELP, "urgent!").await;
    let item = work_item(&mut alice, false).await;
    assert_eq!(item["groups"], json!(["Live"]), "{item}");
    let mut bob = agent(&c, BOB).await;
    // Juliet is back and wants to talk now: Bob gets it, with the context.
    juliet.message(HELP, "are you there?").await;
    let item = work_item(&mut bob, false).await;
    assert_eq!(item["groups"], json!(["Live"]), "{item}");
    assert_eq!(item["jid"], juliet_proxy.as_str(), "same session: {item}");
    let context = bob
        .expect_what(
            "the session's context",
            |e| {
                e["event"] == "message"
                    && e["body"]
                        .as_str()
                        .is_some_and(|b| b.contains("Earlier in this session"))
            },
            TIMEOUT,
        )
        .await;
    let body = context["body"].as_str().unwrap();
    assert!(
        body.contains("my address changed") && body.contains("Lyon"),
        "{body}"
    );
    bob.expect_message(&juliet_proxy, "are you there?").await;
    let gone = work_item(&mut alice, true).await;
    assert_eq!(gone["jid"], juliet_proxy.as_str(), "{gone}");
    system_line(&mut juliet, "now chatting with Bob").await;
}

async fn a_second_device_joins_the_same_session(db: Db) {
    let c = center(db, "direct", 2);
    let mut alice = agent(&c, ALICE).await;
    let mut phone = Client::login(
        &c.prosody,
        JULIET,
        PW,
        ClientOpts::default().resource("phone"),
    )
    .await;
    let mut laptop = Client::login(
        &c.prosody,
        JULIET,
        PW,
        ClientOpts::default().resource("laptop"),
    )
    .await;
    phone.message(HELP, "from my phone").await;
    let item = work_item(&mut alice, false).await;
    let proxy = item["jid"].as_str().unwrap().to_string();
    alice.expect_message(&proxy, "from my phone").await;
    laptop.message(HELP, "and from my laptop").await;
    alice.expect_message(&proxy, "and from my laptop").await;
    alice.message(&proxy, "I see both").await;
    phone.expect_message(HELP, "I see both").await;
    laptop.expect_message(HELP, "I see both").await;
    assert_eq!(
        alice
            .seen()
            .iter()
            .filter(|e| e["event"] == "roster_push" && e["items"][0]["subscription"] != "remove")
            .count(),
        1,
        "one session, one work item"
    );
}

async fn transfer_to_another_agent_carries_the_context(db: Db) {
    let c = center(db, "direct", 2);
    let mut alice = agent(&c, ALICE).await;
    let mut juliet = customer(&c, JULIET).await;
    juliet.message(HELP, "billing question").await;
    let item = work_item(&mut alice, false).await;
    let proxy = item["jid"].as_str().unwrap().to_string();
    alice.expect_message(&proxy, "billing question").await;
    let mut bob = agent(&c, BOB).await;
    alice.message(&proxy, "/transfer Bob").await;
    let item = work_item(&mut bob, false).await;
    assert_eq!(item["jid"], proxy.as_str());
    work_item(&mut alice, true).await;
    let context = bob
        .expect_what(
            "the context",
            |e| {
                e["event"] == "message"
                    && e["body"]
                        .as_str()
                        .is_some_and(|b| b.contains("billing question"))
            },
            TIMEOUT,
        )
        .await;
    assert_eq!(context["from"], proxy.as_str(), "{context}");
    system_line(&mut juliet, "now chatting with Bob").await;
    bob.message(&proxy, "Bob from billing").await;
    juliet.expect_message(HELP, "Bob from billing").await;
}

async fn an_agent_who_vanishes_has_their_chats_requeued_after_the_grace(db: Db) {
    let c = center_with(db, "direct", 2, "agent_grace_secs = 1");
    let mut alice = agent(&c, ALICE).await;
    let mut juliet = customer(&c, JULIET).await;
    juliet.message(HELP, "hello").await;
    let item = work_item(&mut alice, false).await;
    let proxy = item["jid"].as_str().unwrap().to_string();
    alice.message(&proxy, "hi, Alice here").await;
    juliet.expect_message(HELP, "hi, Alice here").await;
    let mut bob = agent(&c, BOB).await;
    alice.disconnect().await;
    system_line(&mut juliet, "had to leave").await;
    let item = work_item(&mut bob, false).await;
    assert_eq!(item["jid"], proxy.as_str());
    bob.expect_what(
        "the transcript",
        |e| {
            e["event"] == "message"
                && e["body"]
                    .as_str()
                    .is_some_and(|b| b.contains("hi, Alice here"))
        },
        TIMEOUT,
    )
    .await;
    system_line(&mut juliet, "now chatting with Bob").await;
}

async fn an_invalid_routing_file_is_refused_and_the_old_rules_stay(db: Db) {
    let c = center(db, "direct", 2);
    let good = std::fs::read_to_string(routing_path(&c)).unwrap();
    std::fs::write(routing_path(&c), good.replace("longest-idle", "fastest")).unwrap();
    let log =
        c.sb.wait_for_log("routing.toml:", std::time::Duration::from_secs(10))
            .await;
    assert!(log.contains("fastest"), "the problem names the bad value");
    let mut juliet = customer(&c, JULIET).await;
    juliet.message(HELP, "still open?").await;
    system_line(&mut juliet, NOBODY_ON_DUTY).await;
    // A valid change is applied: a new entry JID.
    let sales = good.replace(
        "entry = [\"help@support.test\"]",
        "entry = [\"help@support.test\", \"sales@support.test\"]",
    );
    std::fs::write(routing_path(&c), sales).unwrap();
    c.sb.wait_for_log(
        "gateway configuration reloaded",
        std::time::Duration::from_secs(10),
    )
    .await;
    let mut romeo = customer(&c, ROMEO).await;
    romeo.message("sales@support.test", "a quote please").await;
    romeo
        .expect_what(
            "the queue's answer",
            |e| {
                e["event"] == "message"
                    && e["from"]
                        .as_str()
                        .is_some_and(|f| f.starts_with("sales@support.test"))
                    && e["body"]
                        .as_str()
                        .is_some_and(|b| b.contains(NOBODY_ON_DUTY))
            },
            TIMEOUT,
        )
        .await;
}

/// The same actions as XEP-0050 ad-hoc commands on the support domain, and
/// as text to it (the control JID): list, close through a form, off duty.
async fn ad_hoc_and_control_commands(db: Db) {
    let c = center(db, "direct", 2);
    let mut alice = agent(&c, ALICE).await;
    let mut juliet = customer(&c, JULIET).await;
    juliet
        .request_ok(json!({"cmd": "subscribe", "to": HELP}))
        .await;
    juliet.message(HELP, "help me").await;
    let item = work_item(&mut alice, false).await;
    let proxy = item["jid"].as_str().unwrap().to_string();
    let id = proxy.split('@').next().unwrap().to_string();

    let items = alice
        .request(json!({"cmd": "disco_items", "to": "support.test", "node": "http://jabber.org/protocol/commands"}))
        .await;
    let nodes = items["items"].to_string();
    for n in [
        "list", "take", "close", "note", "transfer", "push", "duty", "link", "unlink", "history",
    ] {
        assert!(nodes.contains(&format!("\"{n}\"")), "{n} missing: {items}");
    }
    let list = alice
        .request(json!({"cmd": "iq", "type": "set", "to": "support.test",
            "xml": "<command xmlns='http://jabber.org/protocol/commands' node='list' action='execute'/>"}))
        .await;
    assert!(list["xml"].as_str().unwrap().contains(&proxy), "{list}");
    // close: first the form, listing this session, then the submit.
    let form = alice
        .request(json!({"cmd": "iq", "type": "set", "to": "support.test",
            "xml": "<command xmlns='http://jabber.org/protocol/commands' node='close' action='execute'/>"}))
        .await;
    let xml = form["xml"].as_str().unwrap();
    assert!(xml.contains("executing") && xml.contains(&id), "{form}");
    let submit = format!(
        "<command xmlns='http://jabber.org/protocol/commands' node='close' sessionid='x1'>\
         <x xmlns='jabber:x:data' type='submit'><field var='session'><value>{id}</value></field></x></command>"
    );
    let done = alice
        .request(json!({"cmd": "iq", "type": "set", "to": "support.test", "xml": submit}))
        .await;
    assert!(
        done["xml"].as_str().unwrap().contains("completed"),
        "{done}"
    );
    system_line(&mut juliet, "closed").await;
    work_item(&mut alice, true).await;

    // Off duty by text to the control JID: the entry says closed.
    alice.message("support.test", "/off").await;
    alice
        .expect_what(
            "the answer",
            |e| {
                e["event"] == "message"
                    && e["body"].as_str().is_some_and(|b| b.contains("off duty"))
            },
            TIMEOUT,
        )
        .await;
    juliet
        .expect_what(
            "closed status",
            |e| e["event"] == "presence" && e["from"] == HELP && e["show"] == "xa",
            TIMEOUT,
        )
        .await;
    // A customer cannot use them.
    let e = juliet
        .request(json!({"cmd": "iq", "type": "set", "to": "support.test",
            "xml": "<command xmlns='http://jabber.org/protocol/commands' node='list' action='execute'/>"}))
        .await;
    assert_eq!(e["condition"], "forbidden", "{e}");
}

async fn an_idle_session_closes_and_the_next_message_opens_another(db: Db) {
    let c = center_with(db, "direct", 2, "session_idle_secs = 2");
    let mut alice = agent(&c, ALICE).await;
    let mut juliet = customer(&c, JULIET).await;
    juliet.message(HELP, "quick question").await;
    work_item(&mut alice, false).await;
    system_line(&mut juliet, "closed").await;
    work_item(&mut alice, true).await;
    // A new message opens a new session.
    juliet.message(HELP, "another one").await;
    let item = work_item(&mut alice, false).await;
    alice
        .expect_message(item["jid"].as_str().unwrap(), "another one")
        .await;
}

/// Chat states, receipts, corrections and OOB links pass through the bridge
/// both ways, with the ids they refer to intact.
async fn extensions_pass_through_the_bridge(db: Db) {
    let c = center(db, "direct", 2);
    // Clients that announce what they show: nothing is adapted away (see
    // tests/identify.rs for clients that do not).
    let mut rich = ClientOpts::default();
    for var in [
        "jabber:x:oob",
        "urn:xmpp:message-correct:0",
        "urn:xmpp:receipts",
        "http://jabber.org/protocol/chatstates",
    ] {
        rich.args.extend(["--feature".to_string(), var.to_string()]);
    }
    let mut alice = Client::login(&c.sb, ALICE, PW, rich.clone()).await;
    let mut juliet = Client::login(&c.prosody, JULIET, PW, rich).await;
    juliet
        .request_ok(
            json!({"cmd": "message", "to": HELP, "body": "see the photo", "id": "m1",
            "payload": "<x xmlns='jabber:x:oob'><url>https://example.test/p.jpg</url></x>"}),
        )
        .await;
    let item = work_item(&mut alice, false).await;
    let proxy = item["jid"].as_str().unwrap().to_string();
    let m = alice.expect_message(&proxy, "see the photo").await;
    assert!(
        m["xml"]
            .as_str()
            .unwrap()
            .contains("https://example.test/p.jpg"),
        "{m}"
    );
    juliet
        .request_ok(
            json!({"cmd": "message", "to": HELP, "body": "see the picture", "id": "m2",
            "payload": "<replace xmlns='urn:xmpp:message-correct:0' id='m1'/>"}),
        )
        .await;
    let m = alice.expect_message(&proxy, "see the picture").await;
    assert!(
        m["xml"].as_str().unwrap().contains("message-correct:0"),
        "{m}"
    );
    alice
        .request_ok(
            json!({"cmd": "message", "to": proxy, "body": "got it", "id": "a1",
            "payload": "<request xmlns='urn:xmpp:receipts'/>"}),
        )
        .await;
    let m = juliet.expect_message(HELP, "got it").await;
    assert!(
        m["xml"].as_str().unwrap().contains("urn:xmpp:receipts"),
        "{m}"
    );
    // Juliet's client acknowledges (a receipt and a chat state, no body).
    juliet
        .request_ok(json!({"cmd": "raw", "xml": format!(
            "<message to='{HELP}' type='chat'><received xmlns='urn:xmpp:receipts' id='a1'/>\
             <active xmlns='http://jabber.org/protocol/chatstates'/></message>")}))
        .await;
    alice
        .expect_what(
            "the receipt",
            |e| {
                e["event"] == "message"
                    && e["xml"]
                        .as_str()
                        .is_some_and(|x| x.contains("urn:xmpp:receipts") && x.contains("a1"))
            },
            TIMEOUT,
        )
        .await;
}

/// An agent on another server: the support domain subscribes to her
/// presence; once she approves, she is routed sessions like anyone.
async fn an_agent_on_another_server_serves_through_federation(db: Db) {
    let more = format!(
        "\n[[agent]]\njid = \"{CAROL}\"\nname = \"Carol\"\nskills = [\"billing\"]\n\
         protocols = [\"xmpp\"]\nmax_live = 2\n"
    );
    let c = center_full(db, "direct", 2, "", &more);
    let mut carol = Client::login(&c.prosody, CAROL, PW, ClientOpts::default()).await;
    // Switchboard's request at start-up found no Prosody yet; Carol follows
    // the support domain, which approves and asks for her presence back.
    carol
        .request_ok(json!({"cmd": "subscribe", "to": "support.test"}))
        .await;
    carol.expect_presence("support.test", "subscribe").await;
    carol
        .request_ok(json!({"cmd": "subscribed", "to": "support.test"}))
        .await;
    let mut juliet = customer(&c, JULIET).await;
    juliet.message(HELP, "anyone?").await;
    let m = carol
        .expect_what(
            "the customer's message",
            |e| e["event"] == "message" && e["body"] == "anyone?",
            TIMEOUT,
        )
        .await;
    let proxy = m["from"]
        .as_str()
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    assert!(
        proxy.starts_with("s-") && proxy.ends_with("@support.test"),
        "{m}"
    );
    system_line(&mut juliet, "now chatting with Carol").await;
    carol.message(&proxy, "Carol, from afar").await;
    juliet.expect_message(HELP, "Carol, from afar").await;
    carol.message(&proxy, "/list").await;
    line_containing(&mut carol, &proxy).await;
}

/// Juliet and Romeo are one person on two accounts: Juliet spoke with Bob,
/// then Romeo with Alice, who links Romeo to Juliet. Juliet's next session
/// goes to Alice, the person's last agent, not Bob, and Alice sees the
/// other identity, Romeo's session and her note in the context.
async fn linked_identities_follow_the_person_to_their_last_agent(db: Db) {
    let c = center(db, "direct", 2);
    let mut bob = agent(&c, BOB).await;
    let mut juliet = customer(&c, JULIET).await;
    juliet.message(HELP, "first visit").await;
    let proxy = work_item(&mut bob, false).await["jid"]
        .as_str()
        .unwrap()
        .to_string();
    bob.expect_message(&proxy, "first visit").await;
    bob.message(&proxy, "/close").await;
    work_item(&mut bob, true).await;
    system_line(&mut juliet, "closed").await;
    bob.disconnect().await;

    let mut alice = agent(&c, ALICE).await;
    let mut romeo = customer(&c, ROMEO).await;
    romeo.message(HELP, "where is my refund?").await;
    let proxy = work_item(&mut alice, false).await["jid"]
        .as_str()
        .unwrap()
        .to_string();
    alice.expect_message(&proxy, "where is my refund?").await;
    alice.message(&proxy, "/link juliet@customer.test").await;
    let linked = line_containing(&mut alice, "Linked: one person now as").await;
    assert!(
        linked["body"].as_str().unwrap().contains(JULIET),
        "{linked}"
    );
    alice
        .message(&proxy, "!note refund promised by Friday")
        .await;
    alice.expect_message(&proxy, "Noted.").await;
    alice.message(&proxy, "/close").await;
    work_item(&mut alice, true).await;
    system_line(&mut romeo, "closed").await;

    // Bob is back; on her own Juliet would go to him.
    let bob = agent(&c, BOB).await;
    juliet.message(HELP, "second visit").await;
    let proxy = work_item(&mut alice, false).await["jid"]
        .as_str()
        .unwrap()
        .to_string();
    let context = line_containing(&mut alice, "Same person as: romeo@customer.test").await;
    assert_eq!(context["from"], proxy.as_str(), "{context}");
    let text = context["body"].as_str().unwrap();
    assert!(text.contains("romeo@customer.test · Alice"), "{text}");
    assert!(text.contains("refund promised by Friday"), "{text}");
    assert!(text.contains("juliet@customer.test · Bob"), "{text}");
    alice.expect_message(&proxy, "second visit").await;
    system_line(&mut juliet, "now chatting with Alice").await;
    bob.disconnect().await;
}
