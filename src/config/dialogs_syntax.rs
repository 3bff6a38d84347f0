//! Reading `dialogs.toml` into a [`DialogsConfig`]: every problem at its
//! line, names checked against what `routing.toml` declares; the
//! `[self_service]` table and the handoff rules are read by
//! `dialogs_service.rs`. Rules that test `answers.NAME` are checked here too, at
//! their line in routing.toml, since only this file knows the questions.

use std::collections::BTreeSet;
use std::ops::RangeInclusive;
use std::path::Path;
use std::time::Duration;

use serde_spanned::Spanned;

use super::dialogs::{
    AnswerKind, CannedDef, ChoiceDef, DialogDef, DialogsConfig, LangText, QuestionDef,
};
use super::dialogs_file::{File, RawQuestion, RawText};
use super::parse::{is_token, parse_toml, placeholder_names, ranged};
use super::problem::{LineIndex, Problem};
use super::routing::RoutingConfig;
use super::rule_syntax::compile;

const ANSWER_TIMEOUT: RangeInclusive<i64> = 10..=3_600;
const ATTEMPTS: RangeInclusive<i64> = 1..=10;
const MAX_LENGTH: RangeInclusive<i64> = 1..=2_000;

/// What `routing.toml` declares that this file may name.
pub(super) struct Routing<'a> {
    pub path: &'a Path,
    pub config: &'a RoutingConfig,
}

pub(super) struct Reader<'a> {
    pub(super) lines: LineIndex<'a>,
    pub(super) problems: Vec<Problem>,
    pub(super) languages: BTreeSet<String>,
}

