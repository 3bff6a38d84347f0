//! Elicitation: the dialog's questions before routing, with exact time.

use std::time::Duration;

use super::harness::*;

const QUESTIONS: &str = r#"
[defaults]
answer_timeout_secs = 60
attempts = 3

[[question]]
name = "topic"
ask = { en = "What is it about?", fr = "C'est à quel sujet ?" }
choices = [
    { value = "billing", label = { en = "Billing and invoices", fr = "Facturation" } },
    { value = "delivery", label = "Delivery" },
]

[[question]]
name = "account"
ask = "Your customer number?"
pattern = '^AC-\d{6}$'
example = "AC-123456"
optional = true
remember = true

[[dialog]]
name = "desk"
entry = "help@support.test"
questions = ["topic", "account"]
"#;

/// A billing queue, and the rule that sends billing answers there.
fn routing() -> String {
    routing_toml(
        "offer",
        "",
        "[[queue]]\nname = \"billing\"\nentry = [\"billing@support.test\"]\nskills = [\"billing\"]\n\n\
         [[rule]]\nname = \"topic-billing\"\nanswers = { topic = \"billing\" }\nqueue = \"billing\"\n",
    )
}

async fn start() -> Harness {
    let mut h = Harness::with_dialogs(&agents_toml(2), &routing(), QUESTIONS).await;
    h.agents_online().await;
    h
}

#[tokio::test]
async fn questions_are_asked_in_order_and_the_answers_route_and_show() {
    let mut h = start().await;
    h.customer_opens(ROMEO, "hello, I have a question").await;
    let q = h.line_to(ROMEO_BARE, "What is it about?");
    assert!(q
        .body()
        .unwrap()
        .contains("1. Billing and invoices\n2. Delivery"));
    assert!(
        !h.has_line_to(ALICE, "New chat"),
        "nobody is offered it yet"
    );
    h.message(ROMEO, HELP, "1").await;
    h.line_to(ROMEO_BARE, "Your customer number? (You may write skip.)");
    h.message(ROMEO, HELP, "AC-123456").await;
    let offer = h.line_to(ALICE, "New chat from romeo@customer.test");
    let proxy = offer.from().unwrap().to_string();
    let stored = h.stored_session(ROMEO_BARE).await.unwrap();
    assert_eq!(
        stored.queue, "billing",
        "the rule on answers.topic routed it"
    );
    h.message(ALICE_DESK, &proxy, "/take").await;
    let context = h.line_to(ALICE, "Answer topic: billing");
    let text = context.body().unwrap();
    assert!(text.contains("Answer account: AC-123456"), "{text}");
    assert!(text.contains("Routed by rule topic-billing"), "{text}");
    assert!(text.contains("\"1\" → answered topic"), "the path: {text}");
    h.message(ALICE_DESK, &proxy, "/info").await;
    h.line_to(ALICE, "Answer account: AC-123456");
    // The customer's answers are in the transcript like anything else.
    let t = h.store.transcript(&stored.id).await.unwrap();
    let bodies: Vec<&str> = t.iter().filter_map(|m| m.body.as_deref()).collect();
    assert!(
        bodies.contains(&"1") && bodies.contains(&"AC-123456"),
        "{bodies:?}"
    );
    assert!(bodies.iter().any(|b| b.starts_with("What is it about?")));
}

#[tokio::test]
async fn garbage_is_asked_again_with_the_example_and_never_sticks() {
    let mut h = start().await;
    h.customer_opens(ROMEO, "hi").await;
    h.line_to(ROMEO_BARE, "What is it about?");
    h.message(ROMEO, HELP, "7").await;
    let again = h.line_to(ROMEO_BARE, "Please answer with a number from 1 to 2.");
    assert!(again.body().unwrap().contains("What is it about?"));
    h.message(ROMEO, HELP, "delivery").await;
    h.line_to(ROMEO_BARE, "Your customer number?");
    h.message(ROMEO, HELP, "my number? 12").await;
    h.line_to(ROMEO_BARE, "For example: AC-123456");
    h.message(ROMEO, HELP, "AC 12").await;
    h.line_to(ROMEO_BARE, "For example: AC-123456");
    // The third refusal gives the question up: routing goes on.
    h.message(ROMEO, HELP, "I don't know it").await;
    h.line_to(ALICE, "New chat from romeo@customer.test");
    let stored = h.stored_session(ROMEO_BARE).await.unwrap();
    assert_eq!(stored.queue, "general");
    assert!(!stored.context.unwrap().contains("\"account\":"));
}

