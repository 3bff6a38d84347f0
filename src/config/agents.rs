//! `conf/agents.toml`: the people who answer. Each `[[agent]]` has a JID
//! (a local account or one on another server), a tier, skills, the customer
//! channels they may serve and their limits on live and asynchronous chats.
//! Routing offers a session only to an agent that matches all of these.
//! A second-level agent may also name the categories of categories.toml
//! they take escalations for (checked against that file in `gateway.rs`,
//! which is read after this one), and any agent may be a supervisor.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use jid::BareJid;
use serde::Deserialize;
use serde_spanned::Spanned;

use super::calendar::{self, Calendar, Leave};
use super::parse::{choice, parse_toml, ranged, tokens, user_jid};
use super::problem::{ConfigError, LineIndex, Problem};

/// The customer channels an agent may be declared to serve. These are the
/// names protocol identification gives a customer's channel: `xmpp` for a
/// federated XMPP account, `web` for the web chat, and the others for the
/// IM network behind a transport (identified by its disco identity). A
/// closed list, so that a typo in `protocols` is an error rather than an
/// agent silently never matched.
pub const PROTOCOLS: &[&str] = &[
    "xmpp", "web", "sms", "irc", "telegram", "whatsapp", "signal", "matrix", "slack", "discord",
    "email",
];

/// Live chats one agent may hold at once; beyond this nobody reads them.
pub const MAX_LIVE: i64 = 100;
/// Asynchronous sessions one agent's work list may hold.
pub const MAX_ASYNC: i64 = 1000;

/// One agent, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentDef {
    pub jid: BareJid,
    pub name: String,
    /// 1: first level; 2: second level (escalations).
    pub tier: u8,
    pub skills: BTreeSet<String>,
    /// A subset of [`PROTOCOLS`].
    pub protocols: BTreeSet<String>,
    pub max_live: u32,
    pub max_async: u32,
    /// false takes the agent off routing without deleting them.
    pub enabled: bool,
    /// Categories of categories.toml whose escalations they take.
    pub categories: BTreeSet<String>,
    /// `role = "supervisor"`: sees and may act on every session.
    pub supervisor: bool,
    /// When they work, for callbacks.
    pub schedule: Schedule,
}

/// An agent's working hours: their own, a calendar of routing.toml (named
/// here, found there once that file is read), or, with neither, the
/// hours of the queue a callback is for; and their days off on top.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schedule {
    /// None: the queue's hours (or any time, if it has none).
    pub hours: Option<Calendar>,
    pub leave: Leave,
    /// `calendar = NAME` at this line, until `gateway.rs` resolves it.
    pub(super) calendar: Option<(String, usize)>,
}

impl Schedule {
    /// Whether the agent works through `[from, to)`; `queue`: the hours
    /// of the queue, for an agent without their own.
    pub fn works(
        &self,
        queue: Option<&Calendar>,
        from: jiff::Timestamp,
        to: jiff::Timestamp,
    ) -> bool {
        match self.hours.as_ref().or(queue) {
            Some(c) => c.is_open_for(from, to) && !self.leave.covers(c.zone(), from, to),
            None => !self.leave.covers(&jiff::tz::TimeZone::UTC, from, to),
        }
    }
}

impl AgentDef {
    pub fn has_skills(&self, skills: &BTreeSet<String>) -> bool {
        skills.is_subset(&self.skills)
    }

    pub fn serves(&self, protocol: &str) -> bool {
        self.protocols.contains(protocol)
    }
}

/// Every agent of `agents.toml`, in file order, with a lookup by JID.
#[derive(Debug, Clone, Default)]
pub struct AgentsConfig {
    agents: Vec<AgentDef>,
    by_jid: HashMap<BareJid, usize>,
    /// The line of each agent's `jid`, for warnings about it.
    lines: Vec<usize>,
    /// Every category an agent names, with its line, for the check against
    /// categories.toml once that is read.
    category_lines: Vec<(String, usize)>,
}

/// Where agents are written is not what they are: moving an agent in the
/// file is not a new configuration for a reload to apply.
impl PartialEq for AgentsConfig {
    fn eq(&self, other: &Self) -> bool {
        self.agents == other.agents
    }
}

impl AgentsConfig {
    /// In file order.
    pub fn agents(&self) -> &[AgentDef] {
        &self.agents
    }

    pub fn get(&self, jid: &BareJid) -> Option<&AgentDef> {
        self.by_jid.get(jid).map(|&i| &self.agents[i])
    }

    /// The line of `jid`'s declaration in agents.toml.
    pub fn line(&self, jid: &BareJid) -> Option<usize> {
        self.by_jid.get(jid).map(|&i| self.lines[i])
    }

