//! The router: JID → session table and the dispatch of every stanza by its
//! `to` (RFC 6120 §10, RFC 6121 §8). Features live in their own files and
//! are called from [`Router::route`]; the router holds no business state.

mod carbons;
mod components;
mod errors;
mod iq;
mod message;
mod presence;
mod roster;
mod s2s;
mod table;

use std::sync::Arc;

use jid::{BareJid, Jid};

pub use carbons::sent as carbons_sent;
pub use errors::{error_reply, Condition};
pub use message::{chrono_stamp, with_delay};
pub use presence::session_gone;
pub use s2s::Pool;
pub use table::{PresenceState, SessionHandle, Table};

use crate::config::Settings;
use crate::gateway::{Event, Gateway};
use crate::store::Store;
use crate::xml::{Kind, Stanza};

/// Routes stanzas between local sessions, the server itself, (later) the
/// gateway, and remote servers through the s2s pool.
pub struct Router {
    pub settings: Arc<Settings>,
    pub store: Store,
    pub table: Table,
    pub s2s: Pool,
    pub gateway: Gateway,
    pub components: components::Components,
}

/// Where a destination JID lives.
enum Dest {
    /// The agent domain itself.
    Server,
    /// An account on the agent domain.
    Account(BareJid, Option<String>),
    /// The support domain itself.
    Support,
    /// A JID on the support domain: entry JIDs and session proxies, the
    /// gateway's.
    Gateway,
    /// A domain served by an XEP-0114 component (a transport).
    Component(String),
    /// Any other domain.
    Remote,
}

impl Router {
    pub fn new(settings: Arc<Settings>, store: Store, s2s: Pool, gateway: Gateway) -> Router {
        Router {
            settings,
            store,
            table: Table::default(),
            s2s,
            gateway,
            components: components::Components::default(),
        }
    }

    fn classify(&self, to: &Jid) -> Dest {
        let domain = to.domain().as_str();
        if domain == self.settings.agent_domain {
            match to.node() {
                None => Dest::Server,
                Some(_) => {
                    Dest::Account(to.clone().into_bare(), to.resource().map(|r| r.to_string()))
                }
            }
        } else if domain == self.settings.support_domain {
            match to.node() {
                None => Dest::Support,
                Some(_) => Dest::Gateway,
            }
        } else if self.settings.component.accept.contains_key(domain) {
            Dest::Component(domain.to_string())
        } else {
            Dest::Remote
        }
    }

    /// Routes one stanza whose `from` the caller has already stamped.
    pub async fn route(&self, stanza: Stanza) {
        let Some(from) = stanza.from().and_then(|f| Jid::new(f).ok()) else {
            tracing::warn!(?stanza, "dropping a stanza without a valid from");
            return;
        };
        let to = match stanza.to() {
            None => None,
            Some(t) => match Jid::new(t) {
                Ok(j) => Some(j),
                Err(_) => {
                    self.bounce(&stanza, Condition::JidMalformed, None).await;
                    return;
                }
            },
        };
        if let Some(t) = &to {
            match self.classify(t) {
                Dest::Gateway => return self.gateway.send(Event::Stanza(stanza)).await,
                Dest::Component(domain) => return self.to_component(&domain, stanza).await,
                // The support domain is also the agents' control JID: text
                // commands and XEP-0050 ad-hoc commands go to the gateway.
                Dest::Support if is_for_control(&stanza) => {
                    return self.gateway.send(Event::Stanza(stanza)).await
                }
                // Customers talk to the entry JIDs, never to agents directly.
                Dest::Account(..) if self.gateway.is_customer(bare_str(&from)) => {
                    if stanza.kind() != Kind::Presence {
                        self.bounce(&stanza, Condition::ServiceUnavailable, None)
                            .await;
                    }
                    return;
                }
                _ => {}
            }
        }
        match stanza.kind() {
            Kind::Presence => presence::route(self, &from, to.as_ref(), stanza).await,
            Kind::Message => {
                let to = to.unwrap_or_else(|| Jid::from(from.to_bare()));
                self.route_message(&from, &to, stanza).await
            }
            Kind::Iq => {
                let to = to.unwrap_or_else(|| Jid::from(from.to_bare()));
                iq::route(self, &from, &to, stanza).await
            }
            Kind::Other => {}
        }
    }

