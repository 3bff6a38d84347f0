//! Enterprise rules end to end (routing.toml `[[rule]]`, calendars,
//! `[protocols]`): keywords and business hours choose queues, a language
//! is refused politely, SMS customers go to SMS-capable agents with a
//! fallback when none is on duty, and identification that never answers
//! does not hold up the chat.

mod center;
mod common;

use center::*;
use common::{on_both_stores, Client, ClientOpts, Db, TIMEOUT};
use serde_json::json;

/// A calendar closed today and tomorrow (UTC), whatever the hour the test
/// runs at: both days are holidays.
fn closed_calendar() -> String {
    let today = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date();
    let tomorrow = today.tomorrow().expect("a date after today");
    format!(
        "[[calendar]]\nname = \"office\"\ntimezone = \"UTC\"\n\
         open = [\"mon-sun 00:00-24:00\"]\nholidays = [\"{today}\", \"{tomorrow}\"]\n"
    )
}

on_both_stores!(
    keywords_business_hours_and_language_choose_the_treatment,
    sms_customers_go_to_sms_agents_or_the_fallback,
    a_silent_transport_does_not_hold_up_the_chat_and_the_admin_map_names_it,
    a_client_rule_asks_for_an_agent_whose_client_shows_files,
);

async fn keywords_business_hours_and_language_choose_the_treatment(db: Db) {
    let routing = format!(
        "[defaults]\nassign = \"direct\"\n\n{}\n\
         [[queue]]\nname = \"general\"\nentry = [\"{HELP}\"]\n\n\
         [[queue]]\nname = \"billing\"\nentry = [\"billing@support.test\"]\n\n\
         [[queue]]\nname = \"after-hours\"\nentry = [\"late@support.test\"]\ncalendar = \"office\"\n\n\
         [[rule]]\nname = \"german\"\nlang = \"de\"\n\
         reject = \"Sorry, we can only help in English.\"\n\n\
         [[rule]]\nname = \"invoices\"\nkeywords = [\"invoice\", \"refund\"]\nqueue = \"billing\"\npriority = 20\n\n\
         [[rule]]\nname = \"closed\"\nentry = \"{HELP}\"\nclosed = \"office\"\nqueue = \"after-hours\"\n\
         message = \"We are closed today; an agent will answer when we open.\"\n",
        closed_calendar()
    );
    let c = center(db, &routing, true);
    let mut alice = agent(&c, ALICE).await;

    // A keyword wins over the hours: the billing queue.
    let mut juliet = customer(&c, JULIET).await;
    juliet.message(HELP, "About my INVOICE, please").await;
    let ctx = line_containing(&mut alice, "juliet@customer.test").await;
    let text = body(&ctx);
    assert!(text.contains("queue billing"), "{text}");
    assert!(text.contains("Routed by rule invoices"), "{text}");

    // Anything else while the office is closed: after-hours, with a word.
    let mut romeo = customer(&c, ROMEO).await;
    romeo.message(HELP, "hello?").await;
    let m = line_containing(&mut romeo, "We are closed today").await;
    assert_eq!(m["from"].as_str().unwrap().split('/').next(), Some(HELP));
    let ctx = line_containing(&mut alice, "romeo@customer.test").await;
    let text = body(&ctx);
    assert!(text.contains("queue after-hours"), "{text}");
    assert!(text.contains("Routed by rule closed"), "{text}");

    // A language nobody speaks: refused politely, and the session closed.
    let mut mercutio = customer(&c, MERCUTIO).await;
    mercutio.send(json!({"cmd": "message", "to": HELP, "body": "Guten Tag", "lang": "de"}));
    line_containing(&mut mercutio, "Sorry, we can only help in English.").await;
    alice
        .expect_none(
            |e| e["event"] == "message" && body(e).contains("mercutio@customer.test"),
            std::time::Duration::from_millis(500),
        )
        .await;

    // The after-hours entry shows it is closed, though Alice is online.
    mercutio
        .request_ok(json!({"cmd": "subscribe", "to": "late@support.test"}))
        .await;
    let p = mercutio
        .expect_what(
            "the entry's presence",
            |e| {
                e["event"] == "presence"
                    && e["from"] == "late@support.test"
                    && e["type"] == "available"
            },
            TIMEOUT,
        )
        .await;
    assert_eq!(p["show"], "xa", "{p}");
}

