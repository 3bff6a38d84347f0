//! `conf/categories.toml`: the subjects an escalation can be about, each
//! with the second level that serves it (a queue of routing.toml and/or a
//! skill of agents.toml), and the example phrases and keywords per
//! language that [`crate::classify`] learns it from. Read after the other
//! files, because it is checked against their queues and skills; agents'
//! `categories` are checked against it in turn (`gateway.rs`).
//!
//! The extra `[[example]]` tables are the format an export of agents'
//! corrections prints, so that an admin appends it as it is; they join
//! their category's examples.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_spanned::Spanned;

use super::agents::AgentsConfig;
use super::categories_file::{File, RawCategory};
use super::dialogs::LangText;
use super::dialogs_file::RawText;
use super::parse::{is_token, parse_toml};
use super::problem::{LineIndex, Problem};
use super::routing::RoutingConfig;
use crate::classify::{Classifier, Example};
use crate::text::base_language;

/// One `[[category]]`, with the `[[example]]`s that name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryDef {
    pub name: String,
    pub description: LangText,
    /// By base language ("fr" for "fr-CA"), in file order.
    pub examples: BTreeMap<String, Vec<String>>,
    pub keywords: BTreeMap<String, Vec<String>>,
    /// The routing.toml queue its escalations go to.
    pub queue: Option<String>,
    /// The skill the agent taking its escalations must have.
    pub skill: Option<String>,
}

/// The categories in file order and the classifier trained on them. Empty
/// when `[gateway]` names no categories file.
#[derive(Debug, Clone)]
pub struct CategoriesConfig {
    file: Option<PathBuf>,
    defs: Vec<CategoryDef>,
    classifier: Arc<Classifier>,
}

impl Default for CategoriesConfig {
    fn default() -> Self {
        CategoriesConfig {
            file: None,
            defs: Vec::new(),
            classifier: Arc::new(Classifier::train(&[], &[])),
        }
    }
}

/// The classifier follows from the definitions: comparing them is
/// comparing it, and a reload of the same file is no change.
impl PartialEq for CategoriesConfig {
    fn eq(&self, other: &Self) -> bool {
        self.defs == other.defs
    }
}

impl CategoriesConfig {
    pub fn get(&self, name: &str) -> Option<&CategoryDef> {
        self.defs.iter().find(|c| c.name == name)
    }

    /// In file order.
    pub fn iter(&self) -> impl Iterator<Item = &CategoryDef> {
        self.defs.iter()
    }

    pub fn classifier(&self) -> &Arc<Classifier> {
        &self.classifier
    }

    pub fn is_empty(&self) -> bool {
        self.defs.is_empty()
    }

    pub fn len(&self) -> usize {
        self.defs.len()
    }

    /// The file they were read from, if any.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// The base languages the examples and keywords are in, sorted.
    pub fn languages(&self) -> Vec<String> {
        let langs: BTreeSet<&String> = self
            .defs
            .iter()
            .flat_map(|c| c.examples.keys().chain(c.keywords.keys()))
            .collect();
        langs.into_iter().cloned().collect()
    }

    /// Example phrases, every language and `[[example]]` included (not
    /// the keywords).
    pub fn example_count(&self) -> usize {
        self.defs
            .iter()
            .flat_map(|c| c.examples.values())
            .map(Vec::len)
            .sum()
    }
}

/// The other files, for the cross-checks; absent when they could not be
/// read, so that their errors are not repeated here as unknown names.
pub(super) struct Against<'a> {
    pub routing: Option<&'a RoutingConfig>,
    pub agents: Option<&'a AgentsConfig>,
}

