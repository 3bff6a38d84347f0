//! `conf/dialogs.toml`: what Switchboard says and asks before a person
//! does. Questions (free text checked by a pattern, or a choice), dialogs
//! that ask them for an entry, a queue or a rule, the self-service
//! knowledge base and the handoff rules that decide when a customer is
//! put through to a live agent, and agents' canned answers. Validated
//! after `routing.toml`, against the entries, queues, rules and calendars
//! it declares; rules that test `answers.NAME` are checked here, where the
//! questions are known. The syntax is taught by the commented
//! `conf/dialogs.toml`; the reading of one file is in `dialogs_syntax.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use super::calendar::Calendar;
use super::rules::{contains_phrase, lang_covers, words, DomainPattern, Pattern};
use crate::kb::{KnowledgeBase, Tuning};

/// A text per language; the key "" is for every language.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LangText(pub(super) BTreeMap<String, String>);

impl LangText {
    pub fn plain(s: &str) -> LangText {
        LangText(BTreeMap::from([(String::new(), s.to_string())]))
    }

    /// The text for `lang` ("fr-CA" takes fr), else for every language,
    /// else in `default`, else any.
    pub fn get(&self, lang: Option<&str>, default: &str) -> &str {
        let tag = lang.map(str::to_ascii_lowercase);
        let exact = tag.as_deref().and_then(|t| {
            self.0
                .iter()
                .filter(|(l, _)| !l.is_empty() && lang_covers(l, t))
                .max_by_key(|(l, _)| l.len())
        });
        exact
            .map(|(_, v)| v)
            .or_else(|| self.0.get(""))
            .or_else(|| self.0.get(default))
            .or_else(|| self.0.values().next())
            .map_or("", String::as_str)
    }
}

/// One `[[question]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct QuestionDef {
    /// The key routing rules test as `answers.NAME`.
    pub name: String,
    pub line: usize,
    pub ask: LangText,
    pub kind: AnswerKind,
    /// Shown when an answer is refused.
    pub example: Option<LangText>,
    /// The customer may write "skip".
    pub optional: bool,
    /// Not asked again when an earlier session of the person answered it.
    pub remember: bool,
    /// A valid answer identifies the person (`account`, `email`...):
    /// identities giving the same one are linked.
    pub identifier: Option<String>,
    pub max_length: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AnswerKind {
    Text { pattern: Option<Pattern> },
    Choice(Vec<ChoiceDef>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChoiceDef {
    /// What is stored and what rules test.
    pub value: String,
    pub label: LangText,
}

/// Why an answer was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Empty,
    TooLong(usize),
    NoMatch,
    NotAChoice(usize),
}

/// Words that skip an optional question, in the languages we ship.
const SKIP: &[&str] = &["skip", "pass", "passer", "aucun", "none", "-"];

impl QuestionDef {
    /// The question as the customer sees it: with a numbered menu for a
    /// choice, which every client can answer by typing a number.
    pub fn prompt(&self, lang: Option<&str>, default: &str) -> String {
        let mut text = self.ask.get(lang, default).to_string();
        if let AnswerKind::Choice(choices) = &self.kind {
            for (i, c) in choices.iter().enumerate() {
                text.push_str(&format!("\n{}. {}", i + 1, c.label.get(lang, default)));
            }
        }
        text
    }

    /// Whether `text` skips this (optional) question.
    pub fn is_skip(&self, text: &str) -> bool {
        self.optional && SKIP.contains(&text.trim().to_lowercase().as_str())
    }

    /// The value stored for `text`, or why it is refused.
    pub fn accept(&self, text: &str, lang: Option<&str>, default: &str) -> Result<String, Refusal> {
        let t = text.trim();
        if t.is_empty() {
            return Err(Refusal::Empty);
        }
        match &self.kind {
            AnswerKind::Text { pattern } => {
                if t.chars().count() > self.max_length {
                    return Err(Refusal::TooLong(self.max_length));
                }
                match pattern {
                    Some(p) if !p.0.is_match(t) => Err(Refusal::NoMatch),
                    _ => Ok(t.to_string()),
                }
            }
            AnswerKind::Choice(choices) => {
                let n = choices.len();
                let t = t.trim_end_matches(['.', ')']).trim();
                if let Ok(i) = t.parse::<usize>() {
                    return match i {
                        1.. if i <= n => Ok(choices[i - 1].value.clone()),
                        _ => Err(Refusal::NotAChoice(n)),
                    };
                }
                let lower = t.to_lowercase();
                let label = |c: &ChoiceDef| c.label.get(lang, default).to_lowercase();
                if let Some(c) = choices
                    .iter()
                    .find(|c| c.value.to_lowercase() == lower || label(c) == lower)
                {
                    return Ok(c.value.clone());
                }
                // A word of one label only ("billing" for "Billing and
                // invoices") is as good as its number.
                let w = words(t);
                let hits: Vec<&ChoiceDef> = choices
                    .iter()
                    .filter(|c| !w.is_empty() && contains_phrase(&words(&label(c)), &w))
                    .collect();
                match hits.as_slice() {
                    [one] => Ok(one.value.clone()),
                    _ => Err(Refusal::NotAChoice(n)),
                }
            }
        }
    }

    /// The accepted values of a choice question; None for free text.
    pub fn values(&self) -> Option<BTreeSet<String>> {
        match &self.kind {
            AnswerKind::Choice(c) => Some(c.iter().map(|c| c.value.to_lowercase()).collect()),
            AnswerKind::Text { .. } => None,
        }
    }
}

/// One `[[dialog]]`: for the sessions it selects, its questions in order,
/// then the knowledge base when `self_service`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialogDef {
    pub name: String,
    pub line: usize,
    pub entry: Option<BTreeSet<String>>,
    pub queue: Option<BTreeSet<String>>,
    pub rule: Option<BTreeSet<String>>,
    pub questions: Vec<String>,
    pub self_service: bool,
    pub greeting: Option<LangText>,
}