    async fn route_message(&self, from: &Jid, to: &Jid, stanza: Stanza) {
        match self.classify(to) {
            Dest::Account(bare, resource) => {
                message::deliver(self, from, &bare, resource.as_deref(), stanza).await
            }
            Dest::Server => {
                // Nothing on the server reads messages; headline and error
                // types are never answered (RFC 6120 §8.3.1).
                self.bounce(&stanza, Condition::ServiceUnavailable, None)
                    .await
            }
            Dest::Support | Dest::Gateway => {
                self.bounce(&stanza, Condition::ServiceUnavailable, None)
                    .await
            }
            Dest::Remote => self.to_remote(stanza).await,
            Dest::Component(domain) => self.to_component(&domain, stanza).await,
        }
    }

    /// Queues a stanza for a component's connection; a component that is not
    /// connected answers `service-unavailable` (XEP-0114 §3.1).
    pub(crate) async fn to_component(&self, domain: &str, stanza: Stanza) {
        let sent = match self.components.sender(domain) {
            Some(tx) => tx.send(stanza).await.map_err(|e| e.0),
            None => Err(stanza),
        };
        if let Err(s) = sent {
            if s.kind() != Kind::Presence {
                self.bounce(&s, Condition::ServiceUnavailable, None).await;
            }
        }
    }

    /// Hands a stanza from one of our domains to the s2s pool. Stanzas from
    /// elsewhere are not relayed: this is not an open relay.
    pub async fn to_remote(&self, stanza: Stanza) {
        let domain = |j: Option<&str>| Jid::new(j?).ok().map(|j| j.domain().to_string());
        let (Some(local), Some(remote)) = (domain(stanza.from()), domain(stanza.to())) else {
            return;
        };
        if !self.settings.domains().contains(&local.as_str()) {
            tracing::debug!(?stanza, "not relaying a stanza between two remote domains");
            return;
        }
        if let Err(refused) = self.s2s.send(&local, &remote, stanza) {
            let (s, cond) = *refused;
            self.bounce(&s, cond, None).await;
        }
    }

    /// Sends the error reply for `stanza` back to its sender, unless the
    /// stanza was itself an error or an IQ result.
    pub async fn bounce(&self, stanza: &Stanza, cond: Condition, text: Option<&str>) {
        if let Some(reply) = error_reply(stanza, cond, text, &self.settings.agent_domain) {
            Box::pin(self.route(reply)).await;
        }
    }

    /// Delivers to one local session, routing errors back if it is gone.
    pub async fn deliver_to(&self, session: &SessionHandle, stanza: Stanza) {
        session.deliver(stanza).await;
    }

    /// The domain part of the agent domain as a JID, for `from` on
    /// server-generated stanzas.
    pub fn server_jid(&self) -> &str {
        &self.settings.agent_domain
    }

    /// Stores a roster item of a local account and pushes it (used by the
    /// gateway for agents' work lists).
    pub async fn roster_set(&self, owner: &BareJid, item: &crate::store::RosterItem) {
        if let Err(e) = self.store.roster_upsert(owner.as_str(), item).await {
            return tracing::error!(error = %e, "roster update failed");
        }
        roster::push(self, owner, item, false).await;
    }

    pub async fn roster_remove(&self, owner: &BareJid, contact: &str) {
        let item = match self.store.roster_item(owner.as_str(), contact).await {
            Ok(Some(item)) => item,
            _ => return,
        };
        if let Err(e) = self.store.roster_remove(owner.as_str(), contact).await {
            return tracing::error!(error = %e, "roster update failed");
        }
        roster::push(self, owner, &item, true).await;
    }

    /// Whether `bare` is an existing local account.
    pub async fn account_exists(&self, bare: &BareJid) -> bool {
        if !self.table.sessions(bare).is_empty() {
            return true;
        }
        self.store
            .account_exists(bare.as_str())
            .await
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "account lookup failed");
                false
            })
    }
}

/// The bare part of a JID's (normalised) text, without building a `BareJid`.
fn bare_str(jid: &Jid) -> &str {
    let s = jid.as_str();
    s.split_once('/').map_or(s, |(bare, _)| bare)
}

/// Messages and ad-hoc command IQs for the support domain itself.
fn is_for_control(stanza: &Stanza) -> bool {
    use crate::xml::ns;
    match stanza.kind() {
        Kind::Message => stanza.type_() != Some("error"),
        // Remote agents' presence, once they let the support domain see it.
        Kind::Presence => true,
        Kind::Iq if matches!(stanza.type_(), Some("get" | "set")) => {
            stanza.element().is_ok_and(|el| {
                el.has_child("command", ns::COMMANDS)
                    || el
                        .get_child("query", ns::DISCO_ITEMS)
                        .is_some_and(|q| q.attr("node") == Some(ns::COMMANDS))
            })
        }
        _ => false,
    }
}
