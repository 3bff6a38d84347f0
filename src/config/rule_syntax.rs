//! The `[[rule]]` tables as written, and their validation against the
//! queues, calendars and agents: every problem with its line, then the
//! rules an earlier one shadows.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use jid::BareJid;
use serde_spanned::Spanned;

use super::agents::PROTOCOLS;
use super::parse::{is_token, ranged, tokens, user_jid, validate_domain};
use super::problem::{LineIndex, Problem};
use super::routing_file::{OneOrMany, RawRule};
use super::rules::{
    words, Actions, AgentProtocol, Conditions, DomainPattern, Pattern, RuleDef, FEATURES,
};

const PRIORITY: std::ops::RangeInclusive<i64> = -1000..=1000;
/// Compiled size of one regex: far beyond any sensible rule, small enough
/// that a pathological one cannot eat the server's memory.
const REGEX_SIZE: usize = 1 << 20;

/// What rules are checked against: the names `routing.toml` declares
/// before them, and what the agents of agents.toml have. Names only, so
/// that the rules need not know the routing configuration they are read
/// into.
pub(super) struct Declared<'a> {
    /// The entry JIDs of every queue.
    pub entries: HashSet<&'a BareJid>,
    pub queues: HashSet<&'a str>,
    pub calendars: HashSet<&'a str>,
    /// The languages Switchboard has texts in.
    pub languages: HashSet<&'a str>,
    /// The skills and protocols of all agents, enabled or not; None when
    /// agents.toml could not be parsed, and they are then not checked.
    pub agents: Option<AgentNames<'a>>,
}

pub(super) struct AgentNames<'a> {
    pub skills: HashSet<&'a str>,
    pub protocols: HashSet<&'a str>,
}

/// Validates the rules in file order against `declared`.
pub(super) fn parse(
    lines: &LineIndex,
    raw: &[Spanned<RawRule>],
    declared: &Declared,
    problems: &mut Vec<Problem>,
) -> Vec<RuleDef> {
    let mut rules: Vec<(RuleDef, bool)> = Vec::new();
    let mut names: HashMap<String, usize> = HashMap::new();
    for r in raw {
        let mut check = Check {
            lines,
            problems,
            conditions_ok: true,
        };
        let line = lines.line_of(r.span().start);
        let rule = check.rule(r.get_ref(), line, declared, &mut names);
        let ok = check.conditions_ok;
        rules.push((rule, ok));
    }
    // A rule with a bad condition lost part of it: comparing it could
    // report a shadow that the admin's intended rule would not have.
    for (i, (b, b_ok)) in rules.iter().enumerate() {
        let shadow = rules[..i]
            .iter()
            .find(|(a, a_ok)| *a_ok && *b_ok && a.shadows(b));
        if let Some((a, _)) = shadow {
            problems.push(lines.problem_at(
                b.line,
                &format!(
                    "{} can never match: {} matches everything it matches",
                    b.subject(),
                    a.reference()
                ),
            ));
        }
    }
    rules.into_iter().map(|(r, _)| r).collect()
}

struct Check<'a, 'p> {
    lines: &'a LineIndex<'a>,
    problems: &'p mut Vec<Problem>,
    conditions_ok: bool,
}

impl Check<'_, '_> {
    fn problem<T>(&mut self, at: &Spanned<T>, msg: &str) {
        self.problems.push(self.lines.problem(at, msg));
    }

    fn condition_problem<T>(&mut self, at: &Spanned<T>, msg: &str) {
        self.conditions_ok = false;
        self.problem(at, msg);
    }

    fn rule(
        &mut self,
        raw: &RawRule,
        line: usize,
        declared: &Declared,
        names: &mut HashMap<String, usize>,
    ) -> RuleDef {
        let name = raw.name.as_ref().map(|n| {
            let s = n.get_ref();
            if !is_token(s) {
                self.problem(
                    n,
                    &format!("rule name '{s}' must be lowercase letters, digits, '_' or '-'"),
                );
            } else if let Some(first) = names.get(s) {
                self.problem(
                    n,
                    &format!("rule '{s}' is declared twice (first at line {first})"),
                );
            } else {
                names.insert(s.clone(), self.lines.line_of(n.span().start));
            }
            s.clone()
        });
        let conditions = self.conditions(raw, declared);
        let actions = self.actions(raw, declared);
        let rule = RuleDef {
            named: name.is_some(),
            name: name.unwrap_or_else(|| format!("rule at line {line}")),
            line,
            conditions,
            actions,
        };
        if rule.actions == Actions::default() {
            self.problems.push(self.lines.problem_at(
                line,
                &format!(
                    "{} has no action: give it queue, skills, priority, agent_protocol, \
                     agent_features, message, reject, fallback, alert or offer_callback",
                    rule.subject()
                ),
            ));
        }
        rule
    }

