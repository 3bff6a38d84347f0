//! `dialogs.toml` as written, read by serde before validation.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_spanned::Spanned;

use super::routing_file::OneOrMany;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct File {
    #[serde(default)]
    pub defaults: RawDefaults,
    #[serde(default)]
    pub question: Vec<Spanned<RawQuestion>>,
    #[serde(default)]
    pub dialog: Vec<Spanned<RawDialog>>,
    pub self_service: Option<Spanned<RawSelfService>>,
    #[serde(default)]
    pub handoff: Vec<Spanned<RawHandoff>>,
    #[serde(default)]
    pub canned: Vec<Spanned<RawCanned>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawDefaults {
    pub answer_timeout_secs: Spanned<i64>,
    pub attempts: Spanned<i64>,
}

impl Default for RawDefaults {
    fn default() -> Self {
        RawDefaults {
            answer_timeout_secs: Spanned::new(0..0, 120),
            attempts: Spanned::new(0..0, 3),
        }
    }
}

/// A text in one language for everyone, or one per language.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(super) enum RawText {
    One(String),
    PerLang(BTreeMap<String, String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawQuestion {
    pub name: Spanned<String>,
    pub ask: Option<Spanned<RawText>>,
    pub pattern: Option<Spanned<String>>,
    pub example: Option<Spanned<RawText>>,
    pub choices: Option<Vec<Spanned<RawChoice>>>,
    #[serde(default)]
    pub optional: bool,
    #[serde(default)]
    pub remember: bool,
    pub identifier: Option<Spanned<String>>,
    pub max_length: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawChoice {
    pub value: Spanned<String>,
    pub label: Option<Spanned<RawText>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDialog {
    pub name: Spanned<String>,
    pub entry: Option<Spanned<OneOrMany>>,
    pub queue: Option<Spanned<OneOrMany>>,
    pub rule: Option<Spanned<OneOrMany>>,
    #[serde(default)]
    pub questions: Vec<Spanned<String>>,
    #[serde(default)]
    pub self_service: bool,
    pub greeting: Option<Spanned<RawText>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSelfService {
    pub knowledge_base: Spanned<String>,
    pub language: Option<Spanned<String>>,
    pub confident: Option<Spanned<f64>>,
    pub relevant: Option<Spanned<f64>>,
    pub suggestions: Option<Spanned<i64>>,
    pub greeting: Option<Spanned<RawText>>,
    pub agent_words: Option<Spanned<OneOrMany>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHandoff {
    pub name: Option<Spanned<String>>,
    #[serde(default)]
    pub asks_for_agent: bool,
    pub unhelpful: Option<Spanned<i64>>,
    pub no_match: Option<Spanned<i64>>,
    pub frustration_above: Option<Spanned<f64>>,
    pub keywords: Option<Spanned<OneOrMany>>,
    pub domain: Option<Spanned<OneOrMany>>,
    pub open: Option<Spanned<String>>,
    pub closed: Option<Spanned<String>>,
    pub then: Option<Spanned<String>>,
    pub message: Option<Spanned<RawText>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCanned {
    pub name: Spanned<String>,
    pub text: Spanned<RawText>,
    pub description: Option<String>,
}
