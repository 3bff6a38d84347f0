//! Agents' presence: their availability from every resource's presence
//! (local sessions, or what agents on other servers send the support
//! domain), and their clients' features from the caps in it.

use jid::{BareJid, Jid};
use tracing::info;

use super::actor::Core;
use super::assign::Availability;
use crate::store::SessionState;

impl Core {
    /// A local account's presence changed: if it is an agent, its
    /// availability may open room for waiting sessions.
    pub(super) async fn agent_presence(&mut self, bare: &BareJid) {
        if !self.is_agent(bare.as_str()) {
            return;
        }
        let mut best: Option<Availability> = None;
        let mut resources = Vec::new();
        for r in self.out.resources(bare) {
            let last = r.presence.as_ref().and_then(|p| p.element().ok());
            if let (true, Some(p)) = (r.available, &last) {
                self.note_presence(&Jid::from(r.jid.clone()), p).await;
                resources.push(r.jid.to_string());
            }
            let show = last.as_ref().and_then(|e| {
                e.get_child("show", crate::xml::ns::CLIENT)
                    .map(|x| x.text())
            });
            let a = Availability::from_show(r.available, show.as_deref());
            best = best.max(Some(a));
        }
        // Agents on other servers: what their presence to us said.
        if let Some(remote) = self.remote_presence.get(bare.as_str()) {
            best = best.max(remote.values().copied().max());
            resources.extend(remote.keys().map(|r| format!("{bare}/{r}")));
        }
        self.refresh_agent_features(bare.as_str(), &resources);
        let now = best.unwrap_or(Availability::Off);
        let rt = self.state.agent_mut(bare.as_str());
        // Once per login of each resource: a resource that stays online
        // sends presence many times.
        rt.welcomed.retain(|r| resources.contains(r));
        let fresh: Vec<String> = resources
            .iter()
            .filter(|r| !rt.welcomed.contains(*r))
            .cloned()
            .collect();
        rt.welcomed.extend(fresh.iter().cloned());
        for full in &fresh {
            self.welcome(bare.as_str(), full, now).await;
        }
        let rt = self.state.agent_mut(bare.as_str());
        let back = !rt.online && !resources.is_empty();
        rt.online = !resources.is_empty();
        if back {
            self.deliver_held(bare.as_str()).await;
        }
        let now_ms = self.clock.now_ms();
        let rt = self.state.agent_mut(bare.as_str());
        if rt.availability == Some(now) {
            return;
        }
        if rt.availability.is_none() || rt.availability == Some(Availability::Off) {
            rt.idle_since_ms = now_ms;
        }
        rt.availability = Some(now);
        rt.grace_seq += 1;
        let seq = rt.grace_seq;
        info!(agent = %bare, availability = ?now, "agent availability");
        if now == Availability::Off {
            self.agent_left(bare.as_str(), seq).await;
        }
        self.assign_waiting().await;
        self.broadcast_status().await;
    }

    /// A word from the support domain to a resource that just logged in:
    /// whether they get chats, what they hold, and how to answer.
    async fn welcome(&self, agent: &str, full: &str, now: Availability) {
        let name = self
            .dir
            .agent(agent)
            .map_or(agent.to_string(), |a| a.name.clone());
        let duty = match (self.state.agent(agent).is_some_and(|a| a.off_duty), now) {
            (true, _) => "off duty (write on to the support domain to start)",
            (false, Availability::Live) => "on duty: live and async chats",
            (false, Availability::AsyncOnly) => "away: async chats only",
            (false, Availability::Off) => "not taking chats (do not disturb)",
        };
        let mine = |state: SessionState| {
            self.state
                .sessions()
                .filter(|s| s.agent() == Some(agent) && s.state() == state)
                .count()
        };
        let waiting = self
            .state
            .sessions()
            .filter(|s| s.state() == SessionState::Waiting)
            .count();
        let text = format!(
            "Welcome, {name}. You are {duty}. Your work list: {} live, {} async; {waiting} waiting in the queues. \
             Commands: take, close, info, list, help (the word alone, or after ! or /).",
            mine(SessionState::Live),
            mine(SessionState::Async),
        );
        self.route(super::bridge::chat(&self.support, full, &text))
            .await;
    }

    /// An agent came online: what their customers wrote meanwhile (held
    /// in the transcript, see `AgentRt::online`) goes to them now.
    async fn deliver_held(&mut self, agent: &str) {
        let ids: Vec<String> = self
            .state
            .sessions()
            .filter(|s| {
                s.rec().agent.as_deref() == Some(agent)
                    && matches!(s.rec().state, SessionState::Live | SessionState::Async)
            })
            .map(|s| s.rec().id.clone())
            .collect();
        for id in ids {
            self.deliver_waiting(&id).await;
        }
    }

    /// Recomputes what an agent's client can do from the resources online
    /// now, forgetting those that went away.
    pub(super) fn refresh_agent_features(&mut self, agent: &str, online: &[String]) {
        self.ident.forget_resources_of(agent, online);
        match self.agent_features(agent) {
            Some(f) => self.agent_feats.insert(agent.to_string(), f),
            None => self.agent_feats.remove(agent),
        };
    }
}
