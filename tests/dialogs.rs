//! Dialogs end to end: slixmpp customers on a real Prosody answer the
//! questions of dialogs.toml (by number, wrongly then rightly, or not at
//! all), a rule routes on an answer, the agent sees the answers and the
//! path; the shipped knowledge base answers, offers related questions, and
//! hands over to an agent who sees what the customer went through.

mod center;
mod common;

use center::*;
use common::{on_both_stores, Db};

const ROUTING: &str = "[defaults]\nassign = \"direct\"\n\n\
     [[queue]]\nname = \"general\"\nentry = [\"help@support.test\"]\n\n\
     [[queue]]\nname = \"billing\"\nentry = [\"billing@support.test\"]\n\n\
     [[rule]]\nname = \"topic-billing\"\nanswers = { topic = \"billing\" }\nqueue = \"billing\"\n";

fn dialogs(self_service: bool) -> String {
    let kb = concat!(env!("CARGO_MANIFEST_DIR"), "/conf/kb");
    let (questions, ss) = if self_service {
        (
            "[]",
            format!("self_service = true\n\n[self_service]\nknowledge_base = {kb:?}\n"),
        )
    } else {
        ("[\"topic\", \"account\"]", String::new())
    };
    format!(
        "[defaults]\nanswer_timeout_secs = 10\n\n\
         [[question]]\nname = \"topic\"\nask = \"What is it about?\"\n\
         choices = [{{ value = \"billing\", label = \"Billing\" }}, {{ value = \"orders\", label = \"Orders\" }}]\n\n\
         [[question]]\nname = \"account\"\nask = \"Your customer number?\"\n\
         pattern = '^AC-\\d{{6}}$'\nexample = \"AC-123456\"\nremember = true\n\n\
         [[dialog]]\nname = \"desk\"\nentry = \"help@support.test\"\nquestions = {questions}\n{ss}"
    )
}

on_both_stores!(
    questions_route_the_chat_and_the_agent_sees_the_answers,
    the_knowledge_base_answers_then_hands_over_with_the_path,
);

async fn questions_route_the_chat_and_the_agent_sees_the_answers(db: Db) {
    let c = center_full(db, AGENTS, ROUTING, Some(&dialogs(false)), true);
    let mut alice = agent(&c, ALICE).await;
    let mut romeo = customer(&c, ROMEO).await;
    romeo.message(HELP, "hello, a question about my bill").await;
    let q = line_containing(&mut romeo, "What is it about?").await;
    assert!(body(&q).contains("1. Billing\n2. Orders"), "{q}");
    romeo.message(HELP, "9").await;
    line_containing(&mut romeo, "Please answer with a number from 1 to 2.").await;
    romeo.message(HELP, "1").await;
    line_containing(&mut romeo, "Your customer number?").await;
    romeo.message(HELP, "it's 12").await;
    line_containing(&mut romeo, "For example: AC-123456").await;
    romeo.message(HELP, "AC-123456").await;
    // Routed by the answer, with the answers and the path first.
    let ctx = line_containing(&mut alice, "romeo@customer.test").await;
    let text = body(&ctx);
    assert!(text.contains("queue billing"), "{text}");
    assert!(text.contains("Routed by rule topic-billing"), "{text}");
    assert!(text.contains("Answer topic: billing"), "{text}");
    assert!(text.contains("Answer account: AC-123456"), "{text}");
    let proxy = ctx["from"]
        .as_str()
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    alice.message(&proxy, "info").await;
    line_containing(&mut alice, "Answer account: AC-123456").await;
    alice.message(&proxy, "close").await;
    line_containing(&mut romeo, "This chat is closed").await;

    // Back another day: the number is remembered, the topic asked again.
    romeo.message(HELP, "me again").await;
    line_containing(&mut romeo, "What is it about?").await;
    romeo.message(HELP, "2").await;
    let ctx = line_containing(&mut alice, "romeo@customer.test").await;
    let text = body(&ctx);
    assert!(text.contains("Answer account: AC-123456"), "{text}");
    assert!(text.contains("known from before: account"), "{text}");

    // Juliet says nothing: after the time-out she reaches an agent anyway.
    let mut juliet = customer(&c, JULIET).await;
    juliet.message(HELP, "hi").await;
    line_containing(&mut juliet, "What is it about?").await;
    // The answer time-out is 10 s, beyond a line's usual wait.
    let ctx = alice
        .expect_what(
            "juliet's session after the time-out",
            |e| e["event"] == "message" && body(e).contains("juliet@customer.test"),
            std::time::Duration::from_secs(30),
        )
        .await;
    assert!(body(&ctx).contains("no answer in time"), "{ctx}");
}

async fn the_knowledge_base_answers_then_hands_over_with_the_path(db: Db) {
    let c = center_full(db, AGENTS, ROUTING, Some(&dialogs(true)), true);
    let mut alice = agent(&c, ALICE).await;
    let mut romeo = customer(&c, ROMEO).await;
    romeo
        .message(HELP, "I forgot my password, how can I reset it?")
        .await;
    line_containing(&mut romeo, "virtual assistant").await;
    let answer = line_containing(&mut romeo, "Did this answer your question?").await;
    let text = body(&answer);
    assert!(text.to_lowercase().contains("password"), "{text}");
    assert!(text.contains("Related questions"), "{text}");
    romeo.message(HELP, "no").await;
    line_containing(&mut romeo, "Sorry that did not help").await;
    romeo.message(HELP, "1").await;
    line_containing(&mut romeo, "Did this answer your question?").await;
    romeo.message(HELP, "no, that didn't help").await;
    // Two unhelpful answers: invited, and yes brings an agent.
    line_containing(&mut romeo, "Would you like to chat with an agent?").await;
    romeo.message(HELP, "yes").await;
    let ctx = line_containing(&mut alice, "romeo@customer.test").await;
    let text = body(&ctx);
    assert!(
        text.contains("Before you (dialog desk; 2 unhelpful"),
        "{text}"
    );
    assert!(text.contains("did not help"), "{text}");
    assert!(text.contains("accepted to chat with an agent"), "{text}");
    line_containing(&mut romeo, "You are now chatting with Alice").await;

    // "agent" at once: put through without a question.
    let mut juliet = customer(&c, JULIET).await;
    juliet.message(HELP, "hello").await;
    line_containing(&mut juliet, "virtual assistant").await;
    juliet.message(HELP, "I want to talk to a human").await;
    line_containing(&mut juliet, "putting you through").await;
    let ctx = line_containing(&mut alice, "juliet@customer.test").await;
    assert!(body(&ctx).contains("asked for an agent"), "{ctx}");
}