    /// Reads and validates agents.toml alone, for tools that need only the
    /// agents (`switchboard account set`); the server reads it with
    /// routing.toml ([`GatewayConfig::load`](super::GatewayConfig::load)).
    pub fn read(path: &Path, support_domain: &str) -> Result<AgentsConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        match Self::parse(path, &text, support_domain) {
            (Some(agents), problems) if problems.is_empty() => Ok(agents),
            (_, mut problems) => {
                problems.sort_by_key(|p| p.line);
                Err(ConfigError::Invalid(problems))
            }
        }
    }

    /// Whether any agent, enabled or not, has `skill`.
    pub fn has_skill(&self, skill: &str) -> bool {
        self.agents.iter().any(|a| a.skills.contains(skill))
    }

    pub fn len(&self) -> usize {
        self.agents.len()
    }

    /// Gives each agent who named a calendar of routing.toml its hours;
    /// an unknown name is a problem at its line.
    pub(super) fn resolve_calendars(
        &mut self,
        calendars: &[Calendar],
        path: &Path,
        problems: &mut Vec<Problem>,
    ) {
        for a in &mut self.agents {
            let Some((name, line)) = a.schedule.calendar.take() else {
                continue;
            };
            match calendars.iter().find(|c| c.name == name) {
                Some(c) => a.schedule.hours = Some(c.clone()),
                None => problems.push(Problem {
                    file: path.to_path_buf(),
                    line,
                    message: format!("unknown calendar '{name}': not in routing.toml"),
                }),
            }
        }
    }

    /// Each category named by an agent, at the line it is named.
    pub(super) fn category_lines(&self) -> &[(String, usize)] {
        &self.category_lines
    }

    pub fn is_empty(&self) -> bool {
        self.agents.is_empty()
    }

    /// Parses and validates `text`. Returns the agents that could be read
    /// even when there are problems (None only when the TOML itself could
    /// not be parsed), so routing.toml can still be cross-checked without a
    /// cascade of "unknown agent" errors.
    pub(super) fn parse(
        path: &Path,
        text: &str,
        support_domain: &str,
    ) -> (Option<AgentsConfig>, Vec<Problem>) {
        let lines = LineIndex::new(path, text);
        let file: File = match parse_toml(&lines, text) {
            Ok(f) => f,
            Err(p) => return (None, vec![p]),
        };
        let mut problems = Vec::new();
        let mut config = AgentsConfig::default();
        // JID → line of its first declaration, for the duplicate message.
        let mut first_line: HashMap<BareJid, usize> = HashMap::new();
        for raw in &file.agent {
            let jid = match user_jid(raw.jid.get_ref()) {
                Ok(j) => j,
                Err(msg) => {
                    problems.push(lines.problem(&raw.jid, &format!("jid {msg}")));
                    continue;
                }
            };
            let line = lines.line_of(raw.jid.span().start);
            if let Some(first) = first_line.get(&jid) {
                problems.push(lines.problem(
                    &raw.jid,
                    &format!("agent '{jid}' is declared twice (first at line {first})"),
                ));
                continue;
            }
            first_line.insert(jid.clone(), line);
            if jid.domain().as_str() == support_domain {
                // Entry JIDs and per-session proxy JIDs live there; an agent
                // there would be indistinguishable from them.
                problems.push(lines.problem(
                    &raw.jid,
                    &format!(
                        "agent '{jid}' is on the support domain {support_domain}, \
                         which is for entry and session JIDs: use the agent domain"
                    ),
                ));
            }
            let agent = validate(&lines, raw, jid, &mut problems);
            for c in &raw.categories {
                if agent.categories.contains(c.get_ref()) {
                    let line = lines.line_of(c.span().start);
                    config.category_lines.push((c.get_ref().clone(), line));
                }
            }
            config.by_jid.insert(agent.jid.clone(), config.agents.len());
            config.agents.push(agent);
            config.lines.push(line);
        }
        (Some(config), problems)
    }
}

