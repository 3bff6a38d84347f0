//! Switchboard's own lines to a customer come in the customer's language
//! (the `xml:lang` of their first message), from the built-in English and
//! French texts or routing.toml's `[texts.LANG]`.

use std::time::Duration;

use super::harness::*;

async fn opens_in(h: &mut Harness, from: &str, lang: &str, body: &str) {
    h.stanza(&format!(
        "<message type='chat' from='{from}' to='{HELP}' xml:lang='{lang}'><body>{body}</body></message>"
    ))
    .await;
    h.advance(Duration::from_secs(3)).await;
}

fn lines_to(h: &mut Harness, to: &str) -> Vec<String> {
    h.messages_to(to).into_iter().map(|(_, b)| b).collect()
}

#[tokio::test]
async fn a_french_customer_gets_every_line_in_french_and_an_english_one_in_english() {
    let agents =
        agent_toml(ALICE, "Alice", &["xmpp"], 1, 0) + &agent_toml(BOB, "Bob", &["sms"], 1, 0);
    let mut h = Harness::start(&agents, &routing_toml("direct", "", "")).await;
    // Nobody able to serve XMPP customers is there yet.
    h.agent_presence(BOB_DESK, true, None).await;
    opens_in(&mut h, ROMEO, "fr-FR", "bonjour").await;
    opens_in(&mut h, JULIET, "en", "hello").await;
    assert_eq!(
        lines_to(&mut h, ROMEO_BARE),
        [
            "Personne ne peut traiter votre demande pour le moment. Vos messages sont conservés, \
          et nous vous répondons dès que quelqu'un est disponible."
        ]
    );
    assert_eq!(
        lines_to(&mut h, JULIET_BARE),
        [
            "Nobody who can help with this is on duty right now. Your messages are kept, \
          and we answer as soon as someone is."
        ]
    );
    h.agent_presence(ALICE_DESK, true, None).await;
    assert_eq!(
        lines_to(&mut h, ROMEO_BARE),
        ["Vous discutez maintenant avec Alice."]
    );
    assert_eq!(
        lines_to(&mut h, JULIET_BARE),
        ["You are number 1 in the queue; the wait is about 4 min."]
    );
    let proxy = h.work_item(ALICE).contact;
    h.message(ALICE_DESK, &proxy, "close").await;
    assert_eq!(
        lines_to(&mut h, ROMEO_BARE),
        ["Cette conversation est terminée. Écrivez-nous quand vous voulez."]
    );
    assert_eq!(
        lines_to(&mut h, JULIET_BARE),
        ["You are now chatting with Alice."]
    );
}

#[tokio::test]
async fn routing_toml_overrides_a_text_and_adds_a_language() {
    let texts = "\n[texts.fr]\nnow_chatting = \"C'est {name} qui vous répond.\"\n\n\
                 [texts.de]\nnow_chatting = \"Sie chatten jetzt mit {name}.\"\n";
    let mut h = Harness::start(&agents_toml(2), &routing_toml("direct", "", texts)).await;
    h.agents_online().await;
    opens_in(&mut h, ROMEO, "fr", "bonjour").await;
    opens_in(&mut h, JULIET, "de-AT", "hallo").await;
    h.line_to(ROMEO_BARE, "C'est Alice qui vous répond.");
    h.line_to(JULIET_BARE, "Sie chatten jetzt mit Bob.");
}

#[test]
fn a_bad_text_is_refused_at_its_line() {
    let routing = routing_toml(
        "direct",
        "language = \"nl\"",
        "\n[texts.fr]\nnow_chatting = \"Avec {agent}.\"\nfarewell = \"Au revoir\"\n",
    );
    let err = switchboard::config::GatewayConfig::from_strs(
        SUPPORT,
        (std::path::Path::new("agents.toml"), &agents_toml(1)),
        (std::path::Path::new("routing.toml"), &routing),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("routing.toml:4: language 'nl' has no texts: the built-in ones are en and fr, or add [texts.nl]"),
        "{err}"
    );
    assert!(
        err.contains("routing.toml:12: [texts.fr] now_chatting: {agent} is not given to this text (it has: name)"),
        "{err}"
    );
    assert!(
        err.contains("routing.toml:13: [texts.fr]: no text is called 'farewell'"),
        "{err}"
    );
}

#[tokio::test]
async fn a_rule_chooses_the_language_of_switchboard_s_lines() {
    // Customers of customer.test are French speakers, whatever their
    // client says.
    let rule =
        "\n[[rule]]\nname = \"french-partner\"\ndomain = \"customer.test\"\nlanguage = \"fr\"\n";
    let mut h = Harness::start(&agents_toml(2), &routing_toml("direct", "", rule)).await;
    opens_in(&mut h, ROMEO, "en", "hello").await;
    h.line_to(ROMEO_BARE, "Personne ne peut traiter votre demande");
    h.agent_presence(ALICE_DESK, true, None).await;
    h.line_to(ROMEO_BARE, "Vous discutez maintenant avec Alice.");
}

#[test]
fn a_rule_naming_a_language_without_texts_is_refused_at_its_line() {
    let rule = "\n[[rule]]\ndomain = \"customer.test\"\nlanguage = \"nl\"\n";
    let err = switchboard::config::GatewayConfig::from_strs(
        SUPPORT,
        (std::path::Path::new("agents.toml"), &agents_toml(1)),
        (
            std::path::Path::new("routing.toml"),
            &routing_toml("direct", "", rule),
        ),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("routing.toml:13: no texts in language 'nl': there are en, fr (add [texts.nl] for more)"),
        "{err}"
    );
}
