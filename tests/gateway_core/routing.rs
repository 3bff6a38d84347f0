//! What routing.toml decides: a rule's fallback queue, a polite refusal,
//! a rule's message, and the waiting line's positions.

use std::time::Duration;

use super::harness::*;

const SMS_1: &str = "+15550001@sms.test";
const SMS_2: &str = "+15550002@sms.test";

#[tokio::test]
async fn a_rule_falls_back_when_nobody_who_can_serve_is_on_duty() {
    // Bob is the only agent serving SMS customers.
    let agents = agent_toml(ALICE, "Alice", &["xmpp"], 2, 5)
        + &agent_toml(BOB, "Bob", &["xmpp", "sms"], 2, 5);
    let more = "\n[[queue]]\nname = \"sms\"\nentry = [\"text@support.test\"]\n\n\
                [protocols]\n\"sms.test\" = \"sms\"\n\n\
                [[rule]]\nname = \"sms\"\nchannel = \"sms\"\nqueue = \"sms\"\nfallback = \"general\"\n\
                message = \"Thanks! An agent will answer by SMS.\"\n";
    let mut h = Harness::start(&agents, &routing_toml("direct", "", more)).await;
    h.agent_presence(ALICE_DESK, true, None).await;
    // Bob is not connected: the fallback queue, any agent.
    h.customer_opens(SMS_1, "first").await;
    assert_eq!(h.line_to(SMS_1, "answer by SMS").from(), Some(HELP));
    let info = h.line_to(ALICE, SMS_1).body().unwrap();
    assert!(info.contains("queue general"), "{info}");
    assert!(
        info.contains("Routed by rule sms, fallback: nobody able to serve the channel was on duty"),
        "{info}"
    );
    // With Bob on duty, the next SMS customer is his, not Alice's.
    h.agent_presence(BOB_DESK, true, None).await;
    h.customer_opens(SMS_2, "second").await;
    h.line_to(SMS_2, "answer by SMS");
    let info = h.line_to(BOB, SMS_2).body().unwrap();
    assert!(info.contains("queue sms"), "{info}");
    assert!(
        info.contains("Routed by rule sms; agent protocol sms"),
        "{info}"
    );
    assert!(!h.has_line_to(ALICE, SMS_2), "{}", h.dump());
}

#[tokio::test]
async fn a_rule_refuses_politely_and_another_sends_its_message() {
    let more = "\n[[queue]]\nname = \"billing\"\nentry = [\"billing@support.test\"]\n\n\
                [[rule]]\nname = \"german\"\nlang = \"de\"\nreject = \"Sorry, we can only help in English.\"\n\n\
                [[rule]]\nname = \"invoices\"\nkeywords = [\"invoice\", \"refund\"]\nqueue = \"billing\"\n\
                message = \"A billing specialist will answer you.\"\n";
    let mut h = Harness::start(&agents_toml(2), &routing_toml("direct", "", more)).await;
    h.agent_presence(ALICE_DESK, true, None).await;
    h.stanza(&format!(
        "<message type='chat' xml:lang='de' from='{ROMEO}' to='{HELP}' id='de1'>\
         <body>Guten Tag</body></message>"
    ))
    .await;
    h.advance(Duration::from_secs(3)).await;
    let refusal = h.line_to(ROMEO_BARE, "Sorry, we can only help in English.");
    assert_eq!(refusal.from(), Some(HELP));
    // Closed without the usual farewell, and no agent saw it.
    assert!(
        !h.has_line_to(ROMEO_BARE, "This chat is closed"),
        "{}",
        h.dump()
    );
    assert!(h.stored_session(ROMEO_BARE).await.is_none());
    assert!(h.roster_sets(ALICE).is_empty() && !h.has_line_to(ALICE, "Guten Tag"));
    // In English about an invoice: a new session, the keyword rule's queue
    // and message.
    h.customer_opens(ROMEO, "About my INVOICE, please").await;
    h.line_to(ROMEO_BARE, "A billing specialist will answer you.");
    let info = h.line_to(ALICE, "romeo@customer.test").body().unwrap();
    assert!(info.contains("queue billing"), "{info}");
    assert!(info.contains("Routed by rule invoices"), "{info}");
    h.line_to(ALICE, "About my INVOICE, please");
}

#[tokio::test]
async fn waiting_customers_are_told_their_place_and_told_again_when_it_changes() {
    // One live chat each and no async work: the second customer waits.
    let agents =
        agent_toml(ALICE, "Alice", &["xmpp"], 1, 0) + &agent_toml(BOB, "Bob", &["xmpp"], 1, 0);
    let mut h = Harness::start(
        &agents,
        &routing_toml("direct", "wait_estimate_secs = 120", ""),
    )
    .await;
    // Alice is busy with Mercutio (max_live 1), Bob is away from his desk.
    h.agent_presence(ALICE_DESK, true, None).await;
    h.customer_opens(MERCUTIO, "me first").await;
    let mercutio = h.work_item(ALICE).contact;
    h.customer_opens(ROMEO, "first").await;
    h.line_to(
        ROMEO_BARE,
        "You are number 1 in the queue; the wait is about 2 min.",
    );
    h.customer_opens(JULIET, "second").await;
    h.line_to(
        JULIET_BARE,
        "You are number 2 in the queue; the wait is about 4 min.",
    );
    assert!(
        h.messages_to(ROMEO_BARE).is_empty(),
        "Romeo's place did not change"
    );
    // Next in line is told at once, however recently they were told.
    h.message(ALICE_DESK, &mercutio, "close").await;
    h.line_to(ROMEO_BARE, "You are now chatting with Alice");
    h.line_to(
        JULIET_BARE,
        "You are number 1 in the queue; the wait is about 2 min.",
    );
    // Writing again while waiting repeats nothing: the place is the same.
    h.message(JULIET, HELP, "still waiting").await;
    assert!(h.messages_to(JULIET_BARE).is_empty(), "{}", h.dump());
    h.agent_presence(BOB_DESK, true, None).await;
    h.line_to(JULIET_BARE, "You are now chatting with Bob");
    let waited: Vec<String> = h.messages_to(BOB).into_iter().map(|(_, b)| b).collect();
    assert!(
        waited.iter().any(|b| b == "second") && waited.iter().any(|b| b == "still waiting"),
        "{waited:?}"
    );
}
