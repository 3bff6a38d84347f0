//! `conf/routing.toml`: queues, the entry JIDs customers write to, how a
//! waiting session is assigned to an agent, business-hours calendars,
//! `[protocols]` and the enterprise rules. Validated against the agents
//! of `agents.toml`: a queue that names an unknown agent, or needs a skill
//! nobody has, would silently never be served.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::Path;
use std::time::Duration;

use jid::BareJid;
use serde_spanned::Spanned;

use super::agents::{AgentDef, AgentsConfig};
use super::calendar::{self, Calendar};
use super::parse::{is_token, parse_toml, ranged, tokens, user_jid};
use super::problem::{LineIndex, Problem};
use super::protocols::{self, ProtocolOverride};
use super::routing_file::{File, RawQueue};
use super::rule_syntax::{self, AgentNames, Declared};
use super::rules::{Facts, RuleDef};

/// How a waiting session reaches an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignMode {
    /// The agent is offered the session and accepts it; an offer left
    /// unanswered for the queue's offer timeout moves to the next agent.
    Offer,
    /// The session is assigned at once.
    Direct,
}

/// Which capable, available agent gets the next session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// The one whose last session ended longest ago.
    LongestIdle,
    /// The one with the fewest sessions relative to their limits.
    LeastBusy,
    /// Each agent in turn.
    RoundRobin,
}

impl AssignMode {
    const NAMES: &[(&str, AssignMode)] = &[("offer", Self::Offer), ("direct", Self::Direct)];
}

impl Strategy {
    const NAMES: &[(&str, Strategy)] = &[
        ("longest-idle", Self::LongestIdle),
        ("least-busy", Self::LeastBusy),
        ("round-robin", Self::RoundRobin),
    ];
}

impl fmt::Display for AssignMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(name_of(Self::NAMES, *self))
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(name_of(Self::NAMES, *self))
    }
}

