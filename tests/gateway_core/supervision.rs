//! Escalation and supervision in the gateway (`escalate.rs`,
//! `supervise.rs`, `overview.rs`, `moods.rs`): a first-level agent's
//! escalation is classified into the admin's categories and offered to the
//! second level with the note and the transcript; a correction moves it
//! and is recorded; with nobody of the category on duty it waits and
//! everyone is told; a supervisor monitors, whispers (never to the
//! customer), barges in and takes over, follows a session that moves, and
//! is the only one who may; a customer who grows angry while waiting gets
//! the priority a rule gives and the supervisor an alert.

use std::time::Duration;

use super::harness::*;
use switchboard::store::Direction;

const CAROL: &str = "carol@agents.support.test";
const CAROL_DESK: &str = "carol@agents.support.test/desk";
const SUE: &str = "sue@agents.support.test";
const SUE_DESK: &str = "sue@agents.support.test/desk";

/// Alice takes `alice_live` live chats at most, and no async ones unless
/// she takes 3 live.
fn agents(alice_live: u32) -> String {
    let agent = |jid: &str, name: &str, tier: u8, extra: &str| {
        let (live, async_) = match jid {
            ALICE if alice_live < 3 => (alice_live, 0),
            _ => (3, 5),
        };
        format!(
            "[[agent]]\njid = \"{jid}\"\nname = \"{name}\"\ntier = {tier}\n\
             protocols = [\"xmpp\"]\nmax_live = {live}\nmax_async = {async_}\n{extra}\n"
        )
    };
    agent(ALICE, "Alice", 1, "")
        + &agent(BOB, "Bob", 2, "categories = [\"billing\"]\n")
        + &agent(CAROL, "Carol", 2, "categories = [\"delivery\"]\n")
        // Tier 2 without categories: routing offers her nothing, so that
        // what she gets is what she asked for.
        + &agent(SUE, "Sue", 2, "role = \"supervisor\"\n")
}

fn routing(rules: &str) -> String {
    format!(
        "[defaults]\nassign = \"offer\"\noffer_timeout_secs = 30\n\n\
         [[queue]]\nname = \"general\"\nentry = [\"{HELP}\"]\ntier = 1\n\n\
         [[queue]]\nname = \"l2\"\nentry = [\"experts@support.test\"]\ntier = 2\n\n{rules}"
    )
}

const CATEGORIES: &str = r#"
[[category]]
name = "billing"
description = { en = "Charges and refunds" }
queue = "l2"
[category.examples]
en = ["I was charged twice for one order", "where is my refund", "the invoice amount is wrong", "my card was debited without reason"]
[category.keywords]
en = ["refund", "invoice", "charged", "debited"]

[[category]]
name = "delivery"
description = { en = "Late and lost parcels" }
queue = "l2"
[category.examples]
en = ["my parcel is late", "the package never arrived", "the tracking has not moved for days", "the courier left it at the wrong door"]
[category.keywords]
en = ["parcel", "package", "tracking", "courier"]
"#;

async fn center(rules: &str) -> Harness {
    center_with(3, rules).await
}

async fn center_with(alice_live: u32, rules: &str) -> Harness {
    let mut h = Harness::with_categories(&agents(alice_live), &routing(rules), CATEGORIES).await;
    for desk in [ALICE_DESK, BOB_DESK, CAROL_DESK, SUE_DESK] {
        h.agent_presence(desk, true, None).await;
    }
    h.clear();
    h
}

/// Juliet writes `first`; Alice is offered it and takes it: the proxy.
async fn alice_takes(h: &mut Harness, first: &str) -> String {
    h.customer_opens(JULIET, first).await;
    let offer = h.line_to(ALICE, "New chat from juliet@customer.test");
    let proxy = bare(offer.from().unwrap()).to_string();
    h.message(ALICE_DESK, &proxy, "take").await;
    h.line_to(ALICE, "is yours");
    proxy
}

