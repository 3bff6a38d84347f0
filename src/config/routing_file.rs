//! `routing.toml` as written, read by serde before validation.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;
use serde_spanned::Spanned;

use super::calendar::RawCalendar;
use super::callbacks::RawCallbacks;
use super::protocols::RawProtocol;
use super::texts::RawTexts;

/// The file as written; numbers are i64 so range problems are collected
/// with the others instead of stopping serde.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct File {
    #[serde(default)]
    pub defaults: RawDefaults,
    #[serde(default)]
    pub queue: Vec<RawQueue>,
    #[serde(default)]
    pub calendar: Vec<RawCalendar>,
    #[serde(default)]
    pub protocols: BTreeMap<String, Spanned<RawProtocol>>,
    /// Spanned for the line of each `[[rule]]` header.
    #[serde(default)]
    pub rule: Vec<Spanned<RawRule>>,
    #[serde(default)]
    pub texts: RawTexts,
    pub callbacks: Option<RawCallbacks>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawDefaults {
    pub assign: Spanned<String>,
    pub offer_timeout_secs: Spanned<i64>,
    pub agent_grace_secs: Spanned<i64>,
    pub session_idle_secs: Spanned<i64>,
    pub wait_estimate_secs: Spanned<i64>,
    pub queue_update_secs: Spanned<i64>,
    pub language: Spanned<String>,
}

impl Default for RawDefaults {
    fn default() -> Self {
        let at = |v: i64| Spanned::new(0..0, v);
        RawDefaults {
            assign: Spanned::new(0..0, "offer".into()),
            offer_timeout_secs: at(30),
            agent_grace_secs: at(60),
            session_idle_secs: at(3600),
            wait_estimate_secs: at(240),
            queue_update_secs: at(60),
            language: Spanned::new(0..0, "en".into()),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawQueue {
    pub name: Spanned<String>,
    /// Optional for serde so that a missing list is reported at the queue's
    /// name with the other problems.
    pub entry: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    pub skills: Vec<Spanned<String>>,
    #[serde(default = "longest_idle")]
    pub strategy: Spanned<String>,
    pub tier: Option<Spanned<i64>>,
    pub agents: Option<Vec<Spanned<String>>>,
    pub assign: Option<Spanned<String>>,
    pub offer_timeout_secs: Option<Spanned<i64>>,
    #[serde(default = "zero")]
    pub priority: Spanned<i64>,
    pub calendar: Option<Spanned<String>>,
}

fn zero() -> Spanned<i64> {
    Spanned::new(0..0, 0)
}

fn longest_idle() -> Spanned<String> {
    Spanned::new(0..0, "longest-idle".into())
}

/// A string or a list of strings: `channel = "sms"` reads as `["sms"]`.
#[derive(Debug, Clone)]
pub(super) enum OneOrMany {
    One(String),
    Many(Vec<Spanned<String>>),
}

impl OneOrMany {
    /// The items, a lone string taking the span of the whole value.
    pub(super) fn items(&self, span: std::ops::Range<usize>) -> Vec<Spanned<String>> {
        match self {
            OneOrMany::One(s) => vec![Spanned::new(span, s.clone())],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<OneOrMany, E> {
                Ok(OneOrMany::One(s.to_string()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OneOrMany, A::Error> {
                let mut v = Vec::new();
                while let Some(s) = seq.next_element()? {
                    v.push(s);
                }
                Ok(OneOrMany::Many(v))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRule {
    pub name: Option<Spanned<String>>,
    pub entry: Option<Spanned<OneOrMany>>,
    pub channel: Option<Spanned<OneOrMany>>,
    pub client: Option<Spanned<OneOrMany>>,
    pub features: Option<Spanned<OneOrMany>>,
    pub lacks: Option<Spanned<OneOrMany>>,
    pub domain: Option<Spanned<OneOrMany>>,
    pub keywords: Option<Spanned<OneOrMany>>,
    pub regex: Option<Spanned<String>>,
    pub answers: Option<Spanned<BTreeMap<String, Spanned<OneOrMany>>>>,
    pub answer_patterns: Option<Spanned<BTreeMap<String, Spanned<String>>>>,
    pub lang: Option<Spanned<OneOrMany>>,
    pub open: Option<Spanned<String>>,
    pub closed: Option<Spanned<String>>,
    pub frustration_above: Option<Spanned<f64>>,
    pub queue: Option<Spanned<String>>,
    pub skills: Option<Spanned<OneOrMany>>,
    pub priority: Option<Spanned<i64>>,
    pub agent_protocol: Option<Spanned<String>>,
    pub agent_features: Option<Spanned<OneOrMany>>,
    pub message: Option<Spanned<String>>,
    pub reject: Option<Spanned<String>>,
    pub fallback: Option<Spanned<String>>,
    pub language: Option<Spanned<String>>,
    pub alert: Option<Spanned<bool>>,
    pub offer_callback: Option<Spanned<bool>>,
}
