//! `categories.toml` as written, read by serde before validation
//! (`categories.rs`).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_spanned::Spanned;

use super::dialogs_file::RawText;

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct File {
    #[serde(default)]
    pub category: Vec<RawCategory>,
    #[serde(default)]
    pub example: Vec<Spanned<RawExample>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCategory {
    pub name: Spanned<String>,
    pub description: Option<Spanned<RawText>>,
    #[serde(default)]
    pub examples: BTreeMap<String, Vec<Spanned<String>>>,
    #[serde(default)]
    pub keywords: BTreeMap<String, Vec<Spanned<String>>>,
    pub queue: Option<Spanned<String>>,
    pub skill: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawExample {
    pub category: Spanned<String>,
    pub lang: Spanned<String>,
    pub text: Spanned<String>,
}