#[tokio::test]
async fn an_escalation_is_classified_and_offered_to_the_second_level_with_the_note() {
    let mut h = center("").await;
    let proxy = alice_takes(&mut h, "hello, you took the money twice from my card").await;
    h.message(JULIET, HELP, "I only bought one lamp").await;
    h.message(ALICE_DESK, &proxy, "let me check that for you")
        .await;
    h.clear();
    h.message(
        ALICE_DESK,
        &proxy,
        "!escalate double charge on the lamp order, refund needed",
    )
    .await;
    let reply = h.line_to(ALICE, "escalated to billing");
    let text = reply.body().unwrap();
    assert!(text.contains("queue l2"), "{text}");
    assert!(text.contains("offered to Bob"), "{text}");
    assert!(
        h.roster_removes(ALICE).contains(&proxy),
        "out of Alice's work list: {}",
        h.dump()
    );
    h.line_to(JULIET_BARE, "A specialist will take over");
    // Bob handles billing; Carol, delivery only, is not offered it.
    let item = h.work_item(BOB);
    assert_eq!(item.groups, vec!["Escalated".to_string()]);
    assert!(
        item.name.as_deref().unwrap().contains("billing"),
        "{item:?}"
    );
    h.line_to(BOB, "New chat from juliet@customer.test");
    assert!(!h.has_line_to(CAROL, "New chat"), "{}", h.dump());
    h.message(BOB_DESK, &proxy, "take").await;
    let context = h.line_to(BOB, "Escalated by alice@agents.support.test");
    let text = context.body().unwrap();
    assert!(text.contains("double charge on the lamp order"), "{text}");
    assert!(text.contains("Categories: billing"), "{text}");
    assert!(text.contains("you took the money twice"), "{text}");
    assert!(text.contains("let me check that for you"), "{text}");
    h.line_to(JULIET_BARE, "You are now chatting with Bob");
}

#[tokio::test]
async fn with_nobody_of_the_category_on_duty_the_escalation_waits_and_everyone_is_told() {
    let mut h = center("").await;
    h.agent_presence(CAROL_DESK, false, None).await;
    let proxy = alice_takes(&mut h, "my parcel is late, the tracking has not moved").await;
    h.clear();
    h.message(
        ALICE_DESK,
        &proxy,
        "/escalate lost parcel, needs the carrier",
    )
    .await;
    let reply = h.line_to(ALICE, "escalated to delivery");
    assert!(
        reply
            .body()
            .unwrap()
            .contains("no second-level agent for delivery is on duty"),
        "{reply:?}"
    );
    h.line_to(JULIET_BARE, "A specialist will take over");
    h.line_to(
        JULIET_BARE,
        "Nobody who can help with this is on duty right now",
    );
    assert!(!h.has_line_to(BOB, "New chat"), "{}", h.dump());
    let states = h.session_states().await;
    assert_eq!(states[0].1, "waiting", "{states:?}");
    // Never dropped: Carol is offered it when she is back.
    h.agent_presence(CAROL_DESK, true, None).await;
    h.line_to(CAROL, "New chat from juliet@customer.test");
}

#[tokio::test]
async fn an_explicit_category_a_correction_and_its_record_for_export() {
    let mut h = center("").await;
    let proxy = alice_takes(&mut h, "hello").await;
    h.message(ALICE_DESK, &proxy, "!escalate nowhere: what?")
        .await;
    // Not a category: classified, and the words say nothing.
    h.line_to(ALICE, "I could not tell the category");
    h.message(
        ALICE_DESK,
        &proxy,
        "!escalate billing: customer asks about an invoice",
    )
    .await;
    h.line_to(ALICE, "escalated to billing 1.00");
    h.message(BOB_DESK, &proxy, "take").await;
    h.message(BOB_DESK, &proxy, "!category nope").await;
    h.line_to(BOB, "No category called nope: use billing, delivery");
    h.message(BOB_DESK, &proxy, "!category delivery").await;
    h.line_to(BOB, "goes to the agents of delivery");
    h.line_to(CAROL, "New chat from juliet@customer.test");
    let corrections = h.store.corrections_since(0).await.unwrap();
    assert_eq!(corrections.len(), 1, "{corrections:?}");
    let c = &corrections[0];
    assert_eq!(
        (c.was.clone(), c.category.as_str()),
        (vec!["billing".to_string()], "delivery")
    );
    assert_eq!(c.agent, BOB);
    assert!(c.text.contains("customer asks about an invoice"), "{c:?}");
    // Who, what and when, in the transcript.
    let id = bare(&proxy).split('@').next().unwrap().to_string();
    let t = switchboard::gateway::transcript::load(&h.store, &id)
        .await
        .unwrap()
        .to_text();
    assert!(
        t.contains("event by alice@agents.support.test: escalated by"),
        "{t}"
    );
    assert!(
        t.contains("event by bob@agents.support.test: category corrected to delivery"),
        "{t}"
    );
}

