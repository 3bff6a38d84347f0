//! The knowledge base at 10,000 articles: loading them from files, and
//! answering questions.
//!
//! `cargo bench --bench kb`. The articles are generated (seeded, so every
//! run is the same base): support words and 6,000 made-up words drawn with
//! a Zipf-like skew, as real text has, at realistic lengths (a title, 3–6
//! question variants, keywords, a body of 20–200 words), written to a
//! temporary folder, all in one language so that a question searches all
//! of them. The questions mix an article's
//! variant with a typo, bags of words, and words the base has never seen,
//! which take the typo path. The per-question p50/p99 over 2,000 questions
//! is printed first, because the target is a tail latency (< 5 ms) and
//! criterion reports means; then the load time of one pass.

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use switchboard::kb::{KnowledgeBase, Tuning};

const ARTICLES: usize = 10_000;
const QUESTIONS: usize = 2_000;
const SUPPORT: &[&str] = &[
    "account",
    "password",
    "login",
    "order",
    "delivery",
    "parcel",
    "refund",
    "return",
    "invoice",
    "payment",
    "card",
    "subscription",
    "plan",
    "cancel",
    "pause",
    "upgrade",
    "gift",
    "balance",
    "app",
    "phone",
    "notification",
    "privacy",
    "data",
    "export",
    "delete",
    "email",
    "address",
    "tracking",
    "carrier",
    "damaged",
    "broken",
    "exchange",
    "size",
    "colour",
    "discount",
    "code",
    "voucher",
    "premium",
    "renewal",
    "charge",
    "bank",
    "statement",
    "shipping",
    "express",
    "warehouse",
    "customs",
    "agent",
    "complaint",
    "security",
    "verification",
    "locked",
    "profile",
];
const FILLER: &[&str] = &[
    "the", "my", "is", "how", "do", "i", "can", "you", "a", "to", "of", "not", "it", "for", "with",
    "when", "what", "why", "have", "been", "still", "please",
];

/// A vocabulary: the support words first (the most frequent), then
/// made-up words of two to four syllables.
fn vocabulary(rng: &mut StdRng) -> Vec<String> {
    const ONSETS: [&str; 14] = [
        "b", "c", "d", "f", "g", "l", "m", "n", "p", "r", "s", "t", "v", "tr",
    ];
    const VOWELS: [&str; 6] = ["a", "e", "i", "o", "u", "ou"];
    let mut words: Vec<String> = SUPPORT.iter().map(|w| w.to_string()).collect();
    let mut seen: std::collections::HashSet<String> = words.iter().cloned().collect();
    while words.len() < SUPPORT.len() + 6_000 {
        let syllables = rng.gen_range(2..=4);
        let w: String = (0..syllables)
            .map(|_| {
                format!(
                    "{}{}",
                    ONSETS[rng.gen_range(0..ONSETS.len())],
                    VOWELS[rng.gen_range(0..VOWELS.len())]
                )
            })
            .collect();
        if seen.insert(w.clone()) {
            words.push(w);
        }
    }
    words
}

/// A word index skewed towards the start (rank r drawn ~ 1/r).
fn zipf(rng: &mut StdRng, n: usize) -> usize {
    let x: f64 = rng.gen_range(0.0..1.0);
    ((n as f64).powf(x) as usize).saturating_sub(1).min(n - 1)
}

fn sentence(rng: &mut StdRng, vocab: &[String], len: usize) -> String {
    let words: Vec<&str> = (0..len)
        .map(|_| {
            if rng.gen_bool(0.3) {
                FILLER[rng.gen_range(0..FILLER.len())]
            } else {
                vocab[zipf(rng, vocab.len())].as_str()
            }
        })
        .collect();
    words.join(" ")
}

fn list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("{s:?}")).collect();
    format!("[{}]", quoted.join(", "))
}