    fn conditions(&mut self, raw: &RawRule, declared: &Declared) -> Conditions {
        let entry = self.any_of(raw.entry.as_ref(), "entry", |s| {
            let jid = user_jid(s).map_err(|m| format!("entry {m}"))?;
            if !declared.entries.contains(&jid) {
                return Err(format!("entry '{jid}' is not the entry JID of any queue"));
            }
            Ok(jid.to_string())
        });
        let channel = self.any_of(raw.channel.as_ref(), "channel", |s| {
            known(s, PROTOCOLS, "channel").map(str::to_string)
        });
        let client = self.any_of(raw.client.as_ref(), "client", |s| match s.trim() {
            "" => Err("empty client name".into()),
            t => Ok(t.to_lowercase()),
        });
        let features = self.features(&raw.features, true);
        let lacks = self.features(&raw.lacks, true);
        for l in raw.lacks.iter().flat_map(|l| l.get_ref().items(l.span())) {
            if features.contains(l.get_ref()) {
                self.condition_problem(
                    &l,
                    &format!(
                        "feature '{}' is both required and lacking: the rule could never match",
                        l.get_ref()
                    ),
                );
            }
        }
        let domain = self.any_of(raw.domain.as_ref(), "domain", domain_pattern);
        let keywords = self.any_of(raw.keywords.as_ref(), "keywords", |s| {
            let w = words(s);
            match (s.trim().is_empty(), w.is_empty()) {
                (true, _) => Err("empty keyword".into()),
                (false, true) => Err(format!(
                    "keyword '{s}' has no letter or digit: it could never match"
                )),
                _ => Ok(w),
            }
        });
        let regex = raw.regex.as_ref().and_then(|r| match compile(r.get_ref()) {
            Ok(p) => Some(p),
            Err(msg) => {
                self.condition_problem(r, &msg);
                None
            }
        });
        let mut answers = BTreeMap::new();
        if let Some(a) = &raw.answers {
            if a.get_ref().is_empty() {
                self.condition_problem(
                    a,
                    "answers is empty: write answers = { topic = \"billing\" }",
                );
            }
            for (key, values) in a.get_ref() {
                if !is_token(key) {
                    self.condition_problem(
                        values,
                        &format!("answers: question '{key}' must be lowercase letters, digits, '_' or '-'"),
                    );
                }
                let accepted = self.any_of(Some(values), &format!("answers.{key}"), |s| {
                    match s.trim() {
                        "" => Err(format!("answers.{key}: empty answer")),
                        t => Ok(t.to_lowercase()),
                    }
                });
                answers.insert(key.clone(), accepted.unwrap_or_default());
            }
        }
        let mut answer_patterns = BTreeMap::new();
        for (key, pattern) in raw.answer_patterns.iter().flat_map(|a| a.get_ref()) {
            if !is_token(key) {
                let msg = format!("answer_patterns: question '{key}' must be lowercase letters, digits, '_' or '-'");
                self.condition_problem(pattern, &msg);
            }
            match compile(pattern.get_ref()) {
                Ok(p) => {
                    answer_patterns.insert(key.clone(), p);
                }
                Err(m) => self.condition_problem(pattern, &format!("answer_patterns.{key}: {m}")),
            }
        }
        let lang = self.any_of(raw.lang.as_ref(), "lang", |s| {
            language_tag(s)
                .then(|| s.to_ascii_lowercase())
                .ok_or_else(|| format!("lang '{s}' is not a language tag like fr or fr-CA"))
        });
        let mut calendar = |c: &Option<Spanned<String>>| {
            let c = c.as_ref()?;
            if !declared.calendars.contains(c.get_ref().as_str()) {
                self.condition_problem(c, &unknown_calendar(c.get_ref()));
            }
            Some(c.get_ref().clone())
        };
        let (open, closed) = (calendar(&raw.open), calendar(&raw.closed));
        if let (Some(o), Some(c)) = (&open, &raw.closed) {
            if o == c.get_ref() {
                self.condition_problem(
                    c,
                    &format!("open and closed both name '{o}': the rule could never match"),
                );
            }
        }
        let frustration_above = raw.frustration_above.as_ref().and_then(|f| {
            let v = *f.get_ref();
            if (0.0..1.0).contains(&v) {
                Some(v)
            } else {
                self.condition_problem(
                    f,
                    &format!("frustration_above = {v}: give a score from 0 to 1 (0.5 reads as frustrated)"),
                );
                None
            }
        });
        Conditions {
            entry: entry.map(|v| v.into_iter().collect()),
            channel: channel.map(|v| v.into_iter().collect()),
            client: client.map(|v| v.into_iter().collect()),
            features,
            lacks,
            domain,
            keywords,
            regex,
            answers: answers
                .into_iter()
                .map(|(k, v)| (k, v.into_iter().collect()))
                .collect(),
            answer_patterns,
            lang: lang.map(|v| v.into_iter().collect()),
            open,
            closed,
            frustration_above,
        }
    }

