//! The ranking: BM25F over one language's articles, with an inverted index
//! of our own so that a question costs a few postings lists, not a scan.
//!
//! Fields weigh differently ([`FIELDS`]): the title, the question variants
//! and the keywords say what an article is *about*, the body also mentions
//! what it is not about ("if you did not receive your refund..."). Each
//! field's term frequency is normalised by that field's length (BM25F's
//! `b`), the weighted sum saturated once (`k1`): a posting holds that
//! saturated value, which does not depend on the question, so a question's
//! score is a sum of `idf × saturation` over its terms.
//!
//! # Scores in 0..=1
//!
//! (The BM25F half of the final score; see the re-ranking below.)
//! Saturation is below 1, so `Σ idf(t)` over the question's terms bounds
//! the raw score: an article that contains every term in all its heavy
//! fields comes close. The score is the raw score divided by that bound,
//! i.e. the share of the question's information the article covers, well
//! matched. Words the index has never seen count in the bound with a
//! reduced weight ([`UNKNOWN`]): "refund for my blender" is still about
//! refunds, but less surely than "refund". Terms found by typo tolerance
//! count at a reduced weight in the score ([`FUZZY`]) and in full in the
//! bound, so a misspelt question scores a little lower than a clean one.
//!
//! # Typos
//!
//! A word that is neither known nor stems to a known term is matched to
//! the nearest known words ([`super::typo`]), at a reduced weight.
//!
//! # Re-ranking by coverage of a phrase
//!
//! BM25F asks how much of the question an article covers; it does not ask
//! how much of the article the question covers, so an article that
//! shares one rare word with the question ("placed") can beat the one
//! whose title is the question ("Cancel an order"). The best [`RERANK`]
//! articles are scored again: the share of the best covered of its
//! phrases (the title, each question variant, each keyword at a lower
//! weight, [`KEYWORD`]), weighted by idf and smoothed ([`SMOOTH`]) so that
//! a phrase of one common word cannot be covered whole. The final score
//! is `BLEND × BM25F + (1 − BLEND) × coverage`: both are in 0..=1, so it
//! is too, and an article matched only through its body gets at most
//! `BLEND`, as a weaker sign.

use std::collections::HashMap;

use super::article::Article;
use super::typo::Typos;
use crate::text::Analyzer;

/// BM25F's field weights and length normalisations, and `k1`.
const FIELDS: [(f32, f32); 4] = [
    (3.0, 0.5),  // title
    (3.0, 0.6),  // questions
    (2.5, 0.3),  // keywords
    (1.0, 0.75), // body
];
const K1: f32 = 1.2;
/// Weight of a term reached by one edit, and by two.
const FUZZY: [f32; 2] = [0.7, 0.45];
/// How much an unknown word weighs in the bound, as a share of the idf of
/// a word found in one article.
const UNKNOWN: f32 = 0.35;
/// At most this many terms stand for one misspelt word.
const FUZZY_TERMS: usize = 2;
/// How many of the best BM25F hits are re-ranked by phrase coverage.
const RERANK: usize = 100;
/// The BM25F score's share in the final score; the rest is phrase coverage.
const BLEND: f32 = 0.5;

/// Added to a phrase's idf when dividing by it, as a share of a rare
/// word's idf: "where is my order" is all "order", and covering it whole
/// with that one common word must not count as covering "Cancel an order".
const SMOOTH: f32 = 0.25;
/// What covering a keyword is worth, against a title or a question
/// variant: one word covers a keyword whole, and most articles share one.
const KEYWORD: f32 = 0.6;

/// One field of an article: (term, count) and the field's length in words.
type FieldCounts = (Vec<(u32, u32)>, usize);

/// An article's phrase: its distinct terms, their summed idf, its weight.
struct Phrase {
    terms: Box<[u32]>,
    idf: f32,
    weight: f32,
}

/// One language's articles and their index.
pub(super) struct LangIndex {
    pub lang: String,
    pub articles: Vec<Article>,
    pub by_id: HashMap<String, usize>,
    analyzer: Analyzer,
    /// Stem → term.
    terms: HashMap<String, u32>,
    /// Folded word as written → its term, so that a question's known words
    /// are not stemmed again.
    words: HashMap<String, u32>,
    typos: Typos,
    /// Per article: its title, question variants and keywords.
    phrases: Vec<Vec<Phrase>>,
    idf: Vec<f32>,
    /// Per term: (article, saturated weighted frequency).
    postings: Vec<Vec<(u32, f32)>>,
    /// The idf of a word found in one article: the scale of [`UNKNOWN`].
    rare_idf: f32,
}