fn name_of<T: PartialEq>(names: &[(&'static str, T)], v: T) -> &'static str {
    names.iter().find(|(_, x)| *x == v).map_or("?", |(n, _)| n)
}

/// `[defaults]`: timings that apply to every queue unless it overrides them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingDefaults {
    pub assign: AssignMode,
    pub offer_timeout: Duration,
    /// How long an agent gone offline keeps their live sessions before they
    /// are re-queued at the front.
    pub agent_grace: Duration,
    /// Sessions close after this much silence.
    pub session_idle: Duration,
    /// The wait announced before any history exists to estimate from.
    pub wait_estimate: Duration,
}

/// One `[[queue]]`, with the defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueDef {
    pub name: String,
    /// Bare JIDs on the support domain; each belongs to exactly one queue.
    pub entry: Vec<BareJid>,
    /// Skills an agent must all have.
    pub skills: BTreeSet<String>,
    pub strategy: Strategy,
    /// Only agents of this tier, if set.
    pub tier: Option<u8>,
    /// Only these agents, if set.
    pub agents: Option<BTreeSet<BareJid>>,
    pub assign: AssignMode,
    pub offer_timeout: Duration,
    /// Base priority of the queue's sessions; higher is served first.
    pub priority: i32,
    /// The name of the calendar of its business hours, if it has one.
    pub calendar: Option<String>,
}

impl QueueDef {
    /// The agents the queue is limited to, if any: an empty list limits
    /// nothing.
    pub fn only_agents(&self) -> Option<&BTreeSet<BareJid>> {
        self.agents.as_ref().filter(|a| !a.is_empty())
    }

    /// Whether `agent` is capable of this queue's sessions (availability
    /// and limits are the gateway's business).
    pub fn accepts(&self, agent: &AgentDef) -> bool {
        self.tier.is_none_or(|t| t == agent.tier)
            && self.agents.as_ref().is_none_or(|a| a.contains(&agent.jid))
            && agent.has_skills(&self.skills)
    }
}

/// Queues, calendars, protocol overrides and rules of `routing.toml`, in
/// file order.
#[derive(Debug, Clone, PartialEq)]
pub struct RoutingConfig {
    pub defaults: RoutingDefaults,
    queues: Vec<QueueDef>,
    by_entry: HashMap<BareJid, usize>,
    calendars: Vec<Calendar>,
    protocols: BTreeMap<String, ProtocolOverride>,
    rules: Vec<RuleDef>,
}

/// Bounds of the timings, in seconds: below them an agent could not react
/// or sessions would churn; above them something is surely a typo.
const OFFER_TIMEOUT: std::ops::RangeInclusive<i64> = 5..=3600;
const AGENT_GRACE: std::ops::RangeInclusive<i64> = 0..=86_400;
const SESSION_IDLE: std::ops::RangeInclusive<i64> = 1..=30 * 86_400;
const WAIT_ESTIMATE: std::ops::RangeInclusive<i64> = 1..=86_400;
const PRIORITY: std::ops::RangeInclusive<i64> = -1000..=1000;

impl RoutingConfig {
    pub fn queues(&self) -> &[QueueDef] {
        &self.queues
    }

    pub fn queue(&self, name: &str) -> Option<&QueueDef> {
        self.queues.iter().find(|q| q.name == name)
    }

    /// The queue a customer reaches by writing to `entry`.
    pub fn queue_for_entry(&self, entry: &BareJid) -> Option<&QueueDef> {
        self.by_entry.get(entry).map(|&i| &self.queues[i])
    }

    /// Every entry JID, for presence and disco on the support domain.
    pub fn entry_jids(&self) -> impl Iterator<Item = &BareJid> {
        self.queues.iter().flat_map(|q| q.entry.iter())
    }

    /// In file order; the first that matches applies.
    pub fn rules(&self) -> &[RuleDef] {
        &self.rules
    }

    /// The first rule matching `facts`; None: the entry's own queue, with
    /// agents serving the customer's channel.
    pub fn first_match(&self, facts: &Facts) -> Option<&RuleDef> {
        self.rules
            .iter()
            .find(|r| r.matches(facts, &self.calendars))
    }

    pub fn calendars(&self) -> &[Calendar] {
        &self.calendars
    }

    pub fn calendar(&self, name: &str) -> Option<&Calendar> {
        self.calendars.iter().find(|c| c.name == name)
    }

    /// What the admin says of a transport or remote `domain`, which wins
    /// over its disco identity.
    pub fn protocol_override(&self, domain: &str) -> Option<&ProtocolOverride> {
        self.protocols.get(&domain.to_ascii_lowercase())
    }

    /// Parses and validates `text`; `agents` (with its path, for messages)
    /// is None when agents.toml could not be parsed, and the cross-checks
    /// are then skipped. None only when the TOML itself could not be parsed.
    pub(super) fn parse(
        path: &Path,
        text: &str,
        support_domain: &str,
        agents: Option<(&AgentsConfig, &Path)>,
    ) -> (Option<RoutingConfig>, Vec<Problem>) {
        let lines = LineIndex::new(path, text);
        let file: File = match parse_toml(&lines, text) {
            Ok(f) => f,
            Err(p) => return (None, vec![p]),
        };
        let mut problems = Vec::new();
        let d = &file.defaults;
        let secs = |v: i64| Duration::from_secs(v as u64);
        let defaults = RoutingDefaults {
            assign: choice(
                &lines,
                &d.assign,
                "assign",
                AssignMode::NAMES,
                &mut problems,
            )
            .unwrap_or(AssignMode::Offer),
            offer_timeout: secs(ranged(
                &lines,
                &d.offer_timeout_secs,
                OFFER_TIMEOUT,
                "offer_timeout_secs",
                &mut problems,
            )),
            agent_grace: secs(ranged(
                &lines,
                &d.agent_grace_secs,
                AGENT_GRACE,
                "agent_grace_secs",
                &mut problems,
            )),
            session_idle: secs(ranged(
                &lines,
                &d.session_idle_secs,
                SESSION_IDLE,
                "session_idle_secs",
                &mut problems,
            )),
            wait_estimate: secs(ranged(
                &lines,
                &d.wait_estimate_secs,
                WAIT_ESTIMATE,
                "wait_estimate_secs",
                &mut problems,
            )),
        };
        if file.queue.is_empty() {
            problems.push(lines.problem_at(1, "no [[queue]]: customers could reach no one"));
        }
        let mut config = RoutingConfig {
            defaults,
            queues: Vec::new(),
            by_entry: HashMap::new(),
            calendars: calendar::parse(&lines, &file.calendar, &mut problems),
            protocols: protocols::parse(&lines, &file.protocols, support_domain, &mut problems),
            rules: Vec::new(),
        };
        // Name or entry JID → line of its first use, for duplicate messages.
        let mut names: HashMap<String, usize> = HashMap::new();
        let mut entries: HashMap<BareJid, (String, usize)> = HashMap::new();
        for raw in &file.queue {
            let known_problems = problems.len();
            let name = raw.name.get_ref().clone();
            let line = lines.line_of(raw.name.span().start);
            if !is_token(&name) {
                problems.push(lines.problem(
                    &raw.name,
                    &format!("queue name '{name}' must be lowercase letters, digits, '_' or '-'"),
                ));
            } else if let Some(first) = names.get(&name) {
                problems.push(lines.problem(
                    &raw.name,
                    &format!("queue '{name}' is declared twice (first at line {first})"),
                ));
            } else {
                names.insert(name.clone(), line);
            }
            let mut entry = Vec::new();
            let raw_entry = raw.entry.as_deref().unwrap_or_default();
            for e in raw_entry {
                let jid = match user_jid(e.get_ref()) {
                    Ok(j) => j,
                    Err(msg) => {
                        problems.push(lines.problem(e, &format!("entry {msg}")));
                        continue;
                    }
                };
                let e_line = lines.line_of(e.span().start);
                if jid.domain().as_str() != support_domain {
                    problems.push(lines.problem(
                        e,
                        &format!(
                            "entry '{jid}' is not on the support domain: use user@{support_domain}"
                        ),
                    ));
                } else if jid.node().is_some_and(|n| n.as_str().starts_with("s-")) {
                    // Session proxy JIDs are `s-xxxxxxx@support domain`.
                    problems.push(lines.problem(
                        e,
                        &format!(
                            "entry '{jid}': names starting with 's-' are reserved for sessions"
                        ),
                    ));
                } else if let Some((q, first)) = entries.get(&jid) {
                    problems.push(lines.problem(
                        e,
                        &format!("entry '{jid}' already belongs to queue '{q}' (line {first})"),
                    ));
                } else {
                    entries.insert(jid.clone(), (name.clone(), e_line));
                    config.by_entry.insert(jid.clone(), config.queues.len());
                    entry.push(jid);
                }
            }
            if raw_entry.is_empty() {
                problems.push(lines.problem(
                    &raw.name,
                    &format!("queue '{name}' has no entry JID: customers could not reach it"),
                ));
            }
            let queue = queue(&lines, raw, name, entry, &config, &mut problems);
            if let Some((agents, agents_path)) = agents {
                // A queue already wrong (a tier 3 read as 2...) would only
                // add a confusing "cannot be served".
                let clean = problems.len() == known_problems;
                cross_check(
                    &lines,
                    raw,
                    &queue,
                    agents,
                    agents_path,
                    clean,
                    &mut problems,
                );
            }
            config.queues.push(queue);
        }
        // Rules are checked against the queues and calendars read above, and
        // against the skills and protocols of the agents.
        let declared = Declared {
            entries: config.by_entry.keys().collect(),
            queues: config.queues.iter().map(|q| q.name.as_str()).collect(),
            calendars: config.calendars.iter().map(|c| c.name.as_str()).collect(),
            agents: agents.map(|(a, _)| {
                let names = |f: fn(&AgentDef) -> &BTreeSet<String>| {
                    a.agents().iter().flat_map(f).map(String::as_str).collect()
                };
                AgentNames {
                    skills: names(|x| &x.skills),
                    protocols: names(|x| &x.protocols),
                }
            }),
        };
        config.rules = rule_syntax::parse(&lines, &file.rule, &declared, &mut problems);
        (Some(config), problems)
    }
}

/// The rest of one queue, entry JIDs and name being checked by the caller.
fn queue(
    lines: &LineIndex,
    raw: &RawQueue,
    name: String,
    entry: Vec<BareJid>,
    config: &RoutingConfig,
    problems: &mut Vec<Problem>,
) -> QueueDef {
    let defaults = &config.defaults;
    let calendar = raw.calendar.as_ref().map(|c| {
        if config.calendar(c.get_ref()).is_none() {
            problems.push(lines.problem(c, &rule_syntax::unknown_calendar(c.get_ref())));
        }
        c.get_ref().clone()
    });
    let tier = raw.tier.as_ref().map(|t| {
        if !matches!(t.get_ref(), 1 | 2) {
            problems.push(lines.problem(t, "tier must be 1 (first level) or 2 (second level)"));
        }
        (*t.get_ref()).clamp(1, 2) as u8
    });
    let mut members = BTreeSet::new();
    for a in raw.agents.iter().flatten() {
        match user_jid(a.get_ref()) {
            Ok(j) => {
                members.insert(j);
            }
            Err(msg) => problems.push(lines.problem(a, &format!("agent {msg}"))),
        }
    }
    let assign = match &raw.assign {
        Some(a) => choice(lines, a, "assign", AssignMode::NAMES, problems),
        None => None,
    };
    let offer_timeout = raw.offer_timeout_secs.as_ref().map(|t| {
        Duration::from_secs(ranged(lines, t, OFFER_TIMEOUT, "offer_timeout_secs", problems) as u64)
    });
    QueueDef {
        name,
        entry,
        skills: tokens(lines, &raw.skills, "skill", problems),
        strategy: choice(lines, &raw.strategy, "strategy", Strategy::NAMES, problems)
            .unwrap_or(Strategy::LongestIdle),
        tier,
        // An empty list reads as "no restriction", as in the example file.
        agents: (!members.is_empty()).then_some(members),
        assign: assign.unwrap_or(defaults.assign),
        offer_timeout: offer_timeout.unwrap_or(defaults.offer_timeout),
        priority: ranged(lines, &raw.priority, PRIORITY, "priority", problems) as i32,
        calendar,
    }
}

/// A queue must be servable by someone in agents.toml. Disabled agents
/// count: `enabled = false` is a day-to-day switch and should not make a
/// reload fail.
fn cross_check(
    lines: &LineIndex,
    raw: &RawQueue,
    queue: &QueueDef,
    agents: &AgentsConfig,
    agents_path: &Path,
    clean: bool,
    problems: &mut Vec<Problem>,
) {
    let agents_file = agents_path.file_name().map_or_else(
        || agents_path.display().to_string(),
        |n| n.to_string_lossy().into(),
    );
    let mut known = true;
    for a in raw.agents.iter().flatten() {
        if let Ok(j) = user_jid(a.get_ref()) {
            if agents.get(&j).is_none() {
                known = false;
                problems
                    .push(lines.problem(a, &format!("unknown agent '{j}': not in {agents_file}")));
            }
        }
    }
    let mut skilled = true;
    for s in &raw.skills {
        if queue.skills.contains(s.get_ref()) && !agents.has_skill(s.get_ref()) {
            skilled = false;
            problems.push(lines.problem(s, &format!("no agent has skill '{}'", s.get_ref())));
        }
    }
    // Each requirement may be met by someone while their combination is met
    // by nobody; report that only when nothing more specific was said.
    if clean && known && skilled && !agents.agents().iter().any(|a| queue.accepts(a)) {
        let mut needs = Vec::new();
        if let Some(t) = queue.tier {
            needs.push(format!("tier {t}"));
        }
        if !queue.skills.is_empty() {
            let s: Vec<_> = queue.skills.iter().map(String::as_str).collect();
            needs.push(format!("skills {}", s.join(", ")));
        }
        if queue.agents.is_some() {
            needs.push("is in its agents list".into());
        }
        let why = if needs.is_empty() {
            format!("{agents_file} declares no agent")
        } else {
            format!("no agent in {agents_file} has {}", needs.join(" and "))
        };
        problems.push(lines.problem(
            &raw.name,
            &format!("queue '{}' cannot be served: {why}", queue.name),
        ));
    }
}

/// One of a fixed set of names.
fn choice<T: Copy>(
    lines: &LineIndex,
    value: &Spanned<String>,
    key: &str,
    names: &[(&str, T)],
    problems: &mut Vec<Problem>,
) -> Option<T> {
    let found = names
        .iter()
        .find(|(n, _)| n == value.get_ref())
        .map(|(_, v)| *v);
    if found.is_none() {
        let all: Vec<_> = names.iter().map(|(n, _)| *n).collect();
        problems.push(lines.problem(
            value,
            &format!(
                "unknown {key} '{}': use {}",
                value.get_ref(),
                all.join(", ")
            ),
        ));
    }
    found
}
