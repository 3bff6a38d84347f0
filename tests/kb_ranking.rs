//! The ranking against the shipped knowledge base (`conf/kb`): customers'
//! phrasings written apart from the articles (`tests/kb/phrasings.toml`),
//! each labelled with the article that answers it. The floors are just
//! under what the ranker achieves, so that a change that makes answers
//! worse fails here. `cargo test --release --test kb_ranking -- --nocapture`
//! prints the accuracy and the misses.

use std::path::PathBuf;

use serde::Deserialize;
use switchboard::kb::{KnowledgeBase, Tuning, Verdict};

const TOP1_FLOOR: f64 = 0.88;
const TOP3_FLOOR: f64 = 0.96;
const VARIANTS_ANSWERED: f64 = 0.97;

#[derive(Deserialize)]
struct Phrasings {
    case: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    lang: String,
    text: String,
    expect: String,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn shipped() -> KnowledgeBase {
    KnowledgeBase::load(&root().join("conf/kb")).unwrap_or_else(|problems| {
        let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
        panic!("conf/kb is invalid:\n{}", lines.join("\n"))
    })
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(root().join("tests/kb/phrasings.toml")).unwrap();
    toml::from_str::<Phrasings>(&text).unwrap().case
}

#[test]
fn the_shipped_base_has_every_article_in_both_languages() {
    let kb = shipped();
    assert_eq!(kb.languages(), ["en", "fr"]);
    let ids = |lang: &str| -> Vec<String> {
        let dir = root().join("conf/kb").join(lang);
        let mut ids: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "md"))
            .map(|p| p.file_stem().unwrap().to_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    let (en, fr) = (ids("en"), ids("fr"));
    assert!(en.len() >= 30, "{}", en.len());
    assert_eq!(en, fr);
    for id in &en {
        let a = kb.article("en", id).unwrap();
        assert!(!a.related.is_empty(), "{id} has no related articles");
        assert!((3..=6).contains(&a.questions.len()), "{id}");
        assert!((3..=6).contains(&kb.article("fr", id).unwrap().questions.len()));
    }
}

#[test]
fn phrasings_find_their_article() {
    let kb = shipped();
    let cases = cases();
    assert!(cases.len() >= 70);
    assert!(cases.iter().filter(|c| c.lang == "fr").count() >= 25);
    let (mut top1, mut top3) = (0, 0);
    for c in &cases {
        assert!(
            kb.article(&c.lang, &c.expect).is_some(),
            "{}: no article {}",
            c.text,
            c.expect
        );
        let hits = kb.search(&c.lang, &c.text, 3);
        let rank = hits.iter().position(|h| h.article.id == c.expect);
        match rank {
            Some(0) => top1 += 1,
            _ => {
                let got: Vec<String> = hits
                    .iter()
                    .map(|h| format!("{} {:.2}", h.article.id, h.score))
                    .collect();
                eprintln!(
                    "miss [{}] {:?} → {:?} (want {})",
                    c.lang, c.text, got, c.expect
                );
            }
        }
        if rank.is_some() {
            top3 += 1;
        }
    }
    let n = cases.len() as f64;
    let (a1, a3) = (top1 as f64 / n, top3 as f64 / n);
    eprintln!(
        "kb ranking: {} phrasings, top-1 {a1:.3}, top-3 {a3:.3}",
        cases.len()
    );
    assert!(a1 >= TOP1_FLOOR, "top-1 {a1:.3} < {TOP1_FLOOR}");
    assert!(a3 >= TOP3_FLOOR, "top-3 {a3:.3} < {TOP3_FLOOR}");
}

#[test]
fn unrelated_text_finds_nothing() {
    let kb = shipped();
    let tuning = Tuning::default();
    for (lang, text) in [
        ("en", "what is the weather on Mars"),
        ("en", "asdfgh"),
        ("en", "who won the football match yesterday"),
        ("fr", "quel temps fait-il sur Mars"),
        ("fr", "qsdfgh"),
    ] {
        let verdict = kb.ask(lang, text, &tuning);
        assert_eq!(verdict, Verdict::NoMatch, "{lang} {text:?}");
    }
}

/// An article's own question variants rank it first; asked as they are,
/// nearly all are answered outright. Not all: "where is my order" is all
/// "order" once "where is my" is dropped, which three articles are about,
/// so it gets suggestions.
#[test]
fn a_question_variant_is_answered() {
    let kb = shipped();
    let tuning = Tuning::default();
    let (mut variants, mut answered) = (0, 0);
    for lang in kb.languages() {
        let dir = root().join("conf/kb").join(lang);
        for entry in std::fs::read_dir(&dir).unwrap() {
            let id = entry.unwrap().path();
            let id = id.file_stem().unwrap().to_str().unwrap();
            let a = kb.article(lang, id).unwrap();
            for q in &a.questions {
                let best = &kb.search(lang, q, 1)[0];
                assert_eq!(best.article.id, a.id, "{lang} {q:?}");
                variants += 1;
                match kb.ask(lang, q, &tuning) {
                    Verdict::Answer(found) => {
                        assert_eq!(found.id, a.id, "{lang} {q:?}");
                        answered += 1;
                    }
                    other => eprintln!("not answered [{lang}] {q:?}: {:?}", ids(&other)),
                }
            }
        }
    }
    let share = answered as f64 / variants as f64;
    eprintln!("kb variants: {variants}, answered outright {share:.3}");
    assert!(share >= VARIANTS_ANSWERED, "{share:.3}");
    for (lang, q, id) in [
        ("en", "I forgot my password", "reset-password"),
        ("fr", "Comment annuler ma commande ?", "cancel-order"),
    ] {
        assert!(
            matches!(kb.ask(lang, q, &tuning), Verdict::Answer(a) if a.id == id),
            "{q}"
        );
    }
}

#[test]
fn a_vague_question_gets_suggestions() {
    let kb = shipped();
    match kb.ask("en", "subscription", &Tuning::default()) {
        Verdict::Suggest(list) => {
            assert!((2..=3).contains(&list.len()), "{:?}", list.len());
        }
        other => panic!("{:?}", ids(&other)),
    }
}

fn ids(v: &Verdict<'_>) -> Option<Vec<String>> {
    match v {
        Verdict::Answer(a) => Some(vec![a.id.clone()]),
        Verdict::Suggest(list) => Some(list.iter().map(|a| a.id.clone()).collect()),
        Verdict::NoMatch => None,
    }
}