pub(super) fn parse(
    path: &Path,
    text: &str,
    routing: Option<Routing>,
) -> (Option<DialogsConfig>, Vec<Problem>) {
    let mut r = Reader {
        lines: LineIndex::new(path, text),
        problems: Vec::new(),
        languages: routing
            .as_ref()
            .map(|r| r.config.texts().languages().map(str::to_string).collect())
            .unwrap_or_default(),
    };
    let file: File = match parse_toml(&r.lines, text) {
        Ok(f) => f,
        Err(p) => return (None, vec![p]),
    };
    let d = &file.defaults;
    let timeout = ranged(
        &r.lines,
        &d.answer_timeout_secs,
        ANSWER_TIMEOUT,
        "answer_timeout_secs",
        &mut r.problems,
    );
    let attempts = ranged(&r.lines, &d.attempts, ATTEMPTS, "attempts", &mut r.problems);

    let mut questions: Vec<QuestionDef> = Vec::new();
    for q in &file.question {
        if let Some(def) = r.question(q) {
            if questions.iter().any(|o| o.name == def.name) {
                r.at(
                    &q.get_ref().name,
                    &format!("question '{}' is defined twice", def.name),
                );
            } else {
                questions.push(def);
            }
        }
    }
    let mut dialogs: Vec<DialogDef> = Vec::new();
    for raw in &file.dialog {
        let line = r.lines.line_of(raw.span().start);
        let d = raw.get_ref();
        let name = d.name.get_ref().clone();
        if !is_token(&name) {
            r.at(
                &d.name,
                &format!("dialog name '{name}' must be lowercase letters, digits, '_' or '-'"),
            );
        } else if dialogs.iter().any(|o| o.name == name) {
            r.at(&d.name, &format!("dialog '{name}' is defined twice"));
        }
        let mut asked = Vec::new();
        for q in &d.questions {
            if questions.iter().all(|x| x.name != *q.get_ref()) {
                r.at(
                    q,
                    &format!(
                        "unknown question '{}': no [[question]] has that name",
                        q.get_ref()
                    ),
                );
            } else if asked.contains(q.get_ref()) {
                r.at(q, &format!("question '{}' is asked twice", q.get_ref()));
            } else {
                asked.push(q.get_ref().clone());
            }
        }
        if asked.is_empty() && !d.self_service && d.questions.is_empty() {
            r.at(
                &d.name,
                "the dialog asks nothing: give it questions or self_service = true",
            );
        }
        if d.self_service && file.self_service.is_none() {
            r.at(
                &d.name,
                "self_service = true needs a [self_service] table with the knowledge base",
            );
        }
        let set =
            |r: &mut Reader, v: &Option<Spanned<super::routing_file::OneOrMany>>, what: &str| {
                v.as_ref().map(|v| {
                    let items = v.get_ref().items(v.span());
                    if items.is_empty() {
                        r.at(
                            v,
                            &format!("{what} is an empty list: the dialog would never apply"),
                        );
                    }
                    items
                })
            };
        let entry = set(&mut r, &d.entry, "entry");
        let queue = set(&mut r, &d.queue, "queue");
        let rule = set(&mut r, &d.rule, "rule");
        if let Some(rt) = &routing {
            let cfg = rt.config;
            for e in entry.iter().flatten() {
                let known =
                    jid::BareJid::new(e.get_ref()).is_ok_and(|j| cfg.queue_for_entry(&j).is_some());
                if !known {
                    r.at(
                        e,
                        &format!(
                            "unknown entry '{}': no [[queue]] in routing.toml has it",
                            e.get_ref()
                        ),
                    );
                }
            }
            for q in queue.iter().flatten() {
                if cfg.queue(q.get_ref()).is_none() {
                    r.at(
                        q,
                        &format!(
                            "unknown queue '{}': no [[queue]] in routing.toml has that name",
                            q.get_ref()
                        ),
                    );
                }
            }
            for name in rule.iter().flatten() {
                match cfg.rules().iter().find(|x| x.name == *name.get_ref()) {
                    None => r.at(name, &format!("unknown rule '{}': no [[rule]] in routing.toml has that name", name.get_ref())),
                    Some(x) if !x.tested_questions().is_empty() => r.at(
                        name,
                        &format!("rule '{}' tests answers, which are not known before the dialog asks its questions", x.name),
                    ),
                    Some(_) => {}
                }
            }
        }
        let lower = |v: Option<Vec<Spanned<String>>>| {
            v.map(|v| {
                v.iter()
                    .map(|s| s.get_ref().to_lowercase())
                    .collect::<BTreeSet<_>>()
            })
        };
        let greeting = d.greeting.as_ref().map(|g| r.text(g, "greeting"));
        dialogs.push(DialogDef {
            name,
            line,
            entry: lower(entry),
            queue: lower(queue),
            rule: rule.map(|v| v.iter().map(|s| s.get_ref().clone()).collect()),
            questions: asked,
            self_service: d.self_service,
            greeting,
        });
    }
    let self_service = file
        .self_service
        .as_ref()
        .and_then(|s| r.self_service(path, s));
    let mut handoff = Vec::new();
    for h in &file.handoff {
        if let Some(def) = r.handoff(h, routing.as_ref().map(|x| x.config)) {
            handoff.push(def);
        }
    }
    if handoff.is_empty() && self_service.is_some() {
        handoff = super::dialogs_service::default_handoff();
    }
    let mut canned: Vec<CannedDef> = Vec::new();
    for c in &file.canned {
        let raw = c.get_ref();
        let name = raw.name.get_ref().to_ascii_lowercase();
        if !is_token(&name) {
            r.at(
                &raw.name,
                &format!("canned answer name '{name}' must be letters, digits, '_' or '-'"),
            );
            continue;
        }
        if canned.iter().any(|o| o.name == name) {
            r.at(
                &raw.name,
                &format!("canned answer '{name}' is defined twice"),
            );
            continue;
        }
        let text = r.text(&raw.text, "text");
        for t in text.0.values() {
            if let Err(m) = placeholders(t, &questions) {
                r.at(&raw.text, &format!("canned answer '{name}': {m}"));
            }
        }
        canned.push(CannedDef {
            name,
            line: r.lines.line_of(c.span().start),
            text,
            description: raw.description.clone(),
        });
    }
    let mut problems = r.problems;
    if let Some(rt) = &routing {
        problems.extend(check_rules(rt, &questions));
    }
    let config = DialogsConfig {
        file: Some(path.to_path_buf()),
        answer_timeout: Duration::from_secs(timeout as u64),
        attempts: attempts as u32,
        questions,
        dialogs,
        self_service,
        handoff,
        canned,
    };
    (problems.is_empty().then_some(config), problems)
}

