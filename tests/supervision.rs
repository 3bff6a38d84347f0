//! Escalation and supervision end to end, on both stores: slixmpp
//! customers on a real Prosody, slixmpp agents and a supervisor on
//! Switchboard. A customer who grows angry in the queue gets the priority
//! a rule gives and jumps the line; the supervisor monitors a live chat,
//! whispers to the agent (the customer never sees it) and barges in; the
//! first-level agent escalates with a note, the classifier picks billing,
//! and the second-level agent of billing gets the note, the categories and
//! the transcript first; `switchboard transcript` tells all of it.

mod center;
mod common;

use center::*;
use common::{on_both_stores, Db, ServerOpts};
use serde_json::Value;

const SUE: &str = "sue@agents.support.test";

/// Alice (first level, one live chat), Bob (second level, billing) and
/// Sue (supervisor, who takes nothing by routing: tier 2, no category).
const STAFF: &str = "[[agent]]\njid = \"alice@agents.support.test\"\nname = \"Alice\"\ntier = 1\n\
     protocols = [\"xmpp\"]\nmax_live = 1\n\n\
     [[agent]]\njid = \"bob@agents.support.test\"\nname = \"Bob\"\ntier = 2\n\
     categories = [\"billing\"]\nprotocols = [\"xmpp\"]\nmax_live = 3\n\n\
     [[agent]]\njid = \"sue@agents.support.test\"\nname = \"Sue\"\ntier = 2\n\
     role = \"supervisor\"\nprotocols = [\"xmpp\"]\nmax_live = 3\n";

const QUEUES: &str = "[defaults]\nassign = \"direct\"\n\n\
     [[queue]]\nname = \"general\"\nentry = [\"help@support.test\"]\ntier = 1\n\n\
     [[queue]]\nname = \"billing-l2\"\nentry = [\"experts@support.test\"]\ntier = 2\n\
     assign = \"offer\"\n\n\
     [[rule]]\nname = \"angry\"\nfrustration_above = 0.5\npriority = 9\nalert = true\n";

const CATEGORIES: &str = r#"
[[category]]
name = "billing"
description = { en = "Charges and refunds" }
queue = "billing-l2"
[category.examples]
en = ["I was charged twice for one order", "where is my refund", "the invoice amount is wrong", "my card was debited without reason"]
[category.keywords]
en = ["refund", "invoice", "charged", "debited"]

[[category]]
name = "delivery"
description = { en = "Late and lost parcels" }
queue = "billing-l2"
[category.examples]
en = ["my parcel is late", "the package never arrived", "the tracking has not moved for days"]
[category.keywords]
en = ["parcel", "package", "tracking", "courier"]
"#;

on_both_stores!(escalation_supervision_and_mood_with_real_clients);

fn proxy_of(e: &Value) -> String {
    e["from"]
        .as_str()
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string()
}