#[tokio::test]
async fn a_supervisor_monitors_whispers_barges_in_and_takes_over() {
    let mut h = center("").await;
    let proxy = alice_takes(&mut h, "hello, where is my order?").await;
    let id = proxy.split('@').next().unwrap().to_string();
    h.control(SUE_DESK, &format!("!monitor {id}")).await;
    h.line_to(SUE, "Monitoring");
    h.message(JULIET, HELP, "are you there?").await;
    assert_eq!(
        h.line_to(SUE, "[customer] are you there?").from(),
        Some(proxy.as_str())
    );
    h.message(ALICE_DESK, &proxy, "yes, one moment").await;
    h.line_to(SUE, "[Alice] yes, one moment");
    h.line_to(JULIET_BARE, "yes, one moment");

    // A whisper reaches the agent, never the customer.
    h.message(SUE_DESK, &proxy, "offer her a voucher").await;
    h.line_to(ALICE, "[whisper from Sue] offer her a voucher");
    let to_juliet = h.messages_to(JULIET_BARE);
    assert!(
        to_juliet.iter().all(|(_, b)| !b.contains("voucher")),
        "{to_juliet:?}"
    );
    h.control(SUE_DESK, &format!("!whisper {id} and apologise"))
        .await;
    h.line_to(ALICE, "[whisper from Sue] and apologise");
    assert!(h.messages_to(JULIET_BARE).is_empty(), "{}", h.dump());

    // Barging in: the customer is told who, and hears the supervisor.
    h.message(SUE_DESK, &proxy, "barge").await;
    h.line_to(
        JULIET_BARE,
        "Sue, a supervisor, has joined the conversation.",
    );
    h.line_to(ALICE, "Sue joined the conversation");
    h.message(SUE_DESK, &proxy, "I am sorry for the wait").await;
    let line = h.line_to(JULIET_BARE, "I am sorry for the wait");
    assert!(
        String::from_utf8_lossy(line.bytes()).contains(">Sue</nick>"),
        "{line:?}"
    );
    h.line_to(ALICE, "[Sue to the customer] I am sorry for the wait");

    // Taking over: the chat is Sue's.
    h.message(SUE_DESK, &proxy, "takeover").await;
    h.line_to(JULIET_BARE, "You are now chatting with Sue");
    assert!(h.roster_removes(ALICE).contains(&proxy), "{}", h.dump());
    h.line_to(ALICE, "This session was taken over by Sue");
    let states = h.session_states().await;
    assert_eq!(states[0].2.as_deref(), Some(SUE), "{states:?}");

    let t = h.store.transcript(&id).await.unwrap();
    let whispers: Vec<&str> = t
        .iter()
        .filter(|m| m.direction == Direction::Whisper)
        .map(|m| m.body.as_deref().unwrap())
        .collect();
    assert_eq!(whispers, ["offer her a voucher", "and apologise"]);
    let events: Vec<&str> = t
        .iter()
        .filter(|m| m.direction == Direction::Event)
        .map(|m| m.body.as_deref().unwrap())
        .collect();
    assert_eq!(
        events,
        [
            "monitoring started by Sue",
            "Sue barged in",
            "taken over by Sue"
        ]
    );
    let barge = t
        .iter()
        .find(|m| m.body.as_deref() == Some("I am sorry for the wait"))
        .unwrap();
    assert_eq!(
        (barge.direction, barge.sender.as_str()),
        (Direction::Out, SUE)
    );
}

#[tokio::test]
async fn supervisor_commands_are_forbidden_to_agents_and_show_the_center_to_supervisors() {
    let mut h = center("").await;
    h.agent_presence(ALICE_DESK, false, None).await;
    h.customer_opens(JULIET, "I WANT A HUMAN NOW!!! nobody answers")
        .await;
    h.clear();
    h.control(ALICE_DESK, "queues").await;
    let (cond, _) = h.error_to(ALICE_DESK);
    assert_eq!(cond, "forbidden");
    h.control(ALICE_DESK, "!monitor s-whatever").await;
    assert_eq!(h.error_to(ALICE_DESK).0, "forbidden");
    let answer = h
        .iq(
            ALICE_DESK,
            SUPPORT,
            "set",
            "<command xmlns='http://jabber.org/protocol/commands' node='queues' action='execute'/>",
        )
        .await;
    assert_eq!(condition(&answer).as_deref(), Some("forbidden"));

    h.control(SUE_DESK, "queues").await;
    let report = h.line_to(SUE, "Queue general: 1 waiting");
    let text = report.body().unwrap();
    assert!(text.contains("juliet@customer.test waiting"), "{text}");
    assert!(text.contains("(frustrated)"), "{text}");
    h.control(SUE_DESK, "agents").await;
    let report = h.line_to(SUE, "Bob (bob@agents.support.test, tier 2): available");
    assert!(report.body().unwrap().contains("Alice"), "{report:?}");
    let answer = h
        .iq(
            SUE_DESK,
            SUPPORT,
            "set",
            "<command xmlns='http://jabber.org/protocol/commands' node='queues' action='execute'/>",
        )
        .await;
    let xml = String::from_utf8_lossy(answer.bytes()).into_owned();
    assert!(xml.contains("Queue general: 1 waiting"), "{xml}");
}

