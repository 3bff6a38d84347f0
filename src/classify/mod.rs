//! Which of the admin's categories a conversation is about, so that an
//! escalation reaches the second level that knows the subject. Trained on
//! the examples and keywords of `categories.toml` (which `config` reads and
//! validates); given a conversation's lines, it scores every category.
//!
//! A pure library: lines in, scores out. It imports only [`crate::text`]
//! (the same folding, stop words and stemming the knowledge base uses, so
//! that "remboursé" and "rembourse" are one term here too),
//! [`crate::problem`] and [`crate::util`].
//!
//! # Method
//!
//! TF-IDF with a nearest-centroid rule, per language (`model.rs`). Each
//! example and each keyword is a document: sublinear term frequency
//! (`1 + ln tf`), times the inverse document frequency over that
//! language's documents, normalised. A category's centroid is the mean of
//! its examples' vectors plus the mean of its keywords' vectors, so that
//! the keywords as a whole weigh as much as all its examples (a keyword
//! is the admin saying "this word decides"). A conversation is one
//! weighted bag of terms; its score for a category is the cosine with the
//! centroid, in `[0, 1]` because no weight is negative.
//!
//! Why hand-rolled: the crates found (`naivebayes`, `classifier`,
//! `natural`) are unmaintained single-label naive Bayes over their own
//! tokens, with no weight per token (our sides weigh differently), and
//! `scirs2-text` brings ndarray and a numeric stack for a job of a hundred
//! lines. Why a centroid and not naive Bayes: a cosine is a score an admin
//! can read and threshold the same way for a two-line chat and a forty-line
//! one, where naive Bayes' posteriors go to 0 or 1 with length and make a
//! margin between two categories meaningless; and with ten examples a
//! category, a centroid is steadier than the nearest single example.

mod model;

use std::collections::BTreeMap;

use crate::text::base_language;
use model::LangModel;

/// Who wrote a line, which decides how much it says about the subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The customer: says what is wrong, in their own words.
    Customer,
    /// An agent in the chat: mostly "let me check", "one moment", which
    /// belongs to no category.
    Agent,
    /// The first-level agent's note on escalating: someone who understood
    /// the problem, saying it in a line.
    Note,
    /// An answer to a dialog's question (`topic = billing`): the customer's
    /// own choice, but from a menu that may not fit their problem.
    Answer,
}

impl Side {
    /// The weight of one occurrence of a term on this side. Note and
    /// customer lines are the evidence; an answer counts for a bit more
    /// than half a customer's line (a menu choice is often the nearest
    /// item, not the problem); agents' lines a quarter, so that their
    /// stock phrases do not pull every chat to the same category while
    /// a second-level term they use ("I see a double charge") still counts.
    pub fn weight(self) -> f64 {
        match self {
            Side::Note => 1.5,
            Side::Customer => 1.0,
            Side::Answer => 0.6,
            Side::Agent => 0.25,
        }
    }
}

/// A category and how well a conversation fits it, in `[0, 1]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    pub category: String,
    pub score: f64,
}

/// One labelled text: an example phrase, or a keyword.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    pub category: String,
    /// A language tag ("en", "fr-CA"); only its base language counts.
    pub lang: String,
    pub text: String,
}

/// Of the best category, the fraction another must reach to be escalated
/// to as well: a conversation about a late parcel that was also charged
/// twice scores close on both. On `tests/classify` (54 chats with one
/// subject each) only one runner-up comes within 0.8 of its best (a
/// refund after a return: 0.88), so that a second queue is the exception
/// it should be.
pub const MARGIN: f64 = 0.8;

/// The score under which a runner-up is never picked, however close to
/// the best: two weak scores near each other are noise (a word or two in
/// common), not a second subject. The best score of a real chat on
/// `tests/classify` is 0.21 at the lowest.
pub const FLOOR: f64 = 0.15;

/// Texts of one language as (category id, text).
type Docs<'a> = Vec<(usize, &'a str)>;

/// The trained models, one per language the examples are in.
pub struct Classifier {
    /// Category names, in the order first met in the examples.
    categories: Vec<String>,
    /// By base language.
    models: BTreeMap<String, LangModel>,
}

impl std::fmt::Debug for Classifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Classifier")
            .field("categories", &self.categories)
            .field("models", &self.models)
            .finish()
    }
}

impl Classifier {
    /// Trains on `examples` and `keywords` (one [`Example`] per keyword).
    /// A category is known from either; one with no text in a language is
    /// never chosen for a conversation in that language.
    pub fn train(examples: &[Example], keywords: &[Example]) -> Classifier {
        let mut categories: Vec<String> = Vec::new();
        // By base language: (examples, keywords).
        let mut by_lang: BTreeMap<String, (Docs, Docs)> = BTreeMap::new();
        for (is_keyword, list) in [(false, examples), (true, keywords)] {
            for e in list {
                let id = match categories.iter().position(|c| *c == e.category) {
                    Some(i) => i,
                    None => {
                        categories.push(e.category.clone());
                        categories.len() - 1
                    }
                };
                let docs = by_lang.entry(base_language(&e.lang)).or_default();
                let side = if is_keyword { &mut docs.1 } else { &mut docs.0 };
                side.push((id, e.text.as_str()));
            }
        }
        let models = by_lang
            .into_iter()
            .map(|(lang, (ex, kw))| {
                let model = LangModel::train(&lang, categories.len(), &ex, &kw);
                (lang, model)
            })
            .collect();
        Classifier { categories, models }
    }

    /// The categories it knows, in the order first met.
    pub fn categories(&self) -> &[String] {
        &self.categories
    }

    /// The languages it has a model for.
    pub fn languages(&self) -> Vec<&str> {
        self.models.keys().map(String::as_str).collect()
    }

    /// The model for `lang`: its own, else English's (a language nobody
    /// wrote examples in is read as English, the likeliest second language
    /// of a customer and what product names and error messages are in),
    /// else any.
    fn model(&self, lang: &str) -> Option<&LangModel> {
        self.models
            .get(&base_language(lang))
            .or_else(|| self.models.get("en"))
            .or_else(|| self.models.values().next())
    }

    /// Every category with a score above zero, best first (ties in the
    /// order categories were first met, so that the result is stable).
    pub fn classify(&self, lines: &[(Side, &str)], lang: &str) -> Vec<Score> {
        let Some(model) = self.model(lang) else {
            return Vec::new();
        };
        let mut scores: Vec<Score> = model
            .scores(lines)
            .into_iter()
            .enumerate()
            .filter(|(_, s)| *s > 0.0)
            .map(|(i, score)| Score {
                category: self.categories[i].clone(),
                score: score.min(1.0),
            })
            .collect();
        // Stable: equal scores keep the categories' order.
        scores.sort_by(|a, b| b.score.total_cmp(&a.score));
        scores
    }

    /// The categories to escalate to: the best, and any other that scores
    /// at least [`MARGIN`] of the best and at least [`FLOOR`]. Empty when
    /// nothing in the conversation is about any category.
    pub fn pick(&self, lines: &[(Side, &str)], lang: &str) -> Vec<Score> {
        let scores = self.classify(lines, lang);
        let Some(best) = scores.first().map(|s| s.score) else {
            return scores;
        };
        scores
            .into_iter()
            .enumerate()
            .filter(|(i, s)| *i == 0 || (s.score >= best * MARGIN && s.score >= FLOOR))
            .map(|(_, s)| s)
            .collect()
    }
}

#[cfg(test)]
#[path = "mod_tests.rs"]
mod tests;