impl Reader<'_> {
    pub(super) fn at<T>(&mut self, at: &Spanned<T>, message: &str) {
        self.problems.push(self.lines.problem(at, message));
    }

    pub(super) fn text(&mut self, raw: &Spanned<RawText>, key: &str) -> LangText {
        match raw.get_ref() {
            RawText::One(s) if s.trim().is_empty() => {
                self.at(raw, &format!("{key} is empty"));
                LangText::default()
            }
            RawText::One(s) => LangText::plain(s),
            RawText::PerLang(m) => {
                if m.is_empty() {
                    self.at(raw, &format!("{key} is an empty table: write {key} = \"...\" or {key} = {{ en = \"...\", fr = \"...\" }}"));
                }
                for (lang, v) in m {
                    if !self.languages.is_empty()
                        && !self.languages.contains(&lang.to_ascii_lowercase())
                    {
                        self.at(
                            raw,
                            &format!(
                                "{key}.{lang}: no such language (Switchboard has texts in {})",
                                self.languages
                                    .iter()
                                    .cloned()
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        );
                    } else if v.trim().is_empty() {
                        self.at(raw, &format!("{key}.{lang} is empty"));
                    }
                }
                LangText(
                    m.iter()
                        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
                        .collect(),
                )
            }
        }
    }

    fn question(&mut self, raw: &Spanned<RawQuestion>) -> Option<QuestionDef> {
        let line = self.lines.line_of(raw.span().start);
        let q = raw.get_ref();
        let name = q.name.get_ref().clone();
        if !is_token(&name) {
            self.at(
                &q.name,
                &format!("question name '{name}' must be lowercase letters, digits, '_' or '-'"),
            );
            return None;
        }
        let Some(ask) = &q.ask else {
            self.at(
                &q.name,
                &format!("question '{name}' has no ask: write what the customer is asked"),
            );
            return None;
        };
        let ask = self.text(ask, "ask");
        let kind = match (&q.pattern, &q.choices) {
            (Some(p), Some(_)) => {
                self.at(p, "a question has a pattern or choices, not both");
                return None;
            }
            (Some(p), None) => match compile(p.get_ref()) {
                Ok(pat) => AnswerKind::Text { pattern: Some(pat) },
                Err(m) => {
                    self.at(p, &m.replace("regex", "pattern"));
                    return None;
                }
            },
            (None, Some(choices)) => {
                if choices.len() < 2 {
                    self.at(
                        &q.name,
                        &format!("question '{name}' needs at least two choices"),
                    );
                }
                let mut out: Vec<ChoiceDef> = Vec::new();
                for c in choices {
                    let c = c.get_ref();
                    let value = c.value.get_ref().trim().to_string();
                    if value.is_empty() {
                        self.at(&c.value, "a choice's value is empty");
                        continue;
                    }
                    if out.iter().any(|o| o.value.eq_ignore_ascii_case(&value)) {
                        self.at(&c.value, &format!("choice '{value}' is listed twice"));
                        continue;
                    }
                    let label = match &c.label {
                        Some(l) => self.text(l, "label"),
                        None => LangText::plain(&value),
                    };
                    out.push(ChoiceDef { value, label });
                }
                AnswerKind::Choice(out)
            }
            (None, None) => AnswerKind::Text { pattern: None },
        };
        let identifier = q.identifier.as_ref().and_then(|i| {
            if is_token(i.get_ref()) {
                Some(i.get_ref().clone())
            } else {
                self.at(i, &format!("identifier '{}' must be lowercase letters, digits, '_' or '-' (account, email, phone...)", i.get_ref()));
                None
            }
        });
        if identifier.is_some() && !matches!(kind, AnswerKind::Text { pattern: Some(_) }) {
            self.at(&q.name, &format!("question '{name}' is an identifier: give it a pattern, so that only a well-formed one links identities"));
        }
        let max_length = match &q.max_length {
            Some(m) => {
                ranged(&self.lines, m, MAX_LENGTH, "max_length", &mut self.problems) as usize
            }
            None => 200,
        };
        let example = q.example.as_ref().map(|e| self.text(e, "example"));
        Some(QuestionDef {
            name,
            line,
            ask,
            kind,
            example,
            optional: q.optional,
            remember: q.remember,
            identifier,
            max_length,
        })
    }
}

/// A canned answer's `{placeholders}`: `customer`, `agent`, `session`, or
/// `answers.NAME` of a question.
fn placeholders(template: &str, questions: &[QuestionDef]) -> Result<(), String> {
    for name in placeholder_names(template)? {
        let ok = matches!(name, "customer" | "agent" | "session")
            || name
                .strip_prefix("answers.")
                .is_some_and(|q| questions.iter().any(|x| x.name == q));
        if !ok {
            return Err(format!("{{{name}}} is not known: use {{customer}}, {{agent}}, {{session}} or {{answers.QUESTION}}"));
        }
    }
    Ok(())
}

/// Rules of routing.toml that test answers no question gives.
fn check_rules(routing: &Routing, questions: &[QuestionDef]) -> Vec<Problem> {
    let mut out = Vec::new();
    let at = |line: usize, message: String| Problem {
        file: routing.path.to_path_buf(),
        line,
        message,
    };
    for rule in routing.config.rules() {
        for key in rule.tested_questions() {
            if questions.iter().all(|q| q.name != key) && !rule.tested_answers().contains_key(key) {
                out.push(at(
                    rule.line,
                    format!(
                        "{}: answer_patterns.{key}: no question in dialogs.toml is called '{key}'",
                        rule.name
                    ),
                ));
            }
        }
        for (key, accepted) in rule.tested_answers() {
            match questions.iter().find(|q| q.name == *key) {
                None => out.push(at(
                    rule.line,
                    format!(
                        "{}: answers.{key}: no question in dialogs.toml is called '{key}'",
                        rule.name
                    ),
                )),
                Some(q) => {
                    if let Some(values) = q.values() {
                        for v in accepted.iter().filter(|v| !values.contains(*v)) {
                            out.push(at(rule.line, format!("{}: answers.{key} = \"{v}\" is not one of the question's choices ({})", rule.name, values.iter().cloned().collect::<Vec<_>>().join(", "))));
                        }
                    }
                }
            }
        }
    }
    out
}