impl std::fmt::Debug for LangIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LangIndex")
            .field("lang", &self.lang)
            .field("articles", &self.articles.len())
            .field("terms", &self.terms.len())
            .field("analyzer", &self.analyzer)
            .finish()
    }
}

fn inverse_df(n: usize, df: usize) -> f32 {
    let (n, df) = (n as f32, df as f32);
    (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
}

/// One word of a question, resolved: the terms that stand for it with
/// their weights, and what it adds to the bound.
struct Slot {
    terms: Vec<(u32, f32)>,
    bound: f32,
}

impl LangIndex {
    pub fn build(lang: &str, articles: Vec<Article>) -> LangIndex {
        let analyzer = Analyzer::new(lang);
        let mut terms: HashMap<String, u32> = HashMap::new();
        let mut words: HashMap<String, u32> = HashMap::new();
        // Per article, per field: (term, count) and the field's length.
        let mut docs: Vec<[FieldCounts; 4]> = Vec::with_capacity(articles.len());
        let mut totals = [0usize; 4];
        let mut phrase_terms: Vec<Vec<(Vec<u32>, f32)>> = Vec::with_capacity(articles.len());
        for a in &articles {
            let texts = [
                a.title.clone(),
                a.questions.join("\n"),
                a.keywords.join("\n"),
                a.answer.clone(),
            ];
            let fields = texts.map(|text| {
                let mut counts: HashMap<u32, u32> = HashMap::new();
                let list = analyzer.words(&text, true);
                for w in &list {
                    let term = match words.get(w) {
                        Some(&t) => t,
                        None => {
                            let next = terms.len() as u32;
                            let t = *terms.entry(analyzer.stem(w)).or_insert(next);
                            words.insert(w.clone(), t);
                            t
                        }
                    };
                    *counts.entry(term).or_default() += 1;
                }
                let mut counts: Vec<(u32, u32)> = counts.into_iter().collect();
                counts.sort_unstable();
                (counts, list.len())
            });
            let lines = std::iter::once(&a.title)
                .chain(&a.questions)
                .map(|l| (l, 1.0))
                .chain(a.keywords.iter().map(|l| (l, KEYWORD)));
            let phrases = lines
                .map(|(line, weight)| {
                    let mut list: Vec<u32> = analyzer
                        .words(line, true)
                        .iter()
                        .filter_map(|w| words.get(w).copied())
                        .collect();
                    list.sort_unstable();
                    list.dedup();
                    (list, weight)
                })
                .filter(|(list, _)| !list.is_empty())
                .collect();
            phrase_terms.push(phrases);
            for (total, field) in totals.iter_mut().zip(&fields) {
                *total += field.1;
            }
            docs.push(fields);
        }
        let n = articles.len().max(1);
        let avg = totals.map(|t| (t as f32 / n as f32).max(1.0));
        let mut tf: Vec<HashMap<u32, f32>> = vec![HashMap::new(); articles.len()];
        for (doc, fields) in docs.iter().enumerate() {
            for (f, (counts, len)) in fields.iter().enumerate() {
                let (weight, b) = FIELDS[f];
                let norm = 1.0 - b + b * *len as f32 / avg[f];
                for &(term, count) in counts {
                    *tf[doc].entry(term).or_default() += weight * count as f32 / norm;
                }
            }
        }
        let mut postings: Vec<Vec<(u32, f32)>> = vec![Vec::new(); terms.len()];
        for (doc, map) in tf.into_iter().enumerate() {
            for (term, t) in map {
                postings[term as usize].push((doc as u32, t / (K1 + t)));
            }
        }
        for list in &mut postings {
            list.sort_unstable_by_key(|p| p.0);
        }
        let idf = postings.iter().map(|p| inverse_df(n, p.len())).collect();
        let idf: Vec<f32> = idf;
        let phrases = phrase_terms
            .into_iter()
            .map(|list| {
                list.into_iter()
                    .map(|(terms, weight)| Phrase {
                        idf: terms.iter().map(|&t| idf[t as usize]).sum(),
                        terms: terms.into(),
                        weight,
                    })
                    .collect()
            })
            .collect();
        let by_id = articles
            .iter()
            .enumerate()
            .map(|(i, a)| (a.id.clone(), i))
            .collect();
        LangIndex {
            lang: lang.to_string(),
            rare_idf: inverse_df(n, 1),
            articles,
            by_id,
            analyzer,
            terms,
            typos: Typos::new(&words),
            words,
            phrases,
            idf,
            postings,
        }
    }

    /// The terms within typo distance of `word`, with their weights.
    fn near(&self, word: &str) -> Vec<(u32, f32)> {
        let df = |t: u32| self.postings[t as usize].len();
        self.typos
            .near(word, df, FUZZY_TERMS)
            .into_iter()
            .map(|(t, d)| (t, FUZZY[d.clamp(1, 2) - 1]))
            .collect()
    }

    /// How well the question's terms cover the article's best phrase.
    fn coverage(&self, doc: usize, asked: &[(u32, f32)]) -> f32 {
        let weight = |t: u32| asked.iter().find(|a| a.0 == t).map_or(0.0, |a| a.1);
        self.phrases[doc]
            .iter()
            .map(|p| {
                let covered: f32 = p
                    .terms
                    .iter()
                    .map(|&t| weight(t) * self.idf[t as usize])
                    .sum();
                p.weight * covered / (p.idf + SMOOTH * self.rare_idf)
            })
            .fold(0.0, f32::max)
    }

    fn slots(&self, text: &str) -> Vec<Slot> {
        let mut words = self.analyzer.words(text, false);
        // Two words the index knows as one ("log in" → "login").
        let tokens = self.analyzer.tokens(text);
        for pair in tokens.windows(2) {
            let joined = pair.concat();
            if self.words.contains_key(&joined) {
                words.push(joined);
            }
        }
        // A word asked twice is asked once.
        words.sort_unstable();
        words.dedup();
        let mut slots: Vec<Slot> = Vec::new();
        let mut seen: Vec<u32> = Vec::new();
        for w in &words {
            let exact = self
                .words
                .get(w)
                .or_else(|| self.terms.get(&self.analyzer.stem(w)));
            let slot = match exact {
                Some(&t) => Slot {
                    terms: vec![(t, 1.0)],
                    bound: self.idf[t as usize],
                },
                None => {
                    let terms = self.near(w);
                    let bound = terms
                        .iter()
                        .map(|&(t, _)| self.idf[t as usize])
                        .fold(UNKNOWN * self.rare_idf, f32::max);
                    Slot { terms, bound }
                }
            };
            // So is a term reached from two words ("refunds", "refunded").
            if slot.terms.iter().any(|(t, _)| seen.contains(t)) {
                continue;
            }
            seen.extend(slot.terms.iter().map(|(t, _)| *t));
            slots.push(slot);
        }
        slots
    }

    /// The best `limit` articles for `text`, best first, scores in 0..=1.
    pub fn search(&self, text: &str, limit: usize) -> Vec<(usize, f32)> {
        let slots = self.slots(text);
        let bound: f32 = slots.iter().map(|s| s.bound).sum();
        if limit == 0 || bound <= 0.0 || slots.iter().all(|s| s.terms.is_empty()) {
            return Vec::new();
        }
        let mut acc = vec![0f32; self.articles.len()];
        for slot in &slots {
            for &(term, weight) in &slot.terms {
                let w = weight * self.idf[term as usize];
                for &(doc, sat) in &self.postings[term as usize] {
                    acc[doc as usize] += w * sat;
                }
            }
        }
        let mut hits: Vec<(usize, f32)> = acc
            .into_iter()
            .enumerate()
            .filter(|&(_, s)| s > 0.0)
            .map(|(d, s)| (d, (s / bound).min(1.0)))
            .collect();
        let by_score = |a: &(usize, f32), b: &(usize, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        let keep = limit.max(RERANK);
        if hits.len() > keep {
            hits.select_nth_unstable_by(keep - 1, by_score);
            hits.truncate(keep);
        }
        let asked: Vec<(u32, f32)> = slots.iter().flat_map(|s| s.terms.iter().copied()).collect();
        for hit in &mut hits {
            let covered = self.coverage(hit.0, &asked);
            hit.1 = (BLEND * hit.1 + (1.0 - BLEND) * covered).min(1.0);
        }
        hits.sort_unstable_by(by_score);
        hits.truncate(limit);
        hits
    }
}

#[cfg(test)]
#[path = "index_tests.rs"]
mod tests;