impl DialogDef {
    /// Whether the dialog is for a session that wrote to `entry`, would be
    /// in `queue`, and matched `rule` (before any answer is known).
    pub fn selects(&self, entry: &str, queue: &str, rule: Option<&str>) -> bool {
        self.entry.as_ref().is_none_or(|e| e.contains(entry))
            && self.queue.as_ref().is_none_or(|q| q.contains(queue))
            && self
                .rule
                .as_ref()
                .is_none_or(|r| rule.is_some_and(|x| r.contains(x)))
    }
}

/// `[self_service]`: the knowledge base and how sure it must be.
#[derive(Debug, Clone, PartialEq)]
pub struct SelfService {
    pub dir: PathBuf,
    pub kb: KnowledgeBase,
    /// The knowledge base's language for customers whose own it lacks.
    pub language: String,
    pub confident: f32,
    pub relevant: f32,
    pub suggestions: usize,
    pub greeting: Option<LangText>,
    /// Phrases that ask for a person ("agent", "human"...), as words.
    pub agent_words: Vec<Vec<String>>,
}

impl SelfService {
    pub fn tuning(&self) -> Tuning {
        Tuning {
            confident: self.confident,
            relevant: self.relevant,
            suggestions: self.suggestions,
        }
    }

    /// Whether the customer asks for a person.
    pub fn asks_for_agent(&self, text: &str) -> bool {
        let w = words(text);
        self.agent_words.iter().any(|p| contains_phrase(&w, p))
    }
}

/// What a `[[handoff]]` rule does when it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    /// Put through to routing at once.
    Connect,
    /// Ask whether they want a person; yes connects.
    Invite,
    /// Say the message and keep answering (outside hours, say).
    Stay,
}

/// One `[[handoff]]` rule: the first whose conditions all hold applies.
#[derive(Debug, Clone, PartialEq)]
pub struct HandoffDef {
    pub name: String,
    pub line: usize,
    pub asks_for_agent: bool,
    pub unhelpful: Option<u32>,
    pub no_match: Option<u32>,
    pub keywords: Option<Vec<Vec<String>>>,
    pub domain: Option<Vec<DomainPattern>>,
    pub open: Option<String>,
    pub closed: Option<String>,
    /// The customer's frustration (0 to 1) must exceed this.
    pub frustration_above: Option<f64>,
    pub then: Then,
    pub message: Option<LangText>,
}

/// What the handoff rules read of a session in self-service.
#[derive(Debug, Clone, Copy)]
pub struct HandoffFacts<'a> {
    /// The customer's last message.
    pub text: &'a str,
    pub asks_for_agent: bool,
    /// Answers the customer said did not help, so far.
    pub unhelpful: u32,
    /// Messages for which no article was found, so far.
    pub no_match: u32,
    pub domain: &'a str,
    /// The customer's frustration so far, 0 to 1 (see [`crate::mood`]).
    pub frustration: f64,
    pub now: jiff::Timestamp,
}