/// Validates `text`; the configuration only if there is no problem.
pub(super) fn parse(
    path: &Path,
    text: &str,
    against: Against,
) -> (Option<CategoriesConfig>, Vec<Problem>) {
    let lines = LineIndex::new(path, text);
    let file: File = match parse_toml(&lines, text) {
        Ok(f) => f,
        Err(p) => return (None, vec![p]),
    };
    let mut problems = Vec::new();
    if file.category.is_empty() {
        problems.push(lines.problem_at(
            1,
            "no [[category]]: name the file in [gateway] only once it has categories",
        ));
    }
    let mut defs: Vec<CategoryDef> = Vec::new();
    // Name → line, for duplicates; and the line of each def's name.
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut name_lines = Vec::new();
    for raw in &file.category {
        let line = lines.line_of(raw.name.span().start);
        let name = raw.name.get_ref();
        if !is_token(name) {
            problems.push(lines.problem(
                &raw.name,
                &format!("category name '{name}' must be lowercase letters, digits, '_' or '-'"),
            ));
        }
        if let Some(first) = seen.get(name) {
            problems.push(lines.problem(
                &raw.name,
                &format!("category '{name}' is declared twice (first at line {first})"),
            ));
            continue;
        }
        seen.insert(name.clone(), line);
        defs.push(category(&lines, raw, &against, &mut problems));
        name_lines.push(line);
    }
    for raw in &file.example {
        let e = raw.get_ref();
        let Some(def) = defs.iter_mut().find(|d| d.name == *e.category.get_ref()) else {
            problems.push(lines.problem(
                &e.category,
                &format!(
                    "unknown category '{}': not a [[category]] of this file",
                    e.category.get_ref()
                ),
            ));
            continue;
        };
        let Some(lang) = language(&lines, &e.lang, e.lang.get_ref(), &mut problems) else {
            continue;
        };
        if let Some(t) = phrase(&lines, &e.text, "text", &mut problems) {
            def.examples.entry(lang).or_default().push(t);
        }
    }
    coverage(&lines, &defs, &name_lines, &mut problems);
    if !problems.is_empty() {
        return (None, problems);
    }
    let (mut examples, mut keywords) = (Vec::new(), Vec::new());
    for d in &defs {
        for (out, by_lang) in [(&mut examples, &d.examples), (&mut keywords, &d.keywords)] {
            for (lang, texts) in by_lang {
                out.extend(texts.iter().map(|t| Example {
                    category: d.name.clone(),
                    lang: lang.clone(),
                    text: t.clone(),
                }));
            }
        }
    }
    let classifier = Arc::new(Classifier::train(&examples, &keywords));
    let config = CategoriesConfig {
        file: Some(path.to_path_buf()),
        defs,
        classifier,
    };
    (Some(config), problems)
}

fn category(
    lines: &LineIndex,
    raw: &RawCategory,
    against: &Against,
    problems: &mut Vec<Problem>,
) -> CategoryDef {
    let name = raw.name.get_ref().clone();
    let description = match &raw.description {
        Some(d) => text(lines, d, problems),
        None => {
            problems.push(lines.problem(
                &raw.name,
                &format!("category '{name}' has no description: agents are shown it"),
            ));
            LangText::default()
        }
    };
    if let (Some(q), Some(routing)) = (&raw.queue, against.routing) {
        match routing.queue(q.get_ref()) {
            None => problems.push(lines.problem(
                q,
                &format!("unknown queue '{}': not in routing.toml", q.get_ref()),
            )),
            Some(def) if def.tier == Some(1) => problems.push(lines.problem(
                q,
                &format!(
                    "queue '{}' is for tier 1 agents: escalations go to the second level",
                    q.get_ref()
                ),
            )),
            Some(_) => {}
        }
    }
    if let Some(s) = &raw.skill {
        if !is_token(s.get_ref()) {
            problems.push(lines.problem(
                s,
                &format!(
                    "skill '{}' must be lowercase letters, digits, '_' or '-'",
                    s.get_ref()
                ),
            ));
        } else if against.agents.is_some_and(|a| !a.has_skill(s.get_ref())) {
            problems.push(lines.problem(
                s,
                &format!(
                    "no agent of agents.toml has skill '{}': its escalations could never be taken",
                    s.get_ref()
                ),
            ));
        }
    }
    if raw.queue.is_none() && raw.skill.is_none() {
        problems.push(lines.problem(
            &raw.name,
            &format!("category '{name}' has neither a queue nor a skill: its escalations would go nowhere in particular"),
        ));
    }
    let mut lists = |by_lang: &BTreeMap<String, Vec<Spanned<String>>>, key: &str| {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (tag, items) in by_lang {
            // Placed at the list's first item: the key's own line is not kept.
            let at = items.first().map_or(&raw.name, |i| i);
            let Some(lang) = language(lines, at, tag, problems) else {
                continue;
            };
            let what = format!("{key}.{tag}");
            let list = out.entry(lang).or_default();
            list.extend(
                items
                    .iter()
                    .filter_map(|i| phrase(lines, i, &what, problems)),
            );
        }
        out
    };
    let examples = lists(&raw.examples, "examples");
    let keywords = lists(&raw.keywords, "keywords");
    CategoryDef {
        name,
        description,
        examples,
        keywords,
        queue: raw.queue.as_ref().map(|q| q.get_ref().clone()),
        skill: raw.skill.as_ref().map(|s| s.get_ref().clone()),
    }
}

