//! The agent's work list is their roster: each session they hold is a
//! contact (the proxy JID) in group "Offered", "Live" or "Async", pushed as it changes,
//! with presence that follows the customer's. An escalated session is in
//! group "Escalated" whatever its state, with its categories in its name,
//! so that a second-level agent tells it from first-level work at a glance.

use jid::BareJid;

use super::actor::Core;
use super::state::Change;
use crate::store::{RosterItem, SessionState, Subscription};

/// The work list follows the session: listed when an agent holds it (in
/// the group of its state), unlisted when it goes back to the line or
/// closes.
pub(super) async fn on_change(core: &mut Core, change: &Change) {
    match change {
        Change::Offered { id, .. } | Change::Assigned { id, .. } | Change::StateChanged { id } => {
            core.worklist_add(id).await
        }
        Change::Requeued {
            id,
            was: SessionState::Offered | SessionState::Live | SessionState::Async,
            agent: Some(agent),
        } => core.unlist(id, agent).await,
        Change::Closed { sess, .. } => {
            if let Some(agent) = sess.agent() {
                core.unlist(sess.id(), agent).await;
            }
        }
        _ => {}
    }
}

impl Core {
    fn item_for(&self, id: &str) -> Option<(String, RosterItem)> {
        let sess = self.state.session(id)?;
        let agent = sess.rec().agent.clone()?;
        let group = match sess.rec().state {
            // Offered: in the list while the offer stands, so the offer's
            // sender is a contact the agent sees, online with the customer.
            SessionState::Offered => "Offered",
            SessionState::Live => "Live",
            SessionState::Async => "Async",
            _ => return None,
        };
        let (node, domain) = sess
            .rec()
            .customer_jid
            .split_once('@')
            .unwrap_or(("", &sess.rec().customer_jid));
        let who = if node.is_empty() { domain } else { node };
        let (group, name) = match &sess.ctx().escalation {
            Some(e) => (
                "Escalated",
                format!("{who} · {domain} · {}", e.names().join(", ")),
            ),
            None => (group, format!("{who} · {domain}")),
        };
        Some((
            agent,
            RosterItem {
                contact: self.proxy_jid(id),
                name: Some(name),
                subscription: Subscription::Both,
                ask: false,
                groups: vec![group.to_string()],
            },
        ))
    }

    /// Puts (or moves) the session in its agent's roster.
    pub(super) async fn worklist_add(&self, id: &str) {
        let Some((agent, item)) = self.item_for(id) else {
            return;
        };
        if let Ok(owner) = BareJid::new(&agent) {
            if owner.domain().as_str() == self.agent_domain {
                self.out.roster_set(&owner, &item).await;
            }
        }
        self.worklist_presence(id).await;
    }

    pub(super) async fn worklist_remove(&self, id: &str) {
        if let Some(agent) = self.state.session(id).and_then(|s| s.agent()) {
            self.unlist(id, agent).await;
        }
    }

    /// Takes the session's proxy out of `agent`'s work list.
    async fn unlist(&self, id: &str, agent: &str) {
        let proxy = self.proxy_jid(id);
        self.route(super::entry::presence(
            &proxy,
            agent,
            Some("unavailable"),
            None,
        ))
        .await;
        if let Ok(owner) = BareJid::new(agent) {
            if owner.domain().as_str() == self.agent_domain {
                self.out.roster_remove(&owner, &proxy).await;
            }
        }
    }

    /// The proxy's presence for its agent: online while the customer is.
    pub(super) async fn worklist_presence(&self, id: &str) {
        let Some(sess) = self.state.session(id) else {
            return;
        };
        let Some(agent) = &sess.rec().agent else {
            return;
        };
        if !matches!(
            sess.rec().state,
            SessionState::Offered | SessionState::Live | SessionState::Async
        ) {
            return;
        }
        let proxy = self.proxy_jid(id);
        let p = if sess.customer_full.is_some() {
            super::entry::presence(&proxy, agent, None, None)
        } else {
            super::entry::presence(&proxy, agent, Some("unavailable"), None)
        };
        self.route(p).await;
    }
}
