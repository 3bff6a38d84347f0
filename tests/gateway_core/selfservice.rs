//! Self-service: the shipped knowledge base answers before an agent, and
//! the handoff rules decide when the customer reaches one.

use std::time::Duration;

use super::harness::*;

fn dialogs(handoff: &str) -> String {
    format!(
        "[[dialog]]\nname = \"desk\"\nentry = \"{HELP}\"\nself_service = true\n\n\
         [self_service]\nknowledge_base = {KB:?}\nlanguage = \"en\"\n\n{handoff}"
    )
}

async fn start(handoff: &str) -> Harness {
    let mut h = Harness::with_dialogs(
        &agents_toml(2),
        &routing_toml("offer", "", ""),
        &dialogs(handoff),
    )
    .await;
    h.agents_online().await;
    h
}

#[tokio::test]
async fn an_answer_with_related_questions_then_two_noes_invite_to_an_agent() {
    let mut h = start("").await;
    h.customer_opens(ROMEO, "I forgot my password").await;
    h.line_to(ROMEO_BARE, "virtual assistant");
    let a = h.line_to(ROMEO_BARE, "Reset your password");
    let text = a.body().unwrap();
    assert!(text.contains("Forgot password?"), "{text}");
    assert!(
        text.contains("https://shop.example/account/reset"),
        "{text}"
    );
    assert!(
        text.contains("Did this answer your question? (yes/no)"),
        "{text}"
    );
    assert!(
        text.contains("Related questions (reply with the number):\n1. "),
        "{text}"
    );
    assert!(!h.has_line_to(ALICE, "New chat"), "self-service first");

    h.message(ROMEO, HELP, "no").await;
    h.line_to(ROMEO_BARE, "Sorry that did not help");
    // A related question by its number.
    h.message(ROMEO, HELP, "2").await;
    h.line_to(ROMEO_BARE, "Did this answer your question?");
    h.message(ROMEO, HELP, "No, that didn't help").await;
    h.line_to(ROMEO_BARE, "Would you like to chat with an agent? (yes/no)");
    assert!(!h.has_line_to(ALICE, "New chat"));
    h.message(ROMEO, HELP, "yes please").await;
    let offer = h.line_to(ALICE, "New chat from romeo@customer.test");
    let proxy = offer.from().unwrap().to_string();
    h.message(ALICE_DESK, &proxy, "take").await;
    let ctx = h.line_to(
        ALICE,
        "Before you (dialog desk; 2 unhelpful, 0 unanswered):",
    );
    let text = ctx.body().unwrap();
    assert!(
        text.contains(
            "\"I forgot my password\" → answered with \"Reset your password\" (reset-password)"
        ),
        "{text}"
    );
    assert!(text.contains("reset-password did not help"), "{text}");
    assert!(text.contains("invited to an agent by unhelpful"), "{text}");
    assert!(text.contains("accepted to chat with an agent"), "{text}");
    // What Romeo wrote to the assistant reaches the agent too, in order.
    let lines: Vec<String> = h.messages_to(ALICE).into_iter().map(|(_, b)| b).collect();
    let pos = |t: &str| lines.iter().position(|b| b == t);
    assert!(pos("I forgot my password") < pos("yes please"), "{lines:?}");
}

#[tokio::test]
async fn asking_for_a_person_connects_at_once() {
    let mut h = start("").await;
    h.customer_opens(ROMEO, "hello").await;
    h.line_to(ROMEO_BARE, "virtual assistant");
    assert!(
        !h.has_line_to(ROMEO_BARE, "I have no answer"),
        "a greeting is no failed question"
    );
    h.message(ROMEO, HELP, "Can I talk to a real person?").await;
    h.line_to(ROMEO_BARE, "I am putting you through to an agent.");
    h.line_to(ALICE, "New chat from romeo@customer.test");
}