async fn escalation_supervision_and_mood_with_real_clients(db: Db) {
    let opts = ServerOpts::default()
        .account(SUE, PW)
        .categories_toml(CATEGORIES);
    let c = center_from(db, opts, STAFF, QUEUES, true);
    let mut alice = agent(&c, ALICE).await;
    let mut bob = agent(&c, BOB).await;
    let mut sue = agent(&c, SUE).await;

    // Juliet is Alice's only live chat; Romeo, then Mercutio, wait.
    let mut juliet = customer(&c, JULIET).await;
    juliet
        .message(
            HELP,
            "Hello, you charged me twice for my order, I want my money back",
        )
        .await;
    let ctx = line_containing(&mut alice, "juliet@customer.test").await;
    let proxy = proxy_of(&ctx);
    let id = proxy.split('@').next().unwrap().to_string();
    juliet
        .expect_message(HELP, "You are now chatting with Alice.")
        .await;
    let mut romeo = customer(&c, ROMEO).await;
    romeo
        .message(HELP, "hello, when do you open on Sunday?")
        .await;
    line_containing(&mut romeo, "You are number 1 in the queue").await;
    let mut mercutio = customer(&c, MERCUTIO).await;
    mercutio
        .message(HELP, "hi, a question about a gift card")
        .await;
    line_containing(&mut mercutio, "You are number 2 in the queue").await;
    // Mercutio loses patience: the rule on the mood puts him first, and
    // Sue is alerted.
    mercutio
        .message(
            HELP,
            "THIS IS RIDICULOUS!!! Nobody answers, I want a human NOW",
        )
        .await;
    line_containing(&mut mercutio, "You are number 1 in the queue").await;
    let alert = line_containing(&mut sue, "Alert (rule angry): mercutio@customer.test").await;
    assert!(body(&alert).contains("frustrated"), "{alert}");

    // Sue watches Juliet's chat: both sides, labelled, from the proxy.
    sue.message("support.test", &format!("!monitor {id}")).await;
    line_containing(&mut sue, &format!("Monitoring {id}")).await;
    alice.message(&proxy, "Let me look at your payments").await;
    juliet
        .expect_message(HELP, "Let me look at your payments")
        .await;
    let seen = line_containing(&mut sue, "[Alice] Let me look at your payments").await;
    assert_eq!(proxy_of(&seen), proxy);
    juliet.message(HELP, "please hurry").await;
    line_containing(&mut sue, "[customer] please hurry").await;
    line_containing(&mut alice, "please hurry").await;

    // A whisper: Alice sees it, Juliet never does.
    sue.message(&proxy, "ask for the order number").await;
    line_containing(&mut alice, "[whisper from Sue] ask for the order number").await;
    // Barging in: Juliet hears Sue, by name.
    sue.message(&proxy, "barge").await;
    juliet
        .expect_message(HELP, "Sue, a supervisor, has joined the conversation.")
        .await;
    sue.message(&proxy, "We are sorry about this").await;
    let said = juliet.expect_message(HELP, "We are sorry about this").await;
    line_containing(&mut alice, "[Sue to the customer] We are sorry about this").await;
    assert!(
        said.to_string().contains("Sue"),
        "the customer's client gets the supervisor's name: {said}"
    );

    // Alice escalates; the classifier reads billing; Bob gets it first,
    // with the note, the categories and the transcript.
    alice
        .message(
            &proxy,
            "!escalate charged twice for one order, refund the duplicate",
        )
        .await;
    let reply = line_containing(&mut alice, "escalated to billing").await;
    assert!(body(&reply).contains("queue billing-l2"), "{reply}");
    line_containing(&mut juliet, "A specialist will take over").await;
    // Offered to Bob, in his Escalated group; he takes it.
    let offer = line_containing(&mut bob, "New chat from juliet@customer.test").await;
    assert_eq!(proxy_of(&offer), proxy);
    bob.message(&proxy, "take").await;
    let ctx = line_containing(&mut bob, "Escalated by alice@agents.support.test").await;
    let text = body(&ctx);
    assert!(text.contains("Categories: billing"), "{text}");
    assert!(text.contains("refund the duplicate"), "{text}");
    assert!(text.contains("you charged me twice"), "{text}");
    assert!(
        text.contains("whisper by sue@agents.support.test"),
        "{text}"
    );
    let item = bob
        .expect_what(
            "the escalated session in Bob's work list",
            |e| e["event"] == "roster_push" && e["items"][0]["groups"][0] == "Escalated",
            common::TIMEOUT,
        )
        .await;
    assert!(
        item["items"][0]["name"]
            .as_str()
            .unwrap()
            .contains("billing"),
        "{item}"
    );
    juliet
        .expect_message(HELP, "You are now chatting with Bob.")
        .await;
    line_containing(&mut sue, "is now with Bob; you still monitor it").await;
    // Alice is free: the angry Mercutio goes before Romeo.
    mercutio
        .expect_message(HELP, "You are now chatting with Alice.")
        .await;
    bob.message(&proxy, "I have refunded the duplicate charge")
        .await;
    juliet
        .expect_message(HELP, "I have refunded the duplicate charge")
        .await;
    line_containing(&mut sue, "[Bob] I have refunded the duplicate charge").await;

    // Nothing Sue whispered reached Juliet.
    let leaked: Vec<&Value> = juliet
        .seen()
        .iter()
        .filter(|e| body(e).contains("order number"))
        .collect();
    assert!(leaked.is_empty(), "{leaked:?}");

    bob.message(&proxy, "close").await;
    line_containing(&mut sue, "closed; you no longer monitor it").await;
    line_containing(&mut juliet, "This chat is closed").await;
    let json: Value = serde_json::from_str(&c.sb.cli_ok(&["transcript", &id, "--json"])).unwrap();
    let kinds: Vec<&str> = json["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["kind"].as_str().unwrap())
        .collect();
    for kind in ["customer", "agent", "whisper", "event", "note"] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    assert_eq!(json["context"]["escalation"]["by"], ALICE, "{json}");
    let text = c.sb.cli_ok(&["transcript", &id]);
    assert!(
        text.contains("whisper by sue@agents.support.test: ask for the order number"),
        "{text}"
    );
    assert!(
        text.contains("event by sue@agents.support.test: Sue barged in"),
        "{text}"
    );
}

/// An agent's correction comes back to the admin as an example that
/// categories.toml takes as it is: exported, appended, checked.
#[tokio::test]
async fn a_correction_is_exported_as_an_example_the_file_takes() {
    const CUSTOMER: &str = "carla@agents.support.test";
    let opts = ServerOpts::default()
        .account(SUE, PW)
        .account(CUSTOMER, PW)
        .categories_toml(CATEGORIES);
    let c = center_from(Db::Sqlite, opts, STAFF, QUEUES, false);
    let mut alice = agent(&c, ALICE).await;
    let mut bob = agent(&c, BOB).await;
    let mut carla = common::Client::login(&c.sb, CUSTOMER, PW, Default::default()).await;
    carla
        .message(HELP, "the courier says delivered but my box is not here")
        .await;
    let ctx = line_containing(&mut alice, CUSTOMER).await;
    let proxy = proxy_of(&ctx);
    alice
        .message(&proxy, "!escalate billing: she wants her money back")
        .await;
    line_containing(&mut alice, "escalated to billing").await;
    line_containing(&mut bob, "New chat from carla@agents.support.test").await;
    bob.message(&proxy, "take").await;
    line_containing(&mut bob, "Escalated by alice@agents.support.test").await;
    bob.message(&proxy, "!category delivery").await;
    line_containing(&mut bob, "goes to the agents of delivery").await;

    let export = c.sb.cli_ok(&["categories", "export"]);
    assert!(
        export.contains("[[example]]\ncategory = \"delivery\"\nlang = \"en\""),
        "{export}"
    );
    assert!(export.contains("the courier says delivered"), "{export}");
    assert!(export.contains("was billing"), "{export}");
    let file = c.sb.path().join("categories.toml");
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str(&export);
    std::fs::write(&file, text).unwrap();
    let check = c.sb.cli_ok(&["check"]);
    assert!(check.contains("categories.toml: ok"), "{check}");
    let none =
        c.sb.cli_ok(&["categories", "export", "--since", "2999-01-01"]);
    assert!(none.starts_with("# 0 examples"), "{none}");
}
