use super::*;

fn f(text: &str, lang: Option<&str>) -> f32 {
    message(text, lang).frustration
}

#[test]
fn negation_intensifiers_and_capitals_change_a_message_s_score() {
    let calm = f("Thanks, that works.", None);
    assert!(calm < 0.1, "{calm}");
    let bad = f("This is ridiculous.", None);
    let very = f("This is really ridiculous.", None);
    let shout = f("This is RIDICULOUS.", None);
    assert!(
        bad > 0.2 && very > bad && shout > bad,
        "{bad} {very} {shout}"
    );
    // "not happy" is unhappy; "not bad" is not frustrated.
    assert!(f("I am not happy at all", None) > f("I am happy", None));
    assert!(f("not bad", None) < f("bad", None));
    assert!(f("Je ne suis pas content", Some("fr")) > f("Je suis content", Some("fr")));
    assert!(f("ça n'est pas normal, c'est inadmissible", Some("fr-CA")) >= FRUSTRATED);
    // Without accents too, as people type in a hurry.
    assert!(f("je suis enerve", Some("fr")) > 0.2);
}

#[test]
fn a_support_chat_s_own_signals_count() {
    let m = message("AGENT!! NOW", None);
    assert!(m.signals.contains(&"asks for a person"), "{m:?}");
    assert!(
        m.signals.contains(&"capitals") && m.signals.contains(&"exclamations"),
        "{m:?}"
    );
    assert!(m.frustration >= FRUSTRATED, "{m:?}");
    let t = message("I will cancel my subscription and go to a competitor", None);
    assert!(t.signals.contains(&"threatens to leave"), "{t:?}");
    let fr = message(
        "je veux parler à un conseiller, sinon je résilie",
        Some("fr"),
    );
    assert!(
        fr.signals.contains(&"asks for a person") && fr.signals.contains(&"threatens to leave")
    );
    // A plain question is calm.
    assert!(f("How do I change my delivery address?", None) < 0.2);
}

#[test]
fn a_session_grows_with_questions_asked_again_and_waiting() {
    let mut s = SessionMood::default();
    let first = s.add("Where is my parcel, order 123456?", None, 0);
    assert!(first.frustration < 0.2, "{first:?}");
    let again = s.add("where is my parcel???", None, 300);
    assert!(again.signals.contains(&"asks again"), "{again:?}");
    assert!(again.frustration > first.frustration);
    let late = s.add("hello?", None, 2400);
    assert!(late.signals.contains(&"long wait"), "{late:?}");
    assert!(s.peak >= again.frustration && s.messages == 3);
    let mut calm = SessionMood::default();
    calm.add("Thanks, great help!", None, 0);
    assert!(!calm.frustrated());
}