impl HandoffDef {
    pub fn matches(&self, f: &HandoffFacts, calendars: &[Calendar]) -> bool {
        let open = |name: &String| {
            calendars
                .iter()
                .find(|c| c.name == *name)
                .is_some_and(|c| c.is_open(f.now))
        };
        (!self.asks_for_agent || f.asks_for_agent)
            && self.unhelpful.is_none_or(|n| f.unhelpful >= n)
            && self.no_match.is_none_or(|n| f.no_match >= n)
            && self.keywords.as_ref().is_none_or(|ks| {
                let w = words(f.text);
                ks.iter().any(|k| contains_phrase(&w, k))
            })
            && self.domain.as_ref().is_none_or(|ps| {
                let d = f.domain.to_ascii_lowercase();
                ps.iter().any(|p| p.matches(&d))
            })
            && self.open.as_ref().is_none_or(open)
            && self.closed.as_ref().is_none_or(|c| !open(c))
            && self.frustration_above.is_none_or(|t| f.frustration > t)
    }
}

/// One `[[canned]]` answer: `{customer}`, `{agent}`, `{session}` and
/// `{answers.NAME}` are filled in when an agent sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CannedDef {
    pub name: String,
    pub line: usize,
    pub text: LangText,
    pub description: Option<String>,
}

impl CannedDef {
    /// The text in `lang` with its placeholders filled from `values`
    /// (`customer`, `agent`, `session`, `answers.topic`...); one without a
    /// value becomes empty rather than staying as braces.
    pub fn render(
        &self,
        lang: Option<&str>,
        default: &str,
        values: &BTreeMap<String, String>,
    ) -> String {
        let template = self.text.get(lang, default);
        let mut out = String::with_capacity(template.len());
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            match after.find('}') {
                Some(close) => {
                    out.push_str(values.get(&after[..close]).map_or("", String::as_str));
                    rest = &after[close + 1..];
                }
                None => {
                    rest = &rest[open..];
                    break;
                }
            }
        }
        out.push_str(rest);
        out
    }
}

/// The whole of `dialogs.toml`, validated; empty when no file is named.
#[derive(Debug, Clone, PartialEq)]
pub struct DialogsConfig {
    pub file: Option<PathBuf>,
    /// A question unanswered this long: routing goes on without it.
    pub answer_timeout: Duration,
    /// Refused answers before the question is given up.
    pub attempts: u32,
    pub(super) questions: Vec<QuestionDef>,
    pub(super) dialogs: Vec<DialogDef>,
    pub(super) self_service: Option<SelfService>,
    pub(super) handoff: Vec<HandoffDef>,
    pub(super) canned: Vec<CannedDef>,
}

impl Default for DialogsConfig {
    fn default() -> Self {
        DialogsConfig {
            file: None,
            answer_timeout: Duration::from_secs(120),
            attempts: 3,
            questions: Vec::new(),
            dialogs: Vec::new(),
            self_service: None,
            handoff: Vec::new(),
            canned: Vec::new(),
        }
    }
}

impl DialogsConfig {
    pub fn question(&self, name: &str) -> Option<&QuestionDef> {
        self.questions.iter().find(|q| q.name == name)
    }

    pub fn questions(&self) -> &[QuestionDef] {
        &self.questions
    }

    pub fn dialog(&self, name: &str) -> Option<&DialogDef> {
        self.dialogs.iter().find(|d| d.name == name)
    }

    /// The first dialog, in file order, for such a session.
    pub fn dialog_for(&self, entry: &str, queue: &str, rule: Option<&str>) -> Option<&DialogDef> {
        self.dialogs.iter().find(|d| d.selects(entry, queue, rule))
    }

    pub fn self_service(&self) -> Option<&SelfService> {
        self.self_service.as_ref()
    }

    /// The first handoff rule that holds.
    pub fn handoff(&self, facts: &HandoffFacts, calendars: &[Calendar]) -> Option<&HandoffDef> {
        self.handoff.iter().find(|h| h.matches(facts, calendars))
    }

    pub fn canned(&self) -> &[CannedDef] {
        &self.canned
    }

    pub fn canned_answer(&self, name: &str) -> Option<&CannedDef> {
        self.canned
            .iter()
            .find(|c| c.name == name.to_ascii_lowercase())
    }
}

#[cfg(test)]
#[path = "dialogs_tests.rs"]
mod tests;
