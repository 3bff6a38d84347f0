//! The gateway's view of agents.toml and routing.toml: agents by JID,
//! queues by entry JID, with the defaults applied, swapped whole on reload.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use super::assign::Strategy;
use crate::config::{AssignMode, GatewayConfig, RoutingConfig};

#[derive(Debug, Clone)]
pub struct Agent {
    pub jid: String,
    pub name: String,
    pub tier: u8,
    pub skills: BTreeSet<String>,
    pub protocols: BTreeSet<String>,
    pub max_live: u32,
    pub max_async: u32,
}

#[derive(Debug, Clone)]
pub struct Queue {
    pub name: String,
    pub entries: Vec<String>,
    pub skills: BTreeSet<String>,
    pub strategy: Strategy,
    pub tier: Option<u8>,
    pub only: Option<Vec<String>>,
    /// An agent accepts an offer (true) or is assigned at once.
    pub offer: bool,
    pub offer_timeout: Duration,
    pub priority: i64,
    /// The queue's business hours (a calendar of routing.toml).
    pub calendar: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Directory {
    pub agents: Vec<Agent>,
    pub queues: Vec<Queue>,
    pub agent_grace: Duration,
    pub session_idle: Duration,
    pub wait_estimate: Duration,
    /// The rules, calendars and `[protocols]` map of routing.toml.
    pub routing: RoutingConfig,
    by_agent: HashMap<String, usize>,
    by_entry: HashMap<String, usize>,
}

impl Directory {
    pub fn new(
        agents: Vec<Agent>,
        queues: Vec<Queue>,
        agent_grace: Duration,
        session_idle: Duration,
        wait_estimate: Duration,
        routing: RoutingConfig,
    ) -> Directory {
        let by_agent = agents
            .iter()
            .enumerate()
            .map(|(i, a)| (a.jid.clone(), i))
            .collect();
        let by_entry = queues
            .iter()
            .enumerate()
            .flat_map(|(i, q)| q.entries.iter().map(move |e| (e.clone(), i)))
            .collect();
        Directory {
            agents,
            queues,
            agent_grace,
            session_idle,
            wait_estimate,
            routing,
            by_agent,
            by_entry,
        }
    }

    pub fn agent(&self, jid: &str) -> Option<&Agent> {
        self.by_agent.get(jid).map(|&i| &self.agents[i])
    }

    pub fn queue_of_entry(&self, entry: &str) -> Option<&Queue> {
        self.by_entry.get(entry).map(|&i| &self.queues[i])
    }

    pub fn queue(&self, name: &str) -> Option<&Queue> {
        self.queues.iter().find(|q| q.name == name)
    }

    /// Whether `queue` is within its business hours (always, without a
    /// calendar).
    pub fn is_open(&self, queue: &Queue, now: jiff::Timestamp) -> bool {
        queue
            .calendar
            .as_deref()
            .and_then(|c| self.routing.calendar(c))
            .is_none_or(|c| c.is_open(now))
    }

    pub fn is_entry(&self, jid: &str) -> bool {
        self.by_entry.contains_key(jid)
    }

    /// The validated files, flattened for the actor: defaults applied,
    /// disabled agents left out, JIDs as strings.
    pub fn from_config(cfg: &GatewayConfig) -> Directory {
        let agents = cfg
            .agents
            .agents()
            .iter()
            .filter(|a| a.enabled)
            .map(|a| Agent {
                jid: a.jid.to_string(),
                name: a.name.clone(),
                tier: a.tier,
                skills: a.skills.clone(),
                protocols: a.protocols.clone(),
                max_live: a.max_live,
                max_async: a.max_async,
            })
            .collect();
        let queues = cfg
            .routing
            .queues()
            .iter()
            .map(|q| Queue {
                name: q.name.clone(),
                entries: q.entry.iter().map(ToString::to_string).collect(),
                skills: q.skills.clone(),
                strategy: q.strategy,
                tier: q.tier,
                only: q
                    .agents
                    .as_ref()
                    .filter(|a| !a.is_empty())
                    .map(|a| a.iter().map(ToString::to_string).collect()),
                offer: q.assign == AssignMode::Offer,
                offer_timeout: q.offer_timeout,
                priority: i64::from(q.priority),
                calendar: q.calendar.clone(),
            })
            .collect();
        let d = &cfg.routing.defaults;
        Directory::new(
            agents,
            queues,
            d.agent_grace,
            d.session_idle,
            d.wait_estimate,
            cfg.routing.clone(),
        )
    }
}
