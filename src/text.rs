//! Text analysis: what a customer's words and the admin's texts they are
//! compared with (knowledge-base articles, the examples of a category) go
//! through first, so that they meet as the same terms. Lowercased and
//! folded (accents dropped: customers type "probleme" as often as
//! "problème", and neither side must care), cut into words, stop words
//! dropped, then stemmed with the language's Snowball stemmer so that
//! "refunds", "refunded" and "refund" are one term.
//!
//! At the ground floor (it imports nothing of the crate) because both
//! [`kb`](crate::kb) and [`classify`](crate::classify) need exactly the
//! same analysis, and neither should import the other for it.
//!
//! Folding comes before stemming on both sides on purpose: the stemmers
//! are slightly better on accented French, but a stem that depends on
//! whether the customer typed the accent would split one word in two.

use std::collections::HashSet;

use rust_stemmers::{Algorithm, Stemmer};
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Words that greet or thank rather than ask: not in NLTK's lists, but
/// common in chat, and never what an article is about. For French, also
/// the question words and "can", "want" that NLTK's English list has and
/// its French one lacks, so that "quand" does not weigh like "remboursé".
const CHAT_WORDS: &[(&str, &[&str])] = &[
    (
        "en",
        &[
            "hello", "hi", "hey", "please", "pls", "plz", "thanks", "thank", "thx", "ok", "okay",
        ],
    ),
    (
        "fr",
        &[
            "bonjour", "bonsoir", "salut", "merci", "svp", "stp", "madame", "monsieur", "ok",
            "comment", "quand", "pourquoi", "quel", "quelle", "quels", "quelles", "puis", "peux",
            "peut", "pouvez", "veux", "voudrais", "vais", "etre", "avoir",
        ],
    ),
];

/// The language part of a tag: "fr-CA" → "fr", "pt_BR" → "pt".
pub fn base_language(lang: &str) -> String {
    lang.split(['-', '_'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
}

fn algorithm(base: &str) -> Option<Algorithm> {
    Some(match base {
        "ar" => Algorithm::Arabic,
        "da" => Algorithm::Danish,
        "nl" => Algorithm::Dutch,
        "en" => Algorithm::English,
        "fr" => Algorithm::French,
        "de" => Algorithm::German,
        "el" => Algorithm::Greek,
        "hu" => Algorithm::Hungarian,
        "it" => Algorithm::Italian,
        "no" | "nb" | "nn" => Algorithm::Norwegian,
        "pt" => Algorithm::Portuguese,
        "ro" => Algorithm::Romanian,
        "ru" => Algorithm::Russian,
        "es" => Algorithm::Spanish,
        "sv" => Algorithm::Swedish,
        "ta" => Algorithm::Tamil,
        "tr" => Algorithm::Turkish,
        _ => return None,
    })
}

/// Lowercase without accents or ligatures. German writes a missing umlaut
/// as a following "e", so there "ü" folds to "ue" rather than "u".
pub fn fold(text: &str, base: &str) -> String {
    let german = base == "de";
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
            continue;
        }
        match c {
            'œ' | 'Œ' => out.push_str("oe"),
            'æ' | 'Æ' => out.push_str("ae"),
            'ß' => out.push_str("ss"),
            'ä' | 'Ä' | 'ö' | 'Ö' | 'ü' | 'Ü' if german => {
                fold_into(c, &mut out);
                out.push('e');
            }
            // Typographic apostrophes split words like the ASCII one.
            '\u{2019}' | '\u{2018}' | '\u{02bc}' => out.push('\''),
            _ => fold_into(c, &mut out),
        }
    }
    out
}

fn fold_into(c: char, out: &mut String) {
    for d in c.to_lowercase().nfd() {
        if !is_combining_mark(d) {
            out.push(d);
        }
    }
}

/// One language's analysis: its stop words (folded, like the text they are
/// compared with) and its stemmer, if Snowball has one.
pub struct Analyzer {
    base: String,
    stemmer: Option<Stemmer>,
    stops: HashSet<String>,
}

impl std::fmt::Debug for Analyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analyzer")
            .field("language", &self.base)
            .field("stemmed", &self.stemmer.is_some())
            .field("stop_words", &self.stops.len())
            .finish()
    }
}

impl Analyzer {
    pub fn new(lang: &str) -> Analyzer {
        let base = base_language(lang);
        let mut stops: HashSet<String> = stop_words::lookup(&base)
            .unwrap_or(&[])
            .iter()
            .map(|w| fold(w, &base))
            .collect();
        for (l, words) in CHAT_WORDS {
            if *l == base {
                stops.extend(words.iter().map(|w| w.to_string()));
            }
        }
        Analyzer {
            stemmer: algorithm(&base).map(Stemmer::create),
            base,
            stops,
        }
    }

    pub fn is_stop(&self, word: &str) -> bool {
        self.stops.contains(word)
    }

    pub fn stem(&self, word: &str) -> String {
        match &self.stemmer {
            Some(s) => s.stem(word).into_owned(),
            None => word.to_string(),
        }
    }

    /// The folded words of `text` that carry meaning, in order: no stop
    /// words, no single letters (elided French articles: "l'", "d'"). A
    /// hyphenated word also yields its parts joined ("e-mail" → "e",
    /// "mail", "email"), so that either spelling finds it, unless a part is
    /// a stop word.
    /// A question's words are not joined this way: "vais-je" is no word,
    /// and an unknown word counts against the match (the query side joins
    /// neighbours only into words the index knows).
    pub fn words(&self, text: &str, join: bool) -> Vec<String> {
        let folded = fold(text, &self.base);
        let mut out = Vec::new();
        for chunk in folded.split(|c: char| !(c.is_alphanumeric() || c == '-')) {
            let parts: Vec<&str> = chunk.split('-').filter(|p| !p.is_empty()).collect();
            for part in &parts {
                self.keep(part, &mut out);
            }
            // "vais-je", "est-elle" are two words, not a compound.
            if join && parts.len() > 1 && !parts.iter().any(|p| self.is_stop(p)) {
                self.keep(&parts.concat(), &mut out);
            }
        }
        out
    }

    /// Every folded word, stop words included, split at hyphens too: the
    /// query side looks at neighbours ("log in" → "login").
    pub fn tokens(&self, text: &str) -> Vec<String> {
        fold(text, &self.base)
            .split(|c: char| !c.is_alphanumeric())
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect()
    }

    fn keep(&self, word: &str, out: &mut Vec<String>) {
        let single_letter = word.chars().count() == 1 && !word.as_bytes()[0].is_ascii_digit();
        if !single_letter && !self.is_stop(word) {
            out.push(word.to_string());
        }
    }
}

#[cfg(test)]
#[path = "text_tests.rs"]
mod tests;