    /// An "any of" list: each item through `item`, whose errors are
    /// problems at the item's line. An empty list could match nothing.
    fn any_of<T>(
        &mut self,
        raw: Option<&Spanned<OneOrMany>>,
        key: &str,
        mut item: impl FnMut(&str) -> Result<T, String>,
    ) -> Option<Vec<T>> {
        let raw = raw?;
        let items = raw.get_ref().items(raw.span());
        if items.is_empty() {
            self.condition_problem(
                raw,
                &format!("{key} is an empty list: the rule could never match"),
            );
        }
        let mut out = Vec::new();
        for i in &items {
            match item(i.get_ref()) {
                Ok(v) => out.push(v),
                Err(msg) => self.condition_problem(i, &msg),
            }
        }
        Some(out)
    }

    /// Names from [`FEATURES`], for a condition (`features`, `lacks`) or
    /// for the `agent_features` action.
    fn features(&mut self, raw: &Option<Spanned<OneOrMany>>, condition: bool) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for f in raw.iter().flat_map(|f| f.get_ref().items(f.span())) {
            match known(f.get_ref(), FEATURES, "feature") {
                Ok(name) => {
                    out.insert(name.to_string());
                }
                Err(msg) if condition => self.condition_problem(&f, &msg),
                Err(msg) => self.problem(&f, &msg),
            }
        }
        out
    }

    fn actions(&mut self, raw: &RawRule, declared: &Declared) -> Actions {
        let agents = declared.agents.as_ref();
        let mut queue = |q: &Option<Spanned<String>>| {
            let q = q.as_ref()?;
            if !declared.queues.contains(q.get_ref().as_str()) {
                let msg = format!(
                    "unknown queue '{}': no [[queue]] has that name",
                    q.get_ref()
                );
                self.problem(q, &msg);
            }
            Some(q.get_ref().clone())
        };
        let (target, fallback) = (queue(&raw.queue), queue(&raw.fallback));
        let skill_list: Vec<_> = raw
            .skills
            .iter()
            .flat_map(|s| s.get_ref().items(s.span()))
            .collect();
        let skills = tokens(self.lines, &skill_list, "skill", self.problems);
        for s in &skill_list {
            if skills.contains(s.get_ref())
                && agents.is_some_and(|a| !a.skills.contains(s.get_ref().as_str()))
            {
                self.problem(s, &format!("no agent has skill '{}'", s.get_ref()));
            }
        }
        let priority = raw
            .priority
            .as_ref()
            .map(|p| ranged(self.lines, p, PRIORITY, "priority", self.problems) as i32);
        let agent_protocol = match &raw.agent_protocol {
            None => AgentProtocol::Channel,
            Some(p) => match p.get_ref().as_str() {
                "channel" => AgentProtocol::Channel,
                "any" => AgentProtocol::Any,
                name if PROTOCOLS.contains(&name) => {
                    if agents.is_some_and(|a| !a.protocols.contains(name)) {
                        self.problem(p, &format!("no agent serves protocol '{name}'"));
                    }
                    AgentProtocol::Named(name.to_string())
                }
                name => {
                    let msg = format!(
                        "unknown agent_protocol '{name}': use channel, any, or one of {}",
                        PROTOCOLS.join(", ")
                    );
                    self.problem(p, &msg);
                    AgentProtocol::Channel
                }
            },
        };
        let mut text = |t: &Option<Spanned<String>>, key: &str| {
            let t = t.as_ref()?;
            if t.get_ref().trim().is_empty() {
                self.problem(t, &format!("{key} is empty"));
            }
            Some(t.get_ref().trim().to_string())
        };
        let (message, reject) = (text(&raw.message, "message"), text(&raw.reject, "reject"));
        let language = raw.language.as_ref().map(|l| {
            let tag = l.get_ref().to_ascii_lowercase();
            if !declared.languages.contains(tag.as_str()) {
                let mut known: Vec<&str> = declared.languages.iter().copied().collect();
                known.sort_unstable();
                self.problem(
                    l,
                    &format!(
                        "no texts in language '{}': there are {} (add [texts.{tag}] for more)",
                        l.get_ref(),
                        known.join(", ")
                    ),
                );
            }
            tag
        });
        if let Some(r) = &raw.reject {
            let others: Vec<&str> = [
                ("queue", raw.queue.is_some()),
                ("skills", raw.skills.is_some()),
                ("priority", raw.priority.is_some()),
                ("agent_protocol", raw.agent_protocol.is_some()),
                ("agent_features", raw.agent_features.is_some()),
                ("message", raw.message.is_some()),
                ("fallback", raw.fallback.is_some()),
                ("alert", raw.alert.is_some()),
                ("offer_callback", raw.offer_callback.is_some()),
            ]
            .into_iter()
            .filter_map(|(k, set)| set.then_some(k))
            .collect();
            if !others.is_empty() {
                self.problem(
                    r,
                    &format!(
                        "reject closes the session: it cannot be combined with {}",
                        others.join(", ")
                    ),
                );
            }
        }
        Actions {
            queue: target,
            skills,
            priority,
            agent_protocol,
            agent_features: self.features(&raw.agent_features, false),
            message,
            reject,
            fallback,
            language,
            alert: raw.alert.as_ref().is_some_and(|a| *a.get_ref()),
            offer_callback: raw.offer_callback.as_ref().is_some_and(|a| *a.get_ref()),
        }
    }
}

