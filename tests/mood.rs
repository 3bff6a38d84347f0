//! The mood scorer on labelled customer messages (`tests/mood/messages.toml`),
//! English and French: the share it calls frustrated as a person would.

use serde::Deserialize;
use switchboard::mood;

#[derive(Deserialize)]
struct Cases {
    case: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    lang: String,
    text: String,
    frustrated: bool,
}

#[test]
fn the_scorer_agrees_with_the_labels() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mood/messages.toml");
    let cases: Cases = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(cases.case.len() >= 40, "at least 40 labelled messages");
    let mut right = 0;
    for c in &cases.case {
        let m = mood::message(&c.text, Some(&c.lang));
        let said = m.frustration >= mood::FRUSTRATED;
        if said == c.frustrated {
            right += 1;
        } else {
            eprintln!(
                "miss [{}] {:?}: {:.2} {:?} (labelled {})",
                c.lang, c.text, m.frustration, m.signals, c.frustrated
            );
        }
    }
    let accuracy = right as f64 / cases.case.len() as f64;
    eprintln!(
        "mood: {} messages, accuracy {accuracy:.3}",
        cases.case.len()
    );
    // Half the set is frustrated: a scorer that says always or never one
    // thing scores 0.5.
    assert!(accuracy >= 0.85, "accuracy {accuracy:.3}");
}
