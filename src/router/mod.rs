//! The router: JID → session table and the dispatch of every stanza by its
//! `to` (RFC 6120 §10, RFC 6121 §8). Features live in their own files and
//! are called from [`Router::route`]; the router holds no business state.
//! Domains with a handler of their own (see [`domains`]) are handed over
//! whole: the router imports nothing of what handles them.

mod carbons;
mod components;
pub mod domains;
mod iq;
mod message;
mod presence;
mod roster;
mod s2s;
mod table;

use std::sync::Arc;

use jid::{BareJid, Jid};

pub use domains::{DomainHandler, DomainInfo, DomainPolicy, DomainService, Handed};
pub use s2s::{Pool, S2sLinks};
pub use table::Table;

use crate::config::Settings;
use crate::receipt::Receipt;
use crate::session::{SessionHandle, SessionRouter};
use crate::store::Store;
use crate::stream::StreamRouter;
use crate::xml::{error_reply, Condition, Kind, Stanza};

/// Routes stanzas between local sessions, the server itself, handled
/// domains, components, and remote servers through the s2s pool.
pub struct Router {
    pub settings: Arc<Settings>,
    pub store: Store,
    pub table: Table,
    pub s2s: Box<dyn S2sLinks>,
    /// Few (one: the support domain), so a scan beats a map.
    domains: Vec<DomainHandler>,
    pub components: components::Components,
}

/// Where a destination JID lives.
enum Dest {
    /// The agent domain itself (or the web domain's).
    Server,
    /// An account on the agent domain, or a web visitor.
    Account(BareJid, Option<String>),
    /// A handled domain itself (index into `domains`).
    HandledDomain(usize),
    /// A JID on a handled domain.
    Handled(usize),
    /// A domain served by an XEP-0114 component (a transport).
    Component(String),
    /// Any other domain.
    Remote,
}

impl Router {
    pub fn new(
        settings: Arc<Settings>,
        store: Store,
        s2s: Box<dyn S2sLinks>,
        domains: Vec<DomainHandler>,
    ) -> Router {
        Router {
            settings,
            store,
            table: Table::default(),
            s2s,
            domains,
            components: components::Components::default(),
        }
    }

    fn classify(&self, to: &Jid) -> Dest {
        let domain = to.domain().as_str();
        if self.settings.is_client_domain(domain) {
            match to.node() {
                None => Dest::Server,
                Some(_) => {
                    Dest::Account(to.clone().into_bare(), to.resource().map(|r| r.to_string()))
                }
            }
        } else if let Some(i) = self.domains.iter().position(|h| h.domain == domain) {
            match to.node() {
                None => Dest::HandledDomain(i),
                Some(_) => Dest::Handled(i),
            }
        } else if self.settings.component.accept.contains_key(domain) {
            Dest::Component(domain.to_string())
        } else {
            Dest::Remote
        }
    }

    /// Routes one stanza whose `from` the caller has already stamped.
    pub async fn route(&self, stanza: Stanza) {
        self.dispatch(stanza, &mut None).await
    }

    /// Routes a stanza a stream will acknowledge once `receipt` is given
    /// back: here, when the stanza is delivered to a session's queue,
    /// stored offline or bounced; a handled domain takes it along.
    pub async fn route_received(&self, stanza: Stanza, receipt: Receipt) {
        let mut receipt = Some(receipt);
        self.dispatch(stanza, &mut receipt).await;
        if let Some(r) = receipt {
            r.done();
        }
    }

