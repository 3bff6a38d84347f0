//! The `[[queue]]` tables of `routing.toml`: the entry JIDs customers
//! write to, who may serve a queue's sessions and how a waiting session is
//! assigned. Each queue is checked against the agents of `agents.toml`: a
//! queue that names an unknown agent, or needs a skill nobody has, would
//! silently never be served.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::path::Path;
use std::time::Duration;

use jid::BareJid;
use serde_spanned::Spanned;

use super::agents::{AgentDef, AgentsConfig};
use super::parse::{choice, is_token, ranged, tokens, user_jid};
use super::problem::{LineIndex, Problem};
use super::routing_file::RawQueue;
use super::rule_syntax;

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
    pub(super) const NAMES: &[(&str, AssignMode)] =
        &[("offer", Self::Offer), ("direct", Self::Direct)];
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

/// Below these bounds an agent could not react; above them something is
/// surely a typo. `[defaults]` shares the offer timeout's (seconds).
pub(super) const OFFER_TIMEOUT: std::ops::RangeInclusive<i64> = 5..=3600;
const PRIORITY: std::ops::RangeInclusive<i64> = -1000..=1000;

/// What the queues are read against: everything the file declares before
/// them, and the agents.
pub(super) struct Context<'a> {
    pub lines: &'a LineIndex<'a>,
    pub support_domain: &'a str,
    /// `[defaults]` a queue takes unless it sets its own.
    pub assign: AssignMode,
    pub offer_timeout: Duration,
    /// Every calendar name routing.toml declares, usable or not.
    pub calendars: &'a HashSet<&'a str>,
    /// agents.toml with its path (for messages); None when it could not be
    /// parsed, and the cross-checks are then skipped.
    pub agents: Option<(&'a AgentsConfig, &'a Path)>,
}

/// The queues in file order, and which queue (by index) each entry JID
/// reaches.
pub(super) fn parse(
    cx: &Context,
    raw_queues: &[RawQueue],
    problems: &mut Vec<Problem>,
) -> (Vec<QueueDef>, HashMap<BareJid, usize>) {
    let mut queues = Vec::new();
    let mut by_entry = HashMap::new();
    // Name or entry JID → line of its first use, for duplicate messages.
    let mut names: HashMap<String, usize> = HashMap::new();
    let mut entries: HashMap<BareJid, (String, usize)> = HashMap::new();
    for raw in raw_queues {
        let known_problems = problems.len();
        let name = queue_name(cx.lines, &raw.name, &mut names, problems);
        let entry = entry_jids(cx, raw, &name, &mut entries, problems);
        for jid in &entry {
            by_entry.insert(jid.clone(), queues.len());
        }
        let queue = queue(cx, raw, name, entry, problems);
        if let Some((agents, agents_path)) = cx.agents {
            // A queue already wrong (a tier 3 read as 2...) would only
            // add a confusing "cannot be served".
            let clean = problems.len() == known_problems;
            cross_check(cx.lines, raw, &queue, agents, agents_path, clean, problems);
        }
        queues.push(queue);
    }
    (queues, by_entry)
}

/// The queue's name, kept even when malformed or taken so that later
/// messages can name the queue.
fn queue_name(
    lines: &LineIndex,
    raw: &Spanned<String>,
    names: &mut HashMap<String, usize>,
    problems: &mut Vec<Problem>,
) -> String {
    let name = raw.get_ref().clone();
    if !is_token(&name) {
        problems.push(lines.problem(
            raw,
            &format!("queue name '{name}' must be lowercase letters, digits, '_' or '-'"),
        ));
    } else if let Some(first) = names.get(&name) {
        problems.push(lines.problem(
            raw,
            &format!("queue '{name}' is declared twice (first at line {first})"),
        ));
    } else {
        names.insert(name.clone(), lines.line_of(raw.span().start));
    }
    name
}

/// The queue's entry JIDs that are valid and not another queue's.
fn entry_jids(
    cx: &Context,
    raw: &RawQueue,
    name: &str,
    entries: &mut HashMap<BareJid, (String, usize)>,
    problems: &mut Vec<Problem>,
) -> Vec<BareJid> {
    let lines = cx.lines;
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
        match refused_entry(&jid, cx.support_domain, entries) {
            Some(msg) => problems.push(lines.problem(e, &msg)),
            None => {
                let e_line = lines.line_of(e.span().start);
                entries.insert(jid.clone(), (name.to_string(), e_line));
                entry.push(jid);
            }
        }
    }
    if raw_entry.is_empty() {
        problems.push(lines.problem(
            &raw.name,
            &format!("queue '{name}' has no entry JID: customers could not reach it"),
        ));
    }
    entry
}

/// Why `jid` cannot be an entry JID, if it cannot; `entries` are those
/// taken so far.
fn refused_entry(
    jid: &BareJid,
    support_domain: &str,
    entries: &HashMap<BareJid, (String, usize)>,
) -> Option<String> {
    if jid.domain().as_str() != support_domain {
        Some(format!(
            "entry '{jid}' is not on the support domain: use user@{support_domain}"
        ))
    } else if jid.node().is_some_and(|n| n.as_str().starts_with("s-")) {
        // Session proxy JIDs are `s-xxxxxxx@support domain`.
        Some(format!(
            "entry '{jid}': names starting with 's-' are reserved for sessions"
        ))
    } else {
        entries.get(jid).map(|(q, first)| {
            format!("entry '{jid}' already belongs to queue '{q}' (line {first})")
        })
    }
}

/// The rest of one queue, entry JIDs and name being checked by the caller.
fn queue(
    cx: &Context,
    raw: &RawQueue,
    name: String,
    entry: Vec<BareJid>,
    problems: &mut Vec<Problem>,
) -> QueueDef {
    let lines = cx.lines;
    let calendar = raw.calendar.as_ref().map(|c| {
        if !cx.calendars.contains(c.get_ref().as_str()) {
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
    let members = members(lines, raw, problems);
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
        assign: assign.unwrap_or(cx.assign),
        offer_timeout: offer_timeout.unwrap_or(cx.offer_timeout),
        priority: ranged(lines, &raw.priority, PRIORITY, "priority", problems) as i32,
        calendar,
    }
}

/// The JIDs of the queue's `agents` list that parse.
fn members(lines: &LineIndex, raw: &RawQueue, problems: &mut Vec<Problem>) -> BTreeSet<BareJid> {
    let mut members = BTreeSet::new();
    for a in raw.agents.iter().flatten() {
        match user_jid(a.get_ref()) {
            Ok(j) => {
                members.insert(j);
            }
            Err(msg) => problems.push(lines.problem(a, &format!("agent {msg}"))),
        }
    }
    members
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
        problems.push(lines.problem(
            &raw.name,
            &format!(
                "queue '{}' cannot be served: {}",
                queue.name,
                why_unserved(queue, &agents_file)
            ),
        ));
    }
}

/// What no agent in `agents_file` meets of the queue's requirements.
fn why_unserved(queue: &QueueDef, agents_file: &str) -> String {
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
    if needs.is_empty() {
        format!("{agents_file} declares no agent")
    } else {
        format!("no agent in {agents_file} has {}", needs.join(" and "))
    }
}
