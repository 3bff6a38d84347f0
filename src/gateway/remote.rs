//! Agents hosted on other XMPP servers (agents.toml may name any JID): the
//! support domain subscribes to their presence, which then drives their
//! availability like a local agent's. They work with the proxy JIDs over
//! s2s; their roster cannot be pushed, so `/list` (or the ad-hoc command)
//! is their work list.

use std::collections::HashMap;

use jid::{BareJid, Jid};

use super::actor::Core;
use super::assign::Availability;
use super::entry::presence;
use crate::xml::{ns, Stanza};

impl Core {
    fn is_remote_agent(&self, jid: &str) -> bool {
        self.is_agent(jid)
            && BareJid::new(jid).is_ok_and(|b| {
                let d = b.domain().as_str();
                d != self.support && d != self.agent_domain
            })
    }

    /// Asks each remote agent for their presence (subscribe, then probe);
    /// an existing subscription makes their server answer at once.
    pub(super) async fn subscribe_remote_agents(&self) {
        let remote: Vec<String> = self
            .dir
            .agents()
            .filter(|a| self.is_remote_agent(a.jid.as_str()))
            .map(|a| a.jid.to_string())
            .collect();
        for jid in remote {
            self.route(presence(&self.support, &jid, Some("subscribe"), None))
                .await;
            self.route(presence(&self.support, &jid, Some("probe"), None))
                .await;
        }
    }

    /// Probes remote agents not heard from (their server may have been
    /// unreachable when we asked); run with the idle sweep.
    pub(super) async fn probe_silent_agents(&self) {
        let silent: Vec<String> = self
            .dir
            .agents()
            .filter(|a| {
                self.is_remote_agent(a.jid.as_str())
                    && !self.remote_presence.contains_key(a.jid.as_str())
            })
            .map(|a| a.jid.to_string())
            .collect();
        for jid in silent {
            self.route(presence(&self.support, &jid, Some("probe"), None))
                .await;
        }
    }

    /// Presence to the support domain itself.
    pub(super) async fn remote_agent_presence(&mut self, from: &Jid, s: &Stanza) {
        let bare = from.to_bare();
        if !self.is_remote_agent(bare.as_str()) {
            return;
        }
        let resource = from
            .resource()
            .map(|r| r.as_str().to_string())
            .unwrap_or_default();
        match s.type_() {
            // An agent following the support domain is approved, and asked
            // for their presence in return: the way in when the request
            // sent at start-up could not reach their server.
            Some("subscribe") => {
                self.route(presence(
                    &self.support,
                    bare.as_str(),
                    Some("subscribed"),
                    None,
                ))
                .await;
                if !self.remote_presence.contains_key(bare.as_str()) {
                    self.route(presence(
                        &self.support,
                        bare.as_str(),
                        Some("subscribe"),
                        None,
                    ))
                    .await;
                }
                return;
            }
            Some("probe") => {
                self.route(presence(&self.support, from.as_str(), None, None))
                    .await;
                return;
            }
            None | Some("unavailable") => {}
            _ => return,
        }
        if let Ok(el) = s.element() {
            self.note_presence(from, &el).await;
        }
        let show = s
            .element()
            .ok()
            .and_then(|e| e.get_child("show", ns::CLIENT).map(|x| x.text()));
        let a = Availability::from_show(s.type_().is_none(), show.as_deref());
        let resources: &mut HashMap<String, Availability> =
            self.remote_presence.entry(bare.to_string()).or_default();
        if a == Availability::Off {
            resources.remove(&resource);
        } else {
            resources.insert(resource, a);
        }
        self.agent_presence(&bare).await;
    }
}