#[tokio::test]
async fn a_customer_who_says_nothing_is_routed_after_the_time_out() {
    let mut h = start().await;
    h.customer_opens(ROMEO, "hello").await;
    h.line_to(ROMEO_BARE, "What is it about?");
    h.advance(Duration::from_secs(59)).await;
    assert!(!h.has_line_to(ALICE, "New chat"));
    h.advance(Duration::from_secs(1)).await;
    h.line_to(ALICE, "New chat from romeo@customer.test");
    assert!(
        !h.has_line_to(ROMEO_BARE, "customer number"),
        "the rest is skipped too"
    );
}

#[tokio::test]
async fn an_answer_resets_the_time_out_and_skip_passes_an_optional_question() {
    let mut h = start().await;
    h.customer_opens(ROMEO, "hello").await;
    h.advance(Duration::from_secs(50)).await;
    h.message(ROMEO, HELP, "2").await;
    // The first question's time-out must not cut the second one short.
    h.advance(Duration::from_secs(30)).await;
    assert!(!h.has_line_to(ALICE, "New chat"));
    h.message(ROMEO, HELP, "skip").await;
    h.line_to(ALICE, "New chat from romeo@customer.test");
}

#[tokio::test]
async fn a_returning_customer_is_not_asked_what_they_answered_before() {
    let mut h = start().await;
    h.customer_opens(ROMEO, "hello").await;
    h.message(ROMEO, HELP, "2").await;
    h.message(ROMEO, HELP, "AC-654321").await;
    let offer = h.line_to(ALICE, "New chat from romeo@customer.test");
    let proxy = offer.from().unwrap().to_string();
    h.message(ALICE_DESK, &proxy, "/take").await;
    h.message(ALICE_DESK, &proxy, "/close").await;
    h.clear();
    h.message(ROMEO, HELP, "me again").await;
    h.advance(Duration::from_secs(3)).await;
    // The topic is asked again (not remembered), the number is not.
    h.line_to(ROMEO_BARE, "What is it about?");
    h.message(ROMEO, HELP, "1").await;
    assert!(
        !h.has_line_to(ROMEO_BARE, "customer number"),
        "{}",
        h.dump()
    );
    h.line_to(ALICE, "New chat from romeo@customer.test");
    let stored = h.stored_session(ROMEO_BARE).await.unwrap();
    assert!(stored.context.unwrap().contains("AC-654321"));
}

#[tokio::test]
async fn a_restart_during_the_questions_asks_the_current_one_again() {
    let mut h = start().await;
    h.customer_opens(ROMEO, "hello").await;
    h.message(ROMEO, HELP, "1").await;
    h.line_to(ROMEO_BARE, "Your customer number?");
    let mut h = h.restart(&agents_toml(2), &routing()).await;
    h.agents_online().await;
    h.line_to(ROMEO_BARE, "Your customer number?");
    assert!(!h.has_line_to(ALICE, "New chat"));
    h.message(ROMEO, HELP, "AC-111111").await;
    h.line_to(ALICE, "New chat from romeo@customer.test");
    let stored = h.stored_session(ROMEO_BARE).await.unwrap();
    assert_eq!(
        stored.queue, "billing",
        "the answer before the restart counts"
    );
}

