//! The gateway's view of agents.toml and routing.toml: the validated
//! configuration itself, with indexes for the lookups the actor makes on
//! every stanza (agents by JID, queues by entry JID). Swapped whole on
//! reload.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::config::{AgentDef, GatewayConfig, QueueDef, RoutingConfig};

#[derive(Debug, Clone)]
pub struct Directory {
    cfg: Arc<GatewayConfig>,
    /// Enabled agents only: a disabled one is off routing.
    by_agent: HashMap<String, usize>,
    by_entry: HashMap<String, usize>,
}

impl Directory {
    pub fn from_config(cfg: Arc<GatewayConfig>) -> Directory {
        let by_agent = cfg
            .agents
            .agents()
            .iter()
            .enumerate()
            .filter(|(_, a)| a.enabled)
            .map(|(i, a)| (a.jid.to_string(), i))
            .collect();
        let by_entry = cfg
            .routing
            .queues()
            .iter()
            .enumerate()
            .flat_map(|(i, q)| q.entry.iter().map(move |e| (e.to_string(), i)))
            .collect();
        Directory {
            cfg,
            by_agent,
            by_entry,
        }
    }

    /// The enabled agents, in file order.
    pub fn agents(&self) -> impl Iterator<Item = &AgentDef> {
        self.cfg.agents.agents().iter().filter(|a| a.enabled)
    }

    pub fn agent(&self, jid: &str) -> Option<&AgentDef> {
        self.by_agent
            .get(jid)
            .map(|&i| &self.cfg.agents.agents()[i])
    }

    pub fn queues(&self) -> &[QueueDef] {
        self.cfg.routing.queues()
    }

    pub fn queue_of_entry(&self, entry: &str) -> Option<&QueueDef> {
        self.by_entry.get(entry).map(|&i| &self.queues()[i])
    }

    pub fn queue(&self, name: &str) -> Option<&QueueDef> {
        self.queues().iter().find(|q| q.name == name)
    }

    /// Whether `queue` is within its business hours (always, without a
    /// calendar).
    pub fn is_open(&self, queue: &QueueDef, now: jiff::Timestamp) -> bool {
        queue
            .calendar
            .as_deref()
            .and_then(|c| self.routing().calendar(c))
            .is_none_or(|c| c.is_open(now))
    }

    pub fn is_entry(&self, jid: &str) -> bool {
        self.by_entry.contains_key(jid)
    }

    /// The rules, calendars and `[protocols]` map of routing.toml.
    pub fn routing(&self) -> &RoutingConfig {
        &self.cfg.routing
    }

    pub fn agent_grace(&self) -> Duration {
        self.cfg.routing.defaults.agent_grace
    }

    pub fn session_idle(&self) -> Duration {
        self.cfg.routing.defaults.session_idle
    }

    pub fn wait_estimate(&self) -> Duration {
        self.cfg.routing.defaults.wait_estimate
    }

    /// Support categories and their classifier (categories.toml).
    pub fn categories(&self) -> &crate::config::CategoriesConfig {
        &self.cfg.categories
    }

    /// Questions, self-service and canned answers (dialogs.toml).
    pub fn dialogs(&self) -> &crate::config::DialogsConfig {
        &self.cfg.dialogs
    }

    pub fn texts(&self) -> &crate::config::Texts {
        self.cfg.routing.texts()
    }

    pub fn queue_update(&self) -> Duration {
        self.cfg.routing.defaults.queue_update
    }
}
