//! One language's TF-IDF model: the idf of its terms and a centroid per
//! category (see the method in `mod.rs`).

use std::collections::{BTreeMap, HashMap};

use super::Side;
use crate::text::Analyzer;

/// A sparse vector over terms; ordered, so that sums are made in the same
/// order every time and a conversation scores the same to the last bit.
type Vector = BTreeMap<String, f64>;

pub(super) struct LangModel {
    analyzer: Analyzer,
    idf: HashMap<String, f64>,
    /// By category id; `None` for a category with no text in this language.
    centroids: Vec<Option<Vector>>,
}

impl std::fmt::Debug for LangModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LangModel")
            .field("analyzer", &self.analyzer)
            .field("terms", &self.idf.len())
            .field(
                "categories",
                &self.centroids.iter().filter(|c| c.is_some()).count(),
            )
            .finish()
    }
}

/// `1 + ln tf`: the fifth "refund" in a chat says less than the first. A
/// weighted count under 1 (one agent line) stays as it is, so that the
/// curve stays increasing and a term seen once on a light side still
/// counts for less than once on a heavy one.
fn sublinear(tf: f64) -> f64 {
    if tf > 1.0 {
        1.0 + tf.ln()
    } else {
        tf
    }
}

fn normalise(v: &mut Vector) {
    let norm = v.values().map(|x| x * x).sum::<f64>().sqrt();
    if norm > 0.0 {
        v.values_mut().for_each(|x| *x /= norm);
    }
}

impl LangModel {
    /// `examples` and `keywords` as (category id, text).
    pub(super) fn train(
        lang: &str,
        categories: usize,
        examples: &[(usize, &str)],
        keywords: &[(usize, &str)],
    ) -> LangModel {
        let analyzer = Analyzer::new(lang);
        let count = |text: &str| {
            let mut tf = Vector::new();
            for t in terms(&analyzer, text) {
                *tf.entry(t).or_default() += 1.0;
            }
            tf
        };
        let ex: Vec<(usize, Vector)> = examples.iter().map(|(c, t)| (*c, count(t))).collect();
        let kw: Vec<(usize, Vector)> = keywords.iter().map(|(c, t)| (*c, count(t))).collect();
        // Document frequency over every example and keyword: a term that
        // every category's examples use ("order", "commande") separates
        // nothing and weighs next to nothing.
        let mut df: HashMap<String, f64> = HashMap::new();
        for (_, tf) in ex.iter().chain(&kw) {
            for t in tf.keys() {
                *df.entry(t.clone()).or_default() += 1.0;
            }
        }
        let n = (ex.len() + kw.len()) as f64;
        let idf: HashMap<String, f64> = df
            .into_iter()
            .map(|(t, d)| (t, (1.0 + n / d).ln()))
            .collect();
        let vector = |tf: &Vector| {
            let mut v: Vector = tf
                .iter()
                .map(|(t, c)| (t.clone(), sublinear(*c) * idf[t]))
                .collect();
            normalise(&mut v);
            v
        };
        let mut centroids: Vec<Option<Vector>> = vec![None; categories];
        for docs in [&ex, &kw] {
            // Each list's mean, so that ten keywords weigh as much as
            // thirty examples, and a category with more examples than
            // another is not favoured for it.
            let mut sums: Vec<(Vector, usize)> = vec![(Vector::new(), 0); categories];
            for (c, tf) in docs.iter() {
                if tf.is_empty() {
                    continue;
                }
                for (t, x) in vector(tf) {
                    *sums[*c].0.entry(t).or_default() += x;
                }
                sums[*c].1 += 1;
            }
            for (c, (sum, k)) in sums.into_iter().enumerate() {
                if k == 0 {
                    continue;
                }
                let centroid = centroids[c].get_or_insert_with(Vector::new);
                for (t, x) in sum {
                    *centroid.entry(t).or_default() += x / k as f64;
                }
            }
        }
        for c in centroids.iter_mut().flatten() {
            normalise(c);
        }
        LangModel {
            analyzer,
            idf,
            centroids,
        }
    }

    /// The cosine of the conversation with each category's centroid, by
    /// category id. Terms the examples never use are left out of the
    /// conversation's vector: they say nothing of any category, and a
    /// long chat full of order numbers and greetings should score like
    /// the same chat without them.
    pub(super) fn scores(&self, lines: &[(Side, &str)]) -> Vec<f64> {
        let mut tf = Vector::new();
        for (side, text) in lines {
            for t in terms(&self.analyzer, text) {
                if self.idf.contains_key(&t) {
                    *tf.entry(t).or_default() += side.weight();
                }
            }
        }
        let mut q: Vector = tf
            .into_iter()
            .map(|(t, c)| {
                let w = sublinear(c) * self.idf[&t];
                (t, w)
            })
            .collect();
        normalise(&mut q);
        self.centroids
            .iter()
            .map(|c| match c {
                Some(c) => q
                    .iter()
                    .map(|(t, x)| x * c.get(t).copied().unwrap_or(0.0))
                    .sum(),
                None => 0.0,
            })
            .collect()
    }
}

/// The stemmed meaningful words of `text`, hyphenated words also joined
/// ("e-mail" → "email") on both sides, so that either spelling meets the
/// other.
fn terms(analyzer: &Analyzer, text: &str) -> Vec<String> {
    analyzer
        .words(text, true)
        .iter()
        .map(|w| analyzer.stem(w))
        .collect()
}
