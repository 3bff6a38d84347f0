use super::*;

fn ex(category: &str, lang: &str, text: &str) -> Example {
    Example {
        category: category.into(),
        lang: lang.into(),
        text: text.into(),
    }
}

fn toy() -> Classifier {
    let examples = [
        ex("billing", "en", "I was charged twice for my order"),
        ex("billing", "en", "when will I get my refund"),
        ex("billing", "en", "the invoice amount is wrong"),
        ex("delivery", "en", "my parcel has not arrived yet"),
        ex("delivery", "en", "the courier lost my package"),
        ex("delivery", "en", "tracking says delivered but nothing came"),
        ex("account", "en", "I cannot log in to my account"),
        ex("account", "en", "reset my password please"),
        ex("billing", "fr", "j'ai été débité deux fois"),
        ex("billing", "fr", "je n'ai pas reçu mon remboursement"),
        ex("delivery", "fr", "mon colis n'est jamais arrivé"),
        ex("delivery", "fr", "le livreur a perdu mon paquet"),
    ];
    let keywords = [
        ex("billing", "en", "refund"),
        ex("billing", "en", "double charge"),
        ex("delivery", "en", "parcel"),
        ex("account", "en", "password"),
        ex("account", "fr", "mot de passe"),
    ];
    Classifier::train(&examples, &keywords)
}

fn best(c: &Classifier, lines: &[(Side, &str)], lang: &str) -> Option<String> {
    c.classify(lines, lang).first().map(|s| s.category.clone())
}

#[test]
fn a_customer_s_words_find_their_category_in_each_language() {
    let c = toy();
    assert_eq!(c.categories(), ["billing", "delivery", "account"]);
    assert_eq!(c.languages(), ["en", "fr"]);
    let cases = [
        (
            "en",
            "Hi, still waiting on the refund for the charge",
            "billing",
        ),
        (
            "en",
            "where is my package, the courier never came",
            "delivery",
        ),
        ("en", "forgot my password, can't log in", "account"),
        ("fr", "Mon colis n'arrive pas", "delivery"),
        ("fr", "Toujours pas de remboursement !", "billing"),
        ("fr", "J'ai oublié mon mot de passe", "account"),
    ];
    for (lang, text, want) in cases {
        let got = best(&c, &[(Side::Customer, text)], lang);
        assert_eq!(got.as_deref(), Some(want), "{lang}: {text}");
    }
}

#[test]
fn scores_are_between_zero_and_one_best_first() {
    let c = toy();
    let s = c.classify(&[(Side::Customer, "refund my double charge parcel")], "en");
    assert!(s.len() >= 2);
    assert!(s.windows(2).all(|w| w[0].score >= w[1].score));
    assert!(s.iter().all(|x| x.score > 0.0 && x.score <= 1.0));
    // The same text as a keyword list scores close to 1.
    let only = c.classify(&[(Side::Customer, "password")], "en");
    assert_eq!(only[0].category, "account");
    assert!(only[0].score > 0.3, "{only:?}");
}

#[test]
fn nothing_in_common_scores_nothing() {
    let c = toy();
    assert!(c
        .classify(&[(Side::Customer, "hello, thanks!")], "en")
        .is_empty());
    assert!(c.classify(&[], "en").is_empty());
    assert!(c.pick(&[(Side::Customer, "the weather")], "en").is_empty());
    let empty = Classifier::train(&[], &[]);
    assert!(empty
        .classify(&[(Side::Customer, "refund")], "en")
        .is_empty());
}

#[test]
fn sides_weigh_differently() {
    let c = toy();
    // The agent talks about the parcel, the customer about the refund.
    let lines = [
        (Side::Customer, "I want my refund"),
        (
            Side::Agent,
            "let me check the parcel tracking with the courier",
        ),
    ];
    assert_eq!(best(&c, &lines, "en").as_deref(), Some("billing"));
    // The same words, the other way round.
    let lines = [
        (Side::Agent, "I want my refund"),
        (
            Side::Customer,
            "let me check the parcel tracking with the courier",
        ),
    ];
    assert_eq!(best(&c, &lines, "en").as_deref(), Some("delivery"));
    // The note outweighs a customer line.
    let lines = [
        (Side::Customer, "my password"),
        (Side::Note, "charged twice, needs refund"),
    ];
    assert_eq!(best(&c, &lines, "en").as_deref(), Some("billing"));
    assert!(Side::Note.weight() > Side::Answer.weight());
    assert!(Side::Customer.weight() > Side::Answer.weight());
    assert!(Side::Answer.weight() > Side::Agent.weight());
}

#[test]
fn an_unknown_language_is_read_as_english() {
    let c = toy();
    let got = best(&c, &[(Side::Customer, "password reset")], "de");
    assert_eq!(got.as_deref(), Some("account"));
    // A regional tag takes its base language's model.
    let got = best(&c, &[(Side::Customer, "mon colis")], "fr-CA");
    assert_eq!(got.as_deref(), Some("delivery"));
}

#[test]
fn pick_takes_the_best_and_close_runners_up() {
    let c = toy();
    let clear = c.pick(&[(Side::Customer, "I need my refund")], "en");
    assert_eq!(clear.len(), 1);
    assert_eq!(clear[0].category, "billing");
    // Two subjects at once, said as strongly.
    let lines = [
        (Side::Customer, "I was charged twice"),
        (Side::Customer, "and the courier lost my package"),
    ];
    let both = c.pick(&lines, "en");
    let names: Vec<&str> = both.iter().map(|s| s.category.as_str()).collect();
    assert!(
        names.contains(&"billing") && names.contains(&"delivery"),
        "{both:?}"
    );
    // Exactly the scores the rule keeps.
    let all = c.classify(&lines, "en");
    let kept: Vec<&Score> = all
        .iter()
        .enumerate()
        .filter(|(i, s)| *i == 0 || (s.score >= all[0].score * MARGIN && s.score >= FLOOR))
        .map(|(_, s)| s)
        .collect();
    assert_eq!(both.iter().collect::<Vec<_>>(), kept);
}