/// Every category has something to learn from in every language that any
/// has: otherwise chats in that language could never land there, silently.
fn coverage(
    lines: &LineIndex,
    defs: &[CategoryDef],
    name_lines: &[usize],
    problems: &mut Vec<Problem>,
) {
    let all: BTreeSet<&String> = defs
        .iter()
        .flat_map(|c| c.examples.keys().chain(c.keywords.keys()))
        .collect();
    for (d, line) in defs.iter().zip(name_lines) {
        let has = |l: &String| {
            d.examples.get(l).is_some_and(|v| !v.is_empty())
                || d.keywords.get(l).is_some_and(|v| !v.is_empty())
        };
        let missing: Vec<&str> = all.iter().filter(|l| !has(l)).map(|l| l.as_str()).collect();
        if missing.len() == all.len() {
            problems.push(lines.problem_at(
                *line,
                &format!(
                    "category '{}' has no examples or keywords: it could never be chosen",
                    d.name
                ),
            ));
        } else if !missing.is_empty() {
            problems.push(lines.problem_at(
                *line,
                &format!(
                    "category '{}' has no examples or keywords in {}, which other categories have: \
                     chats in that language could never be classified there",
                    d.name,
                    missing.join(", ")
                ),
            ));
        }
    }
}

/// A language tag's base language ("fr-CA" → "fr"), if it is one.
fn language<T>(
    lines: &LineIndex,
    at: &Spanned<T>,
    tag: &str,
    problems: &mut Vec<Problem>,
) -> Option<String> {
    let base = base_language(tag);
    let well_formed = (2..=3).contains(&base.len())
        && base.bytes().all(|b| b.is_ascii_alphabetic())
        && tag
            .split(['-', '_'])
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric()));
    if well_formed {
        Some(base)
    } else {
        problems.push(lines.problem(
            at,
            &format!("'{tag}' is not a language tag: write en, fr, pt-br..."),
        ));
        None
    }
}

fn phrase(
    lines: &LineIndex,
    item: &Spanned<String>,
    what: &str,
    problems: &mut Vec<Problem>,
) -> Option<String> {
    let s = item.get_ref().trim();
    if s.is_empty() {
        problems.push(lines.problem(item, &format!("{what}: empty text")));
        None
    } else {
        Some(s.to_string())
    }
}

fn text(lines: &LineIndex, raw: &Spanned<RawText>, problems: &mut Vec<Problem>) -> LangText {
    let map: BTreeMap<String, String> = match raw.get_ref() {
        RawText::One(s) => BTreeMap::from([(String::new(), s.clone())]),
        RawText::PerLang(m) => m
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .collect(),
    };
    if map.is_empty() || map.values().any(|v| v.trim().is_empty()) {
        problems.push(lines.problem(raw, "description is empty"));
    }
    LangText(map)
}

#[cfg(test)]
#[path = "categories_tests.rs"]
mod tests;
