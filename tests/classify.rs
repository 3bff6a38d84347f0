//! The classifier trained on the shipped `conf/categories.toml`, loaded
//! through the configuration like the server loads it, against support
//! chats written apart from its examples (`tests/classify/transcripts.toml`),
//! each labelled with the category a second-level agent would file it
//! under. `cargo test --release --test classify -- --nocapture` prints the
//! accuracy, the confusion table and the misses.
//!
//! The floor is under what the classifier achieves, so that a change that
//! makes it worse fails here, and far above what a constant answer (at
//! most 10 of 54, the largest category) or chance (one in six) would get.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use switchboard::classify::{Classifier, Side, FLOOR, MARGIN};
use switchboard::config::{GatewayConfig, Settings};

const TOP1_FLOOR: f64 = 0.85;
/// Each language on its own: one must not carry the other.
const PER_LANGUAGE_FLOOR: f64 = 0.8;

#[derive(Deserialize)]
struct Transcripts {
    transcript: Vec<Transcript>,
}

#[derive(Deserialize)]
struct Transcript {
    category: String,
    lang: String,
    lines: Vec<(String, String)>,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn shipped() -> GatewayConfig {
    let settings = Settings::load(&root().join("conf/switchboard.toml")).unwrap();
    GatewayConfig::load(&settings).unwrap_or_else(|e| panic!("the shipped conf is invalid:\n{e}"))
}

fn transcripts() -> Vec<Transcript> {
    let text = std::fs::read_to_string(root().join("tests/classify/transcripts.toml")).unwrap();
    toml::from_str::<Transcripts>(&text).unwrap().transcript
}

fn side(name: &str) -> Side {
    match name {
        "customer" => Side::Customer,
        "agent" => Side::Agent,
        "note" => Side::Note,
        "answer" => Side::Answer,
        other => panic!("unknown side '{other}'"),
    }
}

fn lines(t: &Transcript) -> Vec<(Side, &str)> {
    t.lines
        .iter()
        .map(|(s, text)| (side(s), text.as_str()))
        .collect()
}

fn best(c: &Classifier, t: &Transcript) -> String {
    c.classify(&lines(t), &t.lang)
        .first()
        .map_or_else(|| "(none)".to_string(), |s| s.category.clone())
}

#[test]
fn transcripts_cover_every_category_in_both_languages() {
    let g = shipped();
    let ts = transcripts();
    assert!(ts.len() >= 48, "{}", ts.len());
    for lang in ["en", "fr"] {
        let n = ts.iter().filter(|t| t.lang == lang).count();
        assert!(n * 5 >= ts.len() * 2, "{n} transcripts in {lang}");
    }
    for d in g.categories.iter() {
        for lang in ["en", "fr"] {
            let n = ts
                .iter()
                .filter(|t| t.category == d.name && t.lang == lang)
                .count();
            assert!(n >= 3, "{} in {lang}: {n}", d.name);
        }
    }
    for t in &ts {
        assert!(g.categories.get(&t.category).is_some(), "{}", t.category);
        assert!(!t.lines.is_empty());
    }
}

#[test]
fn transcripts_are_classified_into_their_category() {
    let g = shipped();
    let c = g.categories.classifier();
    let ts = transcripts();
    let names: Vec<String> = g.categories.iter().map(|d| d.name.clone()).collect();
    // (expected, got) → count.
    let mut confusion: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut right: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut predicted: BTreeMap<String, usize> = BTreeMap::new();
    for t in &ts {
        let got = best(c, t);
        *confusion
            .entry((t.category.clone(), got.clone()))
            .or_default() += 1;
        *predicted.entry(got.clone()).or_default() += 1;
        let r = right.entry(t.lang.as_str()).or_default();
        r.1 += 1;
        if got == t.category {
            r.0 += 1;
        } else {
            let scores: Vec<String> = c
                .classify(&lines(t), &t.lang)
                .iter()
                .take(3)
                .map(|s| format!("{} {:.2}", s.category, s.score))
                .collect();
            println!(
                "miss [{}] {} → {got} ({}): {}",
                t.lang,
                t.category,
                scores.join(", "),
                t.lines[0].1
            );
        }
    }
    let total: usize = right.values().map(|r| r.0).sum();
    let accuracy = total as f64 / ts.len() as f64;
    println!("top-1 accuracy {accuracy:.3} ({total}/{})", ts.len());
    for (lang, (ok, n)) in &right {
        println!("  {lang}: {:.3} ({ok}/{n})", *ok as f64 / *n as f64);
    }
    print!("{:>10}", "expected");
    for n in &names {
        print!("{:>10}", n);
    }
    println!();
    for want in &names {
        print!("{want:>10}");
        for got in &names {
            let k = confusion.get(&(want.clone(), got.clone())).unwrap_or(&0);
            print!("{k:>10}");
        }
        println!();
    }
    assert!(accuracy >= TOP1_FLOOR, "top-1 accuracy {accuracy:.3}");
    for (lang, (ok, n)) in &right {
        let a = *ok as f64 / *n as f64;
        assert!(a >= PER_LANGUAGE_FLOOR, "{lang}: {a:.3}");
    }
    // Every category is someone's answer: no constant classifier passes.
    for n in &names {
        assert!(
            predicted.get(n).is_some_and(|&k| k >= 3),
            "{n}: {predicted:?}"
        );
    }
}

#[test]
fn pick_escalates_to_one_category_mostly_and_the_best_always() {
    let g = shipped();
    let c = g.categories.classifier();
    let ts = transcripts();
    let mut several = 0;
    let (mut lowest, mut closest) = (1.0f64, 0.0f64);
    for t in &ts {
        let scores = c.classify(&lines(t), &t.lang);
        let picked = c.pick(&lines(t), &t.lang);
        assert_eq!(picked.first(), scores.first());
        let best = picked[0].score;
        assert!(best > 0.0 && best <= 1.0);
        for s in &picked[1..] {
            assert!(s.score >= best * MARGIN && s.score >= FLOOR, "{picked:?}");
        }
        if picked.len() > 1 {
            several += 1;
            let all: Vec<String> = picked
                .iter()
                .map(|s| format!("{} {:.2}", s.category, s.score))
                .collect();
            println!("[{}] {}: {}", t.lang, t.category, all.join(", "));
        }
        lowest = lowest.min(best);
        let second = scores.get(1).map_or(0.0, |s| s.score / best);
        closest = closest.max(second);
    }
    println!("lowest best score {lowest:.2}, closest runner-up at {closest:.2} of the best");
    println!("several categories picked for {several} of {}", ts.len());
    // A clear chat leads to one queue; a second is the exception.
    assert!(several * 4 <= ts.len(), "{several} of {}", ts.len());
}

#[test]
fn a_chat_about_nothing_picks_nothing_and_answers_count() {
    let g = shipped();
    let c = g.categories.classifier();
    assert!(c
        .pick(&[(Side::Customer, "hello?"), (Side::Agent, "Hi!")], "en")
        .is_empty());
    // A dialog's answer alone says something.
    let topic = c.classify(&[(Side::Answer, "topic=billing")], "en");
    assert_eq!(topic[0].category, "billing");
    // A language without examples is read with English's model.
    let de = c.classify(&[(Side::Customer, "my parcel tracking")], "de");
    assert_eq!(de[0].category, "delivery");
}
