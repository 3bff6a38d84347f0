//! Enterprise routing rules: the `[[rule]]` tables of `routing.toml`, an
//! ordered list where the first rule whose conditions all hold decides the
//! treatment of a new session (queue, skills, priority, the protocol the
//! agent must serve, a message, or a polite refusal). The syntax is taught
//! by the commented `conf/routing.toml`; validation lives in
//! `rule_syntax.rs`.

use std::collections::{BTreeMap, BTreeSet};

use super::calendar::Calendar;

/// The client features rules and agents may ask for. A closed list, so
/// that a typo is an error rather than a rule that silently never matches:
/// receipts (XEP-0184), chat-states (XEP-0085), corrections (XEP-0308),
/// xhtml-im (XEP-0071), oob (XEP-0066 links), http-upload (XEP-0363).
pub const FEATURES: &[&str] = &[
    "receipts",
    "chat-states",
    "corrections",
    "xhtml-im",
    "oob",
    "http-upload",
];

/// What the gateway knows about a new session when it applies the rules.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// The bare entry JID the customer wrote to.
    pub entry: &'a str,
    /// The customer's channel, one of [`super::agents::PROTOCOLS`].
    pub channel: &'a str,
    /// The client software's name (XEP-0092 or disco identity), if known.
    pub client: Option<&'a str>,
    /// The names from [`FEATURES`] the customer's client has.
    pub features: &'a BTreeSet<String>,
    /// The domain of the customer's bare JID.
    pub domain: &'a str,
    /// The body of the first message, "" if none.
    pub text: &'a str,
    /// Answers elicited before the chat, by question name.
    pub answers: &'a BTreeMap<String, String>,
    /// The `xml:lang` of the first message.
    pub lang: Option<&'a str>,
    /// The customer's frustration so far, 0 to 1 (see [`crate::mood`]).
    pub frustration: f64,
    pub now: jiff::Timestamp,
}

/// One `[[rule]]`, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleDef {
    /// The name given in the file, or "rule at line N".
    pub name: String,
    /// The line of the rule's `[[rule]]` header.
    pub line: usize,
    pub(super) named: bool,
    pub(super) conditions: Conditions,
    pub actions: Actions,
}

/// What a matching rule does. Fields left unset keep the entry queue's
/// own settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Actions {
    /// Route to this queue instead of the entry's.
    pub queue: Option<String>,
    /// Required in addition to the queue's skills.
    pub skills: BTreeSet<String>,
    /// Replaces the queue's priority.
    pub priority: Option<i32>,
    pub agent_protocol: AgentProtocol,
    /// Features from [`FEATURES`] the agent's client must have.
    pub agent_features: BTreeSet<String>,
    /// Sent to the customer when the rule applies.
    pub message: Option<String>,
    /// Sent to the customer, then the session closes; no other action is
    /// set with it.
    pub reject: Option<String>,
    /// The queue to use, without the protocol and feature requirements,
    /// when no agent who could serve the session is on duty.
    pub fallback: Option<String>,
    /// The language of Switchboard's own lines to the customer, whatever
    /// their client says (an entry JID for French speakers).
    pub language: Option<String>,
    /// Tell the supervisors on duty, with the customer's last words.
    pub alert: bool,
    /// Offer the customer a callback (routing.toml's `[callbacks]`).
    pub offer_callback: bool,
}

/// The customer channel the assigned agent must serve.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AgentProtocol {
    /// The customer's own channel.
    #[default]
    Channel,
    /// No requirement.
    Any,
    /// This one of [`super::agents::PROTOCOLS`].
    Named(String),
}