    async fn dispatch(&self, stanza: Stanza, receipt: &mut Option<Receipt>) {
        let Some(from) = stanza.from().and_then(|f| crate::xml::jid(f).ok()) else {
            tracing::warn!(?stanza, "dropping a stanza without a valid from");
            return;
        };
        let to = match stanza.to() {
            None => None,
            Some(t) => match crate::xml::jid(t) {
                Ok(j) => Some(j),
                Err(_) => {
                    self.bounce(&stanza, Condition::JidMalformed, None).await;
                    return;
                }
            },
        };
        if self.is_web_visitor(&from) && !self.visitor_may_reach(&from, to.as_ref()) {
            if stanza.kind() != Kind::Presence {
                let why = "web chat visitors write to the contact center only";
                self.bounce(&stanza, Condition::NotAllowed, Some(why)).await;
            }
            return;
        }
        if let Some(t) = &to {
            match self.classify(t) {
                Dest::Handled(i) => {
                    let (from, to) = (from.clone(), t.clone());
                    return self.domains[i]
                        .hand(Handed::Stanza {
                            stanza,
                            from,
                            to,
                            receipt: receipt.take().unwrap_or_default(),
                        })
                        .await;
                }
                Dest::Component(domain) => return self.to_component(&domain, stanza).await,
                Dest::HandledDomain(i) if self.domains[i].policy.claims(&stanza) => {
                    let (from, to) = (from.clone(), t.clone());
                    return self.domains[i]
                        .hand(Handed::Stanza {
                            stanza,
                            from,
                            to,
                            receipt: receipt.take().unwrap_or_default(),
                        })
                        .await;
                }
                // An account's own JID answering its resources (the session
                // IQ, roster results) is no one writing to it: a customer
                // who may not write to local accounts still reaches itself.
                Dest::Account(..) if t.to_bare() != from.to_bare() => {
                    if let Some(cond) = self.screen_to_account(bare_str(&from)) {
                        if stanza.kind() != Kind::Presence {
                            self.bounce(&stanza, cond, None).await;
                        }
                        return;
                    }
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
            Dest::HandledDomain(_) | Dest::Handled(_) => {
                self.bounce(&stanza, Condition::ServiceUnavailable, None)
                    .await
            }
            Dest::Remote => self.to_remote(stanza).await,
            Dest::Component(domain) => self.to_component(&domain, stanza).await,
        }
    }

    /// A visitor is a JID *on* the web domain; the domain itself is this
    /// server, answering them (disco, pings; where visitors' clients find
    /// the upload service) like any of its domains.
    fn is_web_visitor(&self, jid: &Jid) -> bool {
        jid.node().is_some() && self.settings.web_domain() == Some(jid.domain().as_str())
    }

    /// Visitors of the web chat are no one's users: like anonymous users
    /// on most servers, they reach the support domain, their own server
    /// and themselves, and nobody else (no federation, no agent directly).
    fn visitor_may_reach(&self, from: &Jid, to: Option<&Jid>) -> bool {
        let Some(to) = to else { return true };
        let domain = to.domain().as_str();
        domain == self.settings.support_domain
            || (to.node().is_none() && self.settings.is_client_domain(domain))
            || to.to_bare() == from.to_bare()
    }

    /// What a handled domain says of a stanza from `from_bare` to a local
    /// account: the first refusal wins.
    fn screen_to_account(&self, from_bare: &str) -> Option<Condition> {
        self.domains
            .iter()
            .find_map(|h| h.policy.screen_to_account(from_bare))
    }

    pub(crate) fn domain_info(&self, i: usize) -> &DomainInfo {
        self.domains[i].policy.info()
    }

    /// Tells every handled domain that a local account's presence changed.
    pub(crate) async fn account_presence_changed(&self, account: &BareJid) {
        for h in &self.domains {
            h.hand(Handed::AccountPresence(account.clone())).await;
        }
    }

    /// Queues a stanza for a component's connection; a component that is not
    /// connected answers `service-unavailable` (XEP-0114 §3.1).
    pub(crate) async fn to_component(&self, domain: &str, stanza: Stanza) {
        // A component acknowledges nothing: handed over is delivered.
        let delivered = stanza.clone();
        let sent = match self.components.sender(domain) {
            Some(tx) => tx.send(stanza).await.map_err(|e| e.0),
            None => Err(stanza),
        };
        if sent.is_ok() {
            delivered.delivered();
        }
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

    /// Whether `bare` is an existing local account. A web visitor whose
    /// token gives the JID again counts as one while away, so that what
    /// the contact center writes is kept for their return.
    pub async fn account_exists(&self, bare: &BareJid) -> bool {
        if !self.table.sessions(bare).is_empty() {
            return true;
        }
        if self.settings.web_domain() == Some(bare.domain().as_str()) {
            return bare
                .node()
                .is_some_and(|n| crate::stream::web_login::returns(n.as_str()));
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

/// Sessions reach the router through this; the table's half is in
/// `table.rs`.
impl SessionRouter for Router {
    async fn route_from_client(&self, session: &SessionHandle, stanza: Stanza) {
        if stanza.kind() == Kind::Message {
            carbons::sent(self, session, &stanza).await;
        }
        Router::route(self, stanza).await
    }

    async fn route(&self, stanza: Stanza) {
        Router::route(self, stanza).await
    }

    async fn session_gone(&self, session: &SessionHandle) {
        presence::session_gone(self, session).await
    }
}

/// Inbound s2s streams and components reach the router through this.
impl StreamRouter for Router {
    async fn route(&self, stanza: Stanza) {
        Router::route(self, stanza).await
    }

    async fn route_received(&self, stanza: Stanza, receipt: Receipt) {
        Router::route_received(self, stanza, receipt).await
    }

    fn attach_component(&self, domain: &str, queue: tokio::sync::mpsc::Sender<Stanza>) {
        self.components.attach(domain, queue)
    }

    fn detach_component(&self, domain: &str, queue: &tokio::sync::mpsc::Sender<Stanza>) {
        self.components.detach(domain, queue)
    }
}

/// The bare part of a JID's (normalised) text, without building a `BareJid`.
fn bare_str(jid: &Jid) -> &str {
    let s = jid.as_str();
    s.split_once('/').map_or(s, |(bare, _)| bare)
}