#[tokio::test]
async fn questions_speak_the_customer_s_language() {
    let mut h = start().await;
    h.stanza(&format!(
        "<message from='{ROMEO}' to='{HELP}' type='chat' xml:lang='fr'><body>bonjour</body></message>"
    ))
    .await;
    h.advance(Duration::from_secs(3)).await;
    let q = h.line_to(ROMEO_BARE, "C'est à quel sujet ?");
    assert!(q.body().unwrap().contains("1. Facturation"));
    h.message(ROMEO, HELP, "facturation").await;
    h.line_to(ROMEO_BARE, "(Vous pouvez écrire passer.)");
}

#[tokio::test]
async fn canned_answers_are_listed_and_sent_as_the_agent_with_the_answers() {
    let canned = format!(
        "{QUESTIONS}\n[[canned]]\nname = \"hello\"\ndescription = \"greeting\"\n\
         text = {{ en = \"Hello {{customer}}, {{agent}} here about {{answers.account}}.\", fr = \"Bonjour {{customer}}\" }}\n"
    );
    let mut h = Harness::with_dialogs(&agents_toml(2), &routing(), &canned).await;
    h.agents_online().await;
    h.customer_opens(ROMEO, "hello").await;
    h.message(ROMEO, HELP, "2").await;
    h.message(ROMEO, HELP, "AC-222222").await;
    let offer = h.line_to(ALICE, "New chat from romeo@customer.test");
    let proxy = offer.from().unwrap().to_string();
    // Not before the session is the agent's.
    h.message(ALICE_DESK, &proxy, "/c hello").await;
    h.line_to(ALICE, "Not sent: take the session first");
    h.message(ALICE_DESK, &proxy, "take").await;
    h.message(ALICE_DESK, &proxy, "canned").await;
    h.line_to(ALICE, "hello — greeting");
    h.message(ALICE_DESK, &proxy, "/c nope").await;
    h.line_to(ALICE, "No canned answer 'nope'; there are: hello.");
    h.message(ALICE_DESK, &proxy, "!c HELLO").await;
    let sent = h.line_to(
        ROMEO_BARE,
        "Hello romeo@customer.test, Alice here about AC-222222.",
    );
    assert_eq!(sent.from(), Some(HELP));
    assert!(
        String::from_utf8_lossy(sent.bytes()).contains("<nick"),
        "with the agent's name"
    );
    h.line_to(
        ALICE,
        "Sent: Hello romeo@customer.test, Alice here about AC-222222.",
    );
    let stored = h.stored_session(ROMEO_BARE).await.unwrap();
    let t = h.store.transcript(&stored.id).await.unwrap();
    assert!(t.iter().any(
        |m| m.body.as_deref() == Some("Hello romeo@customer.test, Alice here about AC-222222.")
    ));
}

#[tokio::test]
async fn the_same_verified_number_links_two_identities_and_their_agent_follows() {
    let linked = QUESTIONS.replace(
        "remember = true",
        "remember = true\nidentifier = \"account\"",
    );
    let mut h = Harness::with_dialogs(&agents_toml(2), &routing(), &linked).await;
    h.agents_online().await;
    h.customer_opens(ROMEO, "hello").await;
    h.message(ROMEO, HELP, "2").await;
    h.message(ROMEO, HELP, "AC-123456").await;
    let offer = h.line_to(ALICE, "New chat from romeo@customer.test");
    let proxy = offer.from().unwrap().to_string();
    h.message(ALICE_DESK, &proxy, "take").await;
    h.message(ALICE_DESK, &proxy, "close").await;
    h.clear();
    // Bob has been idle the longest now: only the link brings Alice.
    h.customer_opens(JULIET, "hi, other phone").await;
    h.message(JULIET, HELP, "2").await;
    h.message(JULIET, HELP, "AC-123456").await;
    h.line_to(ALICE, "New chat from juliet@customer.test");
    assert!(!h.has_line_to(BOB, "New chat"), "{}", h.dump());
    let stored = h.stored_session(JULIET_BARE).await.unwrap();
    let t = h.store.transcript(&stored.id).await.unwrap();
    assert!(
        t.iter().any(|m| m
            .body
            .as_deref()
            .is_some_and(|b| b.contains("Linked automatically"))),
        "{t:?}"
    );
}