/// The conditions of a rule; all must hold. `None` (or an empty set for
/// the all-of kinds) is no condition; a set in an `Option` is "any of".
#[derive(Debug, Clone, PartialEq, Default)]
pub(super) struct Conditions {
    /// Normalised bare JIDs.
    pub entry: Option<BTreeSet<String>>,
    pub channel: Option<BTreeSet<String>>,
    /// Lowercase.
    pub client: Option<BTreeSet<String>>,
    /// All required.
    pub features: BTreeSet<String>,
    /// All must be missing.
    pub lacks: BTreeSet<String>,
    pub domain: Option<Vec<DomainPattern>>,
    /// Each keyword as its lowercase words.
    pub keywords: Option<Vec<Vec<String>>>,
    pub regex: Option<Pattern>,
    /// Question → accepted answers, lowercase; every question must match.
    pub answers: BTreeMap<String, BTreeSet<String>>,
    /// Question → a regex its answer must match.
    pub answer_patterns: BTreeMap<String, Pattern>,
    /// Lowercase language tags.
    pub lang: Option<BTreeSet<String>>,
    /// Calendar names.
    pub open: Option<String>,
    pub closed: Option<String>,
    /// The customer's frustration must exceed this (0 to 1).
    pub frustration_above: Option<f64>,
}

/// `example.com`, or `*.example.com`: example.com and all its subdomains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainPattern {
    pub domain: String,
    pub subdomains: bool,
}

impl DomainPattern {
    pub(super) fn matches(&self, d: &str) -> bool {
        d == self.domain
            || (self.subdomains
                && d.strip_suffix(self.domain.as_str())
                    .is_some_and(|rest| rest.ends_with('.')))
    }

    fn covers(&self, other: &DomainPattern) -> bool {
        if self.subdomains {
            self.matches(&other.domain)
        } else {
            !other.subdomains && other.domain == self.domain
        }
    }
}

/// A compiled regex, equal to another when written the same.
#[derive(Debug, Clone)]
pub struct Pattern(pub(super) regex::Regex);

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

impl RuleDef {
    /// The questions the rule tests, with the answers it accepts.
    pub fn tested_answers(&self) -> &BTreeMap<String, BTreeSet<String>> {
        &self.conditions.answers
    }

    /// Whether the rule reads the customer's mood, which changes while
    /// they wait: such a rule is tried again as it does.
    pub fn tests_mood(&self) -> bool {
        self.conditions.frustration_above.is_some()
    }

    /// Every question the rule tests, by value or by pattern.
    pub fn tested_questions(&self) -> BTreeSet<&str> {
        let c = &self.conditions;
        c.answers
            .keys()
            .chain(c.answer_patterns.keys())
            .map(String::as_str)
            .collect()
    }

    /// Whether every condition of the rule holds for `facts`; `calendars`
    /// are those of the routing configuration, which `open` and `closed`
    /// name.
    pub fn matches(&self, facts: &Facts, calendars: &[Calendar]) -> bool {
        let c = &self.conditions;
        let lower = |s: &str| s.trim().to_lowercase();
        let open = |name: &String| {
            calendars
                .iter()
                .find(|cal| cal.name == *name)
                .map(|cal| cal.is_open(facts.now))
        };
        // Cheap tests first: most rules fail on entry, channel or domain.
        c.entry
            .as_ref()
            .is_none_or(|s| s.contains(&lower(facts.entry)))
            && c.channel.as_ref().is_none_or(|s| s.contains(facts.channel))
            && c.client
                .as_ref()
                .is_none_or(|s| facts.client.is_some_and(|n| s.contains(&lower(n))))
            && c.features.is_subset(facts.features)
            && c.lacks.is_disjoint(facts.features)
            && c.domain.as_ref().is_none_or(|ps| {
                let d = lower(facts.domain);
                ps.iter().any(|p| p.matches(&d))
            })
            && c.lang.as_ref().is_none_or(|ls| {
                facts.lang.is_some_and(|t| {
                    let t = lower(t);
                    ls.iter().any(|l| lang_covers(l, &t))
                })
            })
            && c.answers.iter().all(|(k, accepted)| {
                facts
                    .answers
                    .get(k)
                    .is_some_and(|v| accepted.contains(&lower(v)))
            })
            && c.answer_patterns
                .iter()
                .all(|(k, p)| facts.answers.get(k).is_some_and(|v| p.0.is_match(v.trim())))
            && c.keywords.as_ref().is_none_or(|ks| {
                let w = words(facts.text);
                ks.iter().any(|k| contains_phrase(&w, k))
            })
            && c.regex.as_ref().is_none_or(|r| r.0.is_match(facts.text))
            && c.open.as_ref().is_none_or(|n| open(n) == Some(true))
            && c.closed.as_ref().is_none_or(|n| open(n) == Some(false))
            && c.frustration_above.is_none_or(|t| facts.frustration > t)
    }