#[tokio::test]
async fn a_monitor_follows_a_session_that_moves_and_is_told_when_it_closes() {
    let mut h = center("").await;
    let proxy = alice_takes(&mut h, "I was charged twice, I want a refund").await;
    let id = proxy.split('@').next().unwrap().to_string();
    h.control(SUE_DESK, &format!("!monitor {id}")).await;
    h.clear();
    h.message(ALICE_DESK, &proxy, "!escalate refund of a double charge")
        .await;
    h.line_to(SUE, "is waiting in queue l2; you still monitor it");
    h.message(BOB_DESK, &proxy, "take").await;
    h.line_to(SUE, "is now with Bob; you still monitor it");
    h.message(JULIET, HELP, "thanks").await;
    h.line_to(SUE, "[customer] thanks");
    h.message(BOB_DESK, &proxy, "close").await;
    h.line_to(SUE, "closed; you no longer monitor it");
}

#[tokio::test]
async fn a_customer_growing_angry_in_the_queue_gets_the_rule_s_priority_and_an_alert() {
    let rules = "[[rule]]\nname = \"angry\"\nfrustration_above = 0.5\npriority = 9\nalert = true\n";
    // Alice, the only first-level agent, has room for one chat: Romeo's.
    let mut h = center_with(1, rules).await;
    h.customer_opens(ROMEO, "hello, a question about my order")
        .await;
    h.line_to(ALICE, "New chat from romeo@customer.test");
    h.customer_opens(MERCUTIO, "hello, is the shop open on Sunday?")
        .await;
    h.advance(Duration::from_secs(1)).await;
    h.customer_opens(JULIET, "hi, I have a question too").await;
    h.line_to(JULIET_BARE, "You are number 2 in the queue");
    h.clear();
    h.advance(Duration::from_secs(90)).await;
    h.message(
        JULIET,
        HELP,
        "THIS IS RIDICULOUS!!! I have been waiting forever, I want a human NOW",
    )
    .await;
    h.line_to(JULIET_BARE, "You are number 1 in the queue");
    let alert = h.line_to(SUE, "Alert (rule angry): juliet@customer.test");
    assert!(alert.body().unwrap().contains("frustrated"), "{alert:?}");
    let juliet = h.stored_session(JULIET_BARE).await.unwrap();
    assert_eq!(juliet.priority, 9);
    // Once per session: the next angry line alerts nobody.
    h.message(JULIET, HELP, "HELLO??? ANYONE???").await;
    assert!(!h.has_line_to(SUE, "Alert"), "{}", h.dump());
    h.control(SUE_DESK, &format!("!monitor {}", juliet.id))
        .await;
    let info = h.line_to(SUE, "Monitoring");
    assert!(info.body().unwrap().contains("Mood: "), "{info:?}");
    let t = switchboard::gateway::transcript::load(&h.store, &juliet.id)
        .await
        .unwrap();
    let json: serde_json::Value = serde_json::from_str(&t.to_json()).unwrap();
    let kinds: Vec<&str> = json["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"event"), "{json}");
    assert!(
        t.to_text().contains("priority 9 by rule angry"),
        "{}",
        t.to_text()
    );
}

#[tokio::test]
async fn a_transcript_names_the_customer_s_linked_identities() {
    let mut h = center("").await;
    let first = alice_takes(&mut h, "hello from my laptop").await;
    h.message(ALICE_DESK, &first, "close").await;
    h.customer_opens(ROMEO, "hello from my phone, same person")
        .await;
    let offer = h.line_to(ALICE, "New chat from romeo@customer.test");
    let proxy = bare(offer.from().unwrap()).to_string();
    h.message(ALICE_DESK, &proxy, "take").await;
    h.message(ALICE_DESK, &proxy, "!link juliet@customer.test")
        .await;
    h.line_to(ALICE, "Linked: one person now as");
    let id = proxy.split('@').next().unwrap();
    let t = switchboard::gateway::transcript::load(&h.store, id)
        .await
        .unwrap();
    assert_eq!(t.linked, vec![JULIET_BARE.to_string()]);
    assert!(
        t.to_text()
            .contains("Linked identities: juliet@customer.test"),
        "{}",
        t.to_text()
    );
    let missing = switchboard::gateway::transcript::load(&h.store, "s-nothere").await;
    assert_eq!(missing.unwrap_err().to_string(), "no session s-nothere");
}