#[tokio::test]
async fn nothing_found_twice_invites_and_a_no_keeps_answering() {
    let mut h = start("").await;
    h.customer_opens(ROMEO, "hello").await;
    h.message(ROMEO, HELP, "zxqv wobble frotz").await;
    h.line_to(ROMEO_BARE, "I have no answer to that.");
    h.message(ROMEO, HELP, "blorp snark").await;
    h.line_to(ROMEO_BARE, "Would you like to chat with an agent?");
    h.message(ROMEO, HELP, "no").await;
    h.line_to(ROMEO_BARE, "All right. Ask me another question any time.");
    h.message(ROMEO, HELP, "how do I track my parcel?").await;
    h.line_to(ROMEO_BARE, "Did this answer your question?");
    assert!(!h.has_line_to(ALICE, "New chat"));
    let stored = h.stored_session(ROMEO_BARE).await.unwrap();
    let t = h.store.transcript(&stored.id).await.unwrap();
    // Both sides of the exchange are in the transcript.
    assert!(t.iter().any(|m| m.body.as_deref() == Some("blorp snark")));
    assert!(t.iter().any(|m| m
        .body
        .as_deref()
        .is_some_and(|b| b.starts_with("I have no answer"))));
}

#[tokio::test]
async fn handoff_rules_by_keyword_domain_and_hours() {
    let rules = "[[handoff]]\nname = \"legal\"\nkeywords = [\"lawyer\"]\nmessage = \"Passing you to a colleague.\"\n\n\
                 [[handoff]]\nname = \"vip\"\ndomain = \"vip.test\"\n";
    let mut h = start(rules).await;
    h.customer_opens(ROMEO, "my lawyer will hear of this").await;
    h.line_to(ROMEO_BARE, "Passing you to a colleague.");
    h.line_to(ALICE, "New chat from romeo@customer.test");
    h.customer_opens("boss@vip.test/pc", "hi").await;
    let offered = |h: &Harness, who: &str| {
        h.has_line_to(ALICE, &format!("New chat from {who}"))
            || h.has_line_to(BOB, &format!("New chat from {who}"))
    };
    assert!(offered(&h, "boss@vip.test"), "{}", h.dump());
    // Without a handoff rule for it, asking for a person is only a message.
    h.customer_opens(JULIET, "I want an agent").await;
    h.line_to(JULIET_BARE, "virtual assistant");
    assert!(!offered(&h, "juliet@customer.test"));
}

#[tokio::test]
async fn a_french_customer_gets_the_french_article() {
    let mut h = start("").await;
    h.stanza(&format!(
        "<message from='{ROMEO}' to='{HELP}' type='chat' xml:lang='fr'><body>j'ai oublié mon mot de passe</body></message>"
    ))
    .await;
    h.advance(Duration::from_secs(3)).await;
    h.line_to(ROMEO_BARE, "assistant virtuel");
    let a = h.line_to(ROMEO_BARE, "Cela répond-il à votre question ? (oui/non)");
    assert!(
        a.body().unwrap().to_lowercase().contains("mot de passe"),
        "{:?}",
        a.body()
    );
    h.message(ROMEO, HELP, "oui merci").await;
    h.line_to(ROMEO_BARE, "Ravi d'avoir pu aider.");
}

#[tokio::test]
async fn a_restart_keeps_the_customer_in_self_service() {
    let mut h = start("").await;
    h.customer_opens(ROMEO, "hello").await;
    h.message(ROMEO, HELP, "zxqv").await;
    h.line_to(ROMEO_BARE, "I have no answer");
    let routing = routing_toml("offer", "", "");
    let mut h = h.restart(&agents_toml(2), &routing).await;
    h.agents_online().await;
    assert!(
        !h.has_line_to(ALICE, "New chat"),
        "not routed by the restart"
    );
    h.message(ROMEO, HELP, "wibble").await;
    // The count from before the restart holds: the second miss invites.
    h.line_to(ROMEO_BARE, "Would you like to chat with an agent?");
}