fn known<'n>(s: &str, names: &[&'n str], what: &str) -> Result<&'n str, String> {
    names
        .iter()
        .find(|n| **n == s)
        .copied()
        .ok_or_else(|| format!("unknown {what} '{s}': use {}", names.join(", ")))
}

pub(super) fn unknown_calendar(name: &str) -> String {
    format!("unknown calendar '{name}': no [[calendar]] has that name")
}

/// `example.com` or `*.example.com`, lowercase.
pub(super) fn domain_pattern(s: &str) -> Result<DomainPattern, String> {
    let lower = s.trim().to_ascii_lowercase();
    let (domain, subdomains) = match lower.strip_prefix("*.") {
        Some(d) => (d, true),
        None => (lower.as_str(), false),
    };
    if domain.contains('*') {
        return Err(format!(
            "domain '{s}': a wildcard may only start it, as in *.example.com"
        ));
    }
    validate_domain(domain).map_err(|m| format!("domain {m}"))?;
    Ok(DomainPattern {
        domain: domain.to_string(),
        subdomains,
    })
}

/// BCP 47 shape, as in `xml:lang`: a 2-8 letter language, then subtags of
/// 1-8 letters or digits.
fn language_tag(s: &str) -> bool {
    let mut parts = s.split('-');
    let first = parts.next().unwrap_or_default();
    (2..=8).contains(&first.len())
        && first.bytes().all(|b| b.is_ascii_alphabetic())
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Case-insensitive like keywords; `(?-i)` in the pattern turns that off.
pub(super) fn compile(s: &str) -> Result<Pattern, String> {
    if s.is_empty() {
        return Err("regex is empty: it would match every message".into());
    }
    regex::RegexBuilder::new(s)
        .case_insensitive(true)
        .size_limit(REGEX_SIZE)
        .build()
        .map(Pattern)
        .map_err(|e| {
            // The crate's message spans lines, with a caret under the
            // pattern; its last line says what is wrong.
            let text = e.to_string();
            let why = text.lines().last().unwrap_or_default();
            let why = why.strip_prefix("error: ").unwrap_or(why);
            format!("bad regex '{s}': {why}")
        })
}
