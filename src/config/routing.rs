//! `conf/routing.toml`: `[defaults]`, the queues (`queues.rs`: entry JIDs,
//! who serves them and how, checked against the agents of `agents.toml`),
//! business-hours calendars, `[protocols]`, the enterprise rules and
//! `[callbacks]` (`callbacks.rs`), read
//! in that order into one [`RoutingConfig`], each part checked against the
//! names declared before it.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ops::RangeInclusive;
use std::path::Path;
use std::time::Duration;

use jid::BareJid;
use serde_spanned::Spanned;

use super::agents::{AgentDef, AgentsConfig};
use super::calendar::{self, Calendar};
use super::callbacks::{self, CallbacksConfig};
use super::parse::{choice, parse_toml, ranged};
use super::problem::{LineIndex, Problem};
use super::protocols::{self, ProtocolOverride};
use super::queues::{self, AssignMode, QueueDef, OFFER_TIMEOUT};
use super::routing_file::{File, RawDefaults};
use super::rule_syntax::{self, AgentNames, Declared};
use super::rules::{Facts, RuleDef};
use super::texts::Texts;

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
    /// A waiting customer hears of their place at most this often (and
    /// at once when they are next): a fast line is not a message a second.
    pub queue_update: Duration,
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
    texts: Texts,
    pub callbacks: CallbacksConfig,
}

/// Bounds of the timings, in seconds: below them sessions would churn;
/// above them something is surely a typo (the offer timeout's are with the
/// queues, which may set their own).
const AGENT_GRACE: RangeInclusive<i64> = 0..=86_400;
const SESSION_IDLE: RangeInclusive<i64> = 1..=30 * 86_400;
const WAIT_ESTIMATE: RangeInclusive<i64> = 1..=86_400;
const QUEUE_UPDATE: RangeInclusive<i64> = 0..=3_600;

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

    /// What Switchboard says to customers, per language.
    pub fn texts(&self) -> &Texts {
        &self.texts
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
        let defaults = defaults(&lines, &file.defaults, &mut problems);
        if file.queue.is_empty() {
            problems.push(lines.problem_at(1, "no [[queue]]: customers could reach no one"));
        }
        let calendars = calendar::parse(&lines, &file.calendar, &mut problems);
        let calendar_names: HashSet<&str> = file.calendar.iter().map(|c| c.name()).collect();
        let protocols = protocols::parse(&lines, &file.protocols, support_domain, &mut problems);
        let texts = Texts::parse(&lines, &file.texts, &file.defaults.language, &mut problems);
        let cx = queues::Context {
            lines: &lines,
            support_domain,
            assign: defaults.assign,
            offer_timeout: defaults.offer_timeout,
            calendars: &calendar_names,
            agents,
        };
        let (queues, by_entry) = queues::parse(&cx, &file.queue, &mut problems);
        // Rules are checked against the queues and calendars read above, and
        // against the skills and protocols of the agents.
        let mut declared = declared(&queues, &by_entry, calendar_names, agents.map(|(a, _)| a));
        declared.languages = texts.languages().collect();
        let rules = rule_syntax::parse(&lines, &file.rule, &declared, &mut problems);
        let callbacks = callbacks::parse(&lines, file.callbacks.as_ref(), &mut problems);
        for r in rules
            .iter()
            .filter(|r| r.actions.offer_callback && !callbacks.enabled)
        {
            problems.push(lines.problem_at(
                r.line,
                &format!(
                    "{} offers a callback, but [callbacks] is not enabled",
                    r.subject()
                ),
            ));
        }
        let config = RoutingConfig {
            callbacks,
            defaults,
            queues,
            by_entry,
            calendars,
            protocols,
            rules,
            texts,
        };
        (Some(config), problems)
    }
}

/// `[defaults]`.
fn defaults(lines: &LineIndex, d: &RawDefaults, problems: &mut Vec<Problem>) -> RoutingDefaults {
    let assign = choice(lines, &d.assign, "assign", AssignMode::NAMES, problems)
        .unwrap_or(AssignMode::Offer);
    let mut timing = |value: &Spanned<i64>, range: RangeInclusive<i64>, key: &str| {
        Duration::from_secs(ranged(lines, value, range, key, problems) as u64)
    };
    RoutingDefaults {
        assign,
        offer_timeout: timing(&d.offer_timeout_secs, OFFER_TIMEOUT, "offer_timeout_secs"),
        agent_grace: timing(&d.agent_grace_secs, AGENT_GRACE, "agent_grace_secs"),
        session_idle: timing(&d.session_idle_secs, SESSION_IDLE, "session_idle_secs"),
        wait_estimate: timing(&d.wait_estimate_secs, WAIT_ESTIMATE, "wait_estimate_secs"),
        queue_update: timing(&d.queue_update_secs, QUEUE_UPDATE, "queue_update_secs"),
    }
}

/// The names the rules may refer to.
fn declared<'a>(
    queues: &'a [QueueDef],
    by_entry: &'a HashMap<BareJid, usize>,
    calendars: HashSet<&'a str>,
    agents: Option<&'a AgentsConfig>,
) -> Declared<'a> {
    Declared {
        entries: by_entry.keys().collect(),
        queues: queues.iter().map(|q| q.name.as_str()).collect(),
        calendars,
        languages: HashSet::new(),
        agents: agents.map(|a| {
            let names = |f: fn(&AgentDef) -> &BTreeSet<String>| {
                a.agents().iter().flat_map(f).map(String::as_str).collect()
            };
            AgentNames {
                skills: names(|x| &x.skills),
                protocols: names(|x| &x.protocols),
            }
        }),
    }
}