    /// Whether this rule matches every session `later` matches, so that
    /// `later`, placed after it, can never apply. Conservative: only the
    /// implications within one kind of condition are known, so a false
    /// "no" is possible, a false "yes" is not.
    pub(super) fn shadows(&self, later: &RuleDef) -> bool {
        fn within<T>(a: &Option<T>, b: &Option<T>, implied: impl Fn(&T, &T) -> bool) -> bool {
            match (a, b) {
                (None, _) => true,
                (Some(_), None) => false,
                (Some(a), Some(b)) => implied(a, b),
            }
        }
        let subset = |a: &BTreeSet<String>, b: &BTreeSet<String>| b.is_subset(a);
        let (a, b) = (&self.conditions, &later.conditions);
        within(&a.entry, &b.entry, subset)
            && within(&a.channel, &b.channel, subset)
            && within(&a.client, &b.client, subset)
            && a.features.is_subset(&b.features)
            && a.lacks.is_subset(&b.lacks)
            && within(&a.domain, &b.domain, |a, b| {
                b.iter().all(|pb| a.iter().any(|pa| pa.covers(pb)))
            })
            && within(&a.lang, &b.lang, |a, b| {
                b.iter().all(|lb| a.iter().any(|la| lang_covers(la, lb)))
            })
            && within(&a.keywords, &b.keywords, |a, b| {
                // Text holding b's phrase holds every phrase inside it.
                b.iter()
                    .all(|kb| a.iter().any(|ka| contains_phrase(kb, ka)))
            })
            && within(&a.regex, &b.regex, |a, b| a == b)
            && a.answers
                .iter()
                .all(|(k, va)| b.answers.get(k).is_some_and(|vb| vb.is_subset(va)))
            && a.answer_patterns
                .iter()
                .all(|(k, pa)| b.answer_patterns.get(k) == Some(pa))
            && within(&a.open, &b.open, |a, b| a == b)
            && within(&a.closed, &b.closed, |a, b| a == b)
            && within(&a.frustration_above, &b.frustration_above, |a, b| b >= a)
    }

    /// The rule as the subject of a problem reported at its line.
    pub(super) fn subject(&self) -> String {
        if self.named {
            format!("rule '{}'", self.name)
        } else {
            "this rule".into()
        }
    }

    /// The rule as mentioned in a problem reported elsewhere.
    pub(super) fn reference(&self) -> String {
        if self.named {
            format!("rule '{}' (line {})", self.name, self.line)
        } else {
            format!("the rule at line {}", self.line)
        }
    }
}

/// `fr` covers `fr` and `fr-ca`, not `fra`.
pub(super) fn lang_covers(prefix: &str, tag: &str) -> bool {
    tag.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('-'))
}

/// The lowercase words of `text`: runs of letters and digits, so that
/// punctuation, apostrophes ("l'abonnement") and `#` do not hide a word.
pub(super) fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

pub(super) fn contains_phrase(words: &[String], phrase: &[String]) -> bool {
    !phrase.is_empty() && words.windows(phrase.len()).any(|w| w == phrase)
}

#[cfg(test)]
#[path = "rules_tests.rs"]
pub(super) mod tests;

#[cfg(test)]
#[path = "shadow_tests.rs"]
mod shadow_tests;

#[cfg(test)]
#[path = "example_tests.rs"]
mod example_tests;