/// Writes the base; returns the question variants, to ask with typos.
fn generate(dir: &Path, rng: &mut StdRng, vocab: &[String]) -> Vec<String> {
    let mut variants = Vec::new();
    // One language holds them all: a question searches all 10,000.
    for (lang, count) in [("en", ARTICLES)] {
        std::fs::create_dir_all(dir.join(lang)).unwrap();
        for i in 0..count {
            let len = rng.gen_range(3..=8);
            let title = sentence(rng, vocab, len);
            let questions: Vec<String> = (0..rng.gen_range(3..=6))
                .map(|_| {
                    let len = rng.gen_range(4..=12);
                    sentence(rng, vocab, len)
                })
                .collect();
            let keywords: Vec<String> = (0..rng.gen_range(2..=5))
                .map(|_| vocab[zipf(rng, vocab.len())].clone())
                .collect();
            let related: Vec<String> = (0..rng.gen_range(0..=2).min(i))
                .map(|_| format!("article-{}", rng.gen_range(0..i)))
                .collect();
            let paragraphs: Vec<String> = (0..rng.gen_range(1..=4))
                .map(|_| {
                    let len = rng.gen_range(20..=50);
                    sentence(rng, vocab, len) + "."
                })
                .collect();
            let text = format!(
                "+++\ntitle = {title:?}\nquestions = {}\nkeywords = {}\nrelated = {}\nlinks = [{{ title = \"More\", url = \"https://shop.example/help/{i}\" }}]\n+++\n{}\n",
                list(&questions),
                list(&keywords),
                list(&related),
                paragraphs.join("\n\n")
            );
            std::fs::write(dir.join(lang).join(format!("article-{i}.md")), text).unwrap();
            variants.extend(questions);
        }
    }
    variants
}

/// One letter dropped from the longest word: the commonest typo.
fn typo(text: &str) -> String {
    let longest = text.split(' ').max_by_key(|w| w.len()).unwrap_or("");
    let cut: String = longest
        .chars()
        .enumerate()
        .filter(|&(i, _)| i != longest.len() / 2)
        .map(|(_, c)| c)
        .collect();
    text.replacen(longest, &cut, 1)
}

fn questions(rng: &mut StdRng, vocab: &[String], variants: &[String]) -> Vec<String> {
    (0..QUESTIONS)
        .map(|i| match i % 4 {
            0 => variants[rng.gen_range(0..variants.len())].clone(),
            1 => typo(&variants[rng.gen_range(0..variants.len())]),
            2 => {
                let len = rng.gen_range(2..=15);
                sentence(rng, vocab, len)
            }
            _ => format!(
                "{} zorbulax quintessimo {}",
                sentence(rng, vocab, 3),
                sentence(rng, vocab, 3)
            ),
        })
        .collect()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn bench(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(7);
    let vocab = vocabulary(&mut rng);
    let dir = tempfile::tempdir().unwrap();
    let variants = generate(dir.path(), &mut rng, &vocab);
    let asked = questions(&mut rng, &vocab, &variants);

    let started = Instant::now();
    let kb = KnowledgeBase::load(dir.path()).unwrap();
    let load = started.elapsed();
    assert_eq!(kb.len(), ARTICLES);

    let tuning = Tuning::default();
    let mut times: Vec<f64> = asked
        .iter()
        .map(|q| {
            let t = Instant::now();
            black_box(kb.ask("en", q, &tuning));
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    println!(
        "kb: {ARTICLES} articles loaded in {:.0} ms; ask over {QUESTIONS} questions: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        load.as_secs_f64() * 1e3,
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        times[times.len() - 1]
    );

    let mut group = c.benchmark_group("kb");
    let mut i = 0;
    group.bench_function("ask", |b| {
        b.iter(|| {
            i = (i + 1) % asked.len();
            black_box(kb.ask("en", &asked[i], &tuning))
        })
    });
    group.sample_size(10);
    group.bench_function("load_10k", |b| {
        b.iter(|| black_box(KnowledgeBase::load(dir.path()).unwrap().len()))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