fn validate(
    lines: &LineIndex,
    raw: &RawAgent,
    jid: BareJid,
    problems: &mut Vec<Problem>,
) -> AgentDef {
    let name = raw.name.get_ref().trim();
    if name.is_empty() {
        problems.push(lines.problem(&raw.name, "name is empty"));
    }
    let tier = *raw.tier.get_ref();
    if tier != 1 && tier != 2 {
        problems.push(lines.problem(
            &raw.tier,
            "tier must be 1 (first level) or 2 (second level)",
        ));
    }
    let skills = tokens(lines, &raw.skills, "skill", problems);
    let mut protocols = tokens(lines, &raw.protocols, "protocol", problems);
    for p in &raw.protocols {
        if protocols.contains(p.get_ref()) && !PROTOCOLS.contains(&p.get_ref().as_str()) {
            protocols.remove(p.get_ref());
            problems.push(lines.problem(
                p,
                &format!(
                    "unknown protocol '{}': use {}",
                    p.get_ref(),
                    PROTOCOLS.join(", ")
                ),
            ));
        }
    }
    if raw.protocols.is_empty() {
        problems.push(lines.problem(
            &raw.jid,
            &format!("agent '{jid}' has no protocols: they could serve no customer"),
        ));
    }
    let max_live = ranged(lines, &raw.max_live, 0..=MAX_LIVE, "max_live", problems);
    let max_async = ranged(lines, &raw.max_async, 0..=MAX_ASYNC, "max_async", problems);
    if *raw.max_live.get_ref() == 0 && *raw.max_async.get_ref() == 0 {
        problems.push(lines.problem(
            &raw.jid,
            &format!("agent '{jid}' can take no session: max_live and max_async are both 0"),
        ));
    }
    let categories = tokens(lines, &raw.categories, "category", problems);
    let supervisor = match &raw.role {
        Some(role) => choice(lines, role, "role", ROLES, problems).unwrap_or(false),
        None => false,
    };
    AgentDef {
        jid,
        name: name.to_string(),
        tier: tier.clamp(1, 2) as u8,
        skills,
        protocols,
        max_live: max_live as u32,
        max_async: max_async as u32,
        enabled: raw.enabled,
        categories,
        supervisor,
        schedule: schedule(lines, raw, problems),
    }
}

/// `calendar`, or `timezone` with `hours`, and `leave`.
fn schedule(lines: &LineIndex, raw: &RawAgent, problems: &mut Vec<Problem>) -> Schedule {
    let leave = calendar::leave_days(lines, &raw.leave, problems);
    let who = raw.jid.get_ref();
    if let (Some(c), false) = (&raw.calendar, raw.hours.is_empty()) {
        problems.push(lines.problem(
            c,
            &format!("agent '{who}' has both a calendar and hours: keep one"),
        ));
    }
    if let (Some(t), true) = (&raw.timezone, raw.hours.is_empty()) {
        let hint = if raw.calendar.is_some() {
            "the calendar's zone applies"
        } else {
            "add hours = [\"mon-fri 09:00-17:00\"]"
        };
        problems.push(lines.problem(t, &format!("timezone without hours: {hint}")));
    }
    let hours = (!raw.hours.is_empty())
        .then(|| calendar::own_hours(lines, &raw.jid, raw.timezone.as_ref(), &raw.hours, problems))
        .flatten();
    Schedule {
        hours,
        leave,
        calendar: raw
            .calendar
            .as_ref()
            .map(|c| (c.get_ref().clone(), lines.line_of(c.span().start))),
    }
}

/// `role`: whether the agent is a supervisor.
const ROLES: &[(&str, bool)] = &[("agent", false), ("supervisor", true)];

/// The file as written. Numbers are i64 so that an out-of-range value is
/// reported by validation, with every other problem, instead of stopping
/// serde at the first one.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    agent: Vec<RawAgent>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAgent {
    jid: Spanned<String>,
    name: Spanned<String>,
    #[serde(default = "tier_one")]
    tier: Spanned<i64>,
    #[serde(default)]
    skills: Vec<Spanned<String>>,
    /// Optional for serde so that a missing list is reported at the
    /// agent's JID with the other problems.
    #[serde(default)]
    protocols: Vec<Spanned<String>>,
    #[serde(default = "zero")]
    max_live: Spanned<i64>,
    #[serde(default = "zero")]
    max_async: Spanned<i64>,
    #[serde(default = "yes")]
    enabled: bool,
    #[serde(default)]
    categories: Vec<Spanned<String>>,
    role: Option<Spanned<String>>,
    /// Working hours, for callbacks: a calendar of routing.toml...
    calendar: Option<Spanned<String>>,
    /// ...or their own, in their zone.
    timezone: Option<Spanned<String>>,
    #[serde(default)]
    hours: Vec<Spanned<String>>,
    #[serde(default)]
    leave: Vec<Spanned<String>>,
}

fn tier_one() -> Spanned<i64> {
    Spanned::new(0..0, 1)
}

fn zero() -> Spanned<i64> {
    Spanned::new(0..0, 0)
}

fn yes() -> bool {
    true
}