async fn sms_customers_go_to_sms_agents_or_the_fallback(db: Db) {
    let routing = format!(
        "[defaults]\nassign = \"direct\"\n\n\
         [[queue]]\nname = \"general\"\nentry = [\"{HELP}\"]\n\n\
         [[queue]]\nname = \"sms\"\nentry = [\"text@support.test\"]\n\n\
         [[rule]]\nname = \"sms\"\nchannel = \"sms\"\nqueue = \"sms\"\nagent_protocol = \"sms\"\n\
         fallback = \"general\"\nmessage = \"Thanks! An agent will answer by SMS.\"\n"
    );
    let c = center(db, &routing, false);
    let mut alice = agent(&c, ALICE).await;
    let mut sms = transport(&c, &["--max-length", "160"]).await;

    // Bob, the only SMS agent, is away: the fallback queue, any agent.
    sms.send(json!({"cmd": "message", "from": "+15550001", "to": HELP, "body": "first"}));
    let ctx = line_containing(&mut alice, "+15550001@sms.support.test").await;
    let text = body(&ctx);
    assert!(text.contains("queue general"), "{text}");
    assert!(
        text.contains("Routed by rule sms, fallback: nobody able to serve the channel was on duty"),
        "{text}"
    );

    // With Bob on duty, the next SMS customer is his, not Alice's. His
    // presence and the SMS come over two connections: the gateway must
    // have seen the first before the second arrives.
    let mut bob = agent(&c, BOB).await;
    c.sb.wait_for_log(
        "agent availability agent=bob@agents.support.test availability=Live",
        TIMEOUT,
    )
    .await;
    sms.send(json!({"cmd": "message", "from": "+15550002", "to": HELP, "body": "second"}));
    let ctx = line_containing(&mut bob, "+15550002@sms.support.test").await;
    let text = body(&ctx);
    assert!(text.contains("queue sms"), "{text}");
    assert!(
        text.contains("Routed by rule sms; agent protocol sms"),
        "{text}"
    );
    let m = sms
        .expect_what(
            "the rule's message",
            |e| {
                e["event"] == "message"
                    && e["to"] == "+15550002@sms.support.test"
                    && body(e).contains("answer by SMS")
            },
            TIMEOUT,
        )
        .await;
    assert_eq!(m["from"], HELP);
}

async fn a_silent_transport_does_not_hold_up_the_chat_and_the_admin_map_names_it(db: Db) {
    let routing =
        format!("{ROUTING}\n[protocols]\n\"{SMS}\" = {{ protocol = \"sms\", max_length = 70 }}\n");
    let c = center(db, &routing, false);
    let mut bob = agent(&c, BOB).await;
    let mut sms = transport(&c, &["--silent-disco"]).await;
    sms.send(json!({"cmd": "message", "from": "+15550003", "to": HELP, "body": "anyone?"}));
    // Routed once identification times out, with what the admin said.
    let ctx = line_containing(&mut bob, "Channel:").await;
    let text = body(&ctx);
    assert!(
        text.contains(
            "Channel: sms via sms.support.test [set by the admin, max 70 characters per message]"
        ),
        "{text}"
    );
    assert!(text.contains("Features: unknown"), "{text}");
    let m = line_containing(&mut bob, "anyone?").await;
    let proxy = m["from"].as_str().unwrap().to_string();
    bob.message(&proxy, &"x".repeat(100)).await;
    let first = sms
        .expect_what(
            "the first part",
            |e| e["event"] == "message" && body(e).starts_with('x'),
            TIMEOUT,
        )
        .await;
    assert_eq!(body(&first).len(), 70);
    let second = sms
        .expect_what(
            "the second part",
            |e| e["event"] == "message" && body(e).starts_with('x'),
            TIMEOUT,
        )
        .await;
    assert_eq!(body(&second).len(), 30);
}

async fn a_client_rule_asks_for_an_agent_whose_client_shows_files(db: Db) {
    let routing = format!(
        "{ROUTING}\n[[rule]]\nname = \"file-senders\"\nclient = \"Pigeon\"\nfeatures = \"oob\"\n\
         agent_features = \"oob\"\n"
    );
    let c = center(db, &routing, true);
    // Alice is idle longest, but her client announces no file links.
    let mut alice = agent(&c, ALICE).await;
    let mut opts = ClientOpts::default();
    opts.args
        .extend(["--feature", "jabber:x:oob"].map(String::from));
    let mut bob = Client::login(&c.sb, BOB, PW, opts.clone()).await;
    let prosody = c.prosody.as_ref().unwrap();
    let mut juliet = Client::login(prosody, JULIET, PW, opts.software("Pigeon", "2.7")).await;
    juliet.message(HELP, "a photo of the damage").await;
    let ctx = line_containing(&mut bob, "juliet@customer.test").await;
    let text = body(&ctx);
    assert!(text.contains("Client: Pigeon 2.7"), "{text}");
    assert!(text.contains("Features: oob"), "{text}");
    assert!(
        text.contains("Routed by rule file-senders; agent protocol xmpp; agent client needs oob"),
        "{text}"
    );
    alice
        .expect_none(
            |e| e["event"] == "message" && body(e).contains("juliet@customer.test"),
            std::time::Duration::from_millis(300),
        )
        .await;
}
