//! The customer's mood read from their words: a frustration score per
//! message and per session, for routing and dialog rules to act on and
//! for supervisors to see. Pure: text and times in, scores out.
//!
//! A message's score follows VADER's method (a valence lexicon, with
//! negation flipping and dampening a word within three words before it,
//! intensifiers raising the next word's weight, capitals and repeated
//! punctuation as emphasis), in English and French, with what a support
//! chat adds: a demand for a person ("agent!"), threats to leave, and
//! repeated question marks. The lexicons are ours (`lexicon.rs`): the
//! VADER crates on crates.io are English-only and unmaintained, and a
//! contact center's frustration words ("still", "again", "ridiculous",
//! "toujours pas") are not those of social media. A session's score adds
//! what only the session shows: the same question asked again, and the
//! time the customer has waited.

mod lexicon;

use lexicon::{Lexicon, EN, FR};

/// The mood of one message.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageMood {
    /// 0 (calm or pleased) to 1 (furious).
    pub frustration: f32,
    /// What raised it, for the agent and the supervisor ("caps", "agent!").
    pub signals: Vec<&'static str>,
}

/// Frustration at or above this is what rules call "frustrated".
pub const FRUSTRATED: f32 = 0.5;

fn lexicon(lang: Option<&str>) -> &'static Lexicon {
    match lang.map(|l| l.to_ascii_lowercase()) {
        Some(l) if l == "fr" || l.starts_with("fr-") => &FR,
        _ => &EN,
    }
}

/// Lowercase words, apostrophes kept inside ("don't", "n'est"): the
/// lexicon reads English contractions and French elisions whole.
fn words(text: &str) -> Vec<String> {
    tokens(text).into_iter().map(|t| t.lower).collect()
}

/// A word as written and lowercased, and the clause it is in: a negation
/// does not reach past a comma or a full stop ("pas normal, inadmissible").
struct Token<'a> {
    raw: &'a str,
    lower: String,
    clause: usize,
}

fn tokens(text: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut clause = 0;
    let mut start = None;
    let is_word = |c: char| c.is_alphanumeric() || c == '\'' || c == '’';
    for (i, c) in text
        .char_indices()
        .chain(std::iter::once((text.len(), ' ')))
    {
        match (is_word(c), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                let raw = &text[s..i];
                out.push(Token {
                    raw,
                    lower: raw.replace('’', "'").to_lowercase(),
                    clause,
                });
                start = None;
            }
            _ => {}
        }
        if matches!(c, ',' | '.' | ';' | ':' | '!' | '?') {
            clause += 1;
        }
    }
    out
}

/// Scores one message in `lang` (its `xml:lang`; English otherwise).
pub fn message(text: &str, lang: Option<&str>) -> MessageMood {
    let lex = lexicon(lang);
    let toks = tokens(text);
    let raw: Vec<&str> = toks.iter().map(|t| t.raw).collect();
    let ws: Vec<String> = toks.iter().map(|t| t.lower.clone()).collect();
    let mut signals = Vec::new();
    let mut sum = 0.0f32;
    let shouting = raw.iter().filter(|w| is_caps(w)).count();
    for i in 0..ws.len() {
        let Some(mut v) = lex.valence(&ws, i) else {
            continue;
        };
        // An intensifier just before: "very", "so", "vraiment".
        if i > 0 && lex.is_intensifier(&ws[i - 1]) {
            v *= 1.3;
        }
        // A negation within three words: "not happy", "pas content".
        let start = i.saturating_sub(3);
        let negated =
            (start..i).any(|j| toks[j].clause == toks[i].clause && lex.is_negation(&ws[j]));
        if negated {
            v *= -0.6;
        }
        // Capitals amid lowercase: "this is RIDICULOUS".
        if raw.get(i).is_some_and(|r| is_caps(r)) && shouting < raw.len() {
            v *= 1.4;
        }
        sum += v;
    }
    if sum < -0.5 {
        signals.push("negative words");
    }
    let mut extra = 0.0f32;
    if lex.demands_person(&ws) {
        extra += 0.25;
        signals.push("asks for a person");
    }
    if lex.threatens(&ws) {
        extra += 0.35;
        signals.push("threatens to leave");
    }
    if lex.says_again(&ws) {
        extra += 0.25;
        signals.push("not the first time");
    }
    if lex.unanswered(&ws) {
        extra += 0.3;
        signals.push("nobody answers");
    }
    // A whole message in capitals is shouting.
    let letters = text.chars().filter(|c| c.is_alphabetic()).count();
    let capitals = text.chars().filter(|c| c.is_uppercase()).count();
    if letters >= 4 && capitals * 10 >= letters * 7 {
        extra += 0.45;
        signals.push("capitals");
    }
    if text.contains("!!") || text.contains("?!") || text.contains("!?") {
        extra += 0.15;
        signals.push("exclamations");
    }
    let asking = text.matches("??").count().min(2);
    if asking > 0 {
        extra += 0.15 * asking as f32;
        signals.push("repeated question marks");
    }
    // Negative valence raises frustration; positive lowers it. The same
    // normalisation as VADER's compound score: x / sqrt(x² + 15).
    let compound = sum / (sum * sum + 15.0).sqrt();
    let base = (-compound).max(0.0) * 0.9;
    let calm = compound.max(0.0) * 0.5;
    let frustration = (base + extra - calm).clamp(0.0, 1.0);
    MessageMood {
        frustration,
        signals,
    }
}

fn is_caps(w: &str) -> bool {
    w.chars().filter(|c| c.is_alphabetic()).count() >= 3 && !w.chars().any(|c| c.is_lowercase())
}

/// A session's mood as its messages come: the latest messages weigh most,
/// the same question again and a long wait add to it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionMood {
    /// 0..=1, decayed per message.
    pub frustration: f32,
    /// The highest a message reached.
    pub peak: f32,
    pub messages: u32,
    /// Questions asked, as their words, to spot one asked again.
    asked: Vec<Vec<String>>,
}

impl SessionMood {
    /// Adds a message written after `waited_secs` without an answer from
    /// a person; returns that message's mood (with the session's signals).
    pub fn add(&mut self, text: &str, lang: Option<&str>, waited_secs: u64) -> MessageMood {
        let mut m = message(text, lang);
        let ws = words(text);
        if text.contains('?') && ws.len() >= 3 {
            let again = self.asked.iter().any(|q| overlap(q, &ws) >= 0.6);
            if again {
                m.frustration = (m.frustration + 0.2).min(1.0);
                m.signals.push("asks again");
            }
            if self.asked.len() < 20 {
                self.asked.push(ws);
            }
        }
        // Waiting wears patience: up to +0.3 after half an hour.
        let wait = (waited_secs as f32 / 1800.0).min(1.0) * 0.3;
        if wait >= 0.1 {
            m.signals.push("long wait");
        }
        m.frustration = (m.frustration + wait).min(1.0);
        self.frustration = if self.messages == 0 {
            m.frustration
        } else {
            0.6 * m.frustration + 0.4 * self.frustration
        };
        self.peak = self.peak.max(m.frustration);
        self.messages += 1;
        m
    }

    pub fn frustrated(&self) -> bool {
        self.frustration >= FRUSTRATED
    }
}

/// Share of the shorter question's words found in the other.
fn overlap(a: &[String], b: &[String]) -> f32 {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if short.is_empty() {
        return 0.0;
    }
    let hits = short.iter().filter(|w| long.contains(w)).count();
    hits as f32 / short.len() as f32
}

#[cfg(test)]
#[path = "mod_tests.rs"]
mod tests;
