//! Identification: when a session opens, Switchboard asks the customer's
//! domain what network it is (disco#info), and the customer's client what
//! it is (XEP-0115 caps from presence, else disco#info, and XEP-0092). The
//! answers are cached (networks for an hour, caps by verified hash, clients
//! by full JID) and the session is routed as soon as they are in, or after
//! [`IDENTIFY_TIMEOUT`]: a slow or silent peer never holds up the chat.
//!
//! Agents' clients are identified the same way from their presence, so
//! routing can ask for features and messages can be adapted to them.

use std::collections::BTreeSet;
use std::time::Duration;

use jid::Jid;
use minidom::Element;
use tracing::debug;

use super::actor::{Core, Event};
use super::answers::{Query, NETWORK_TTL_MS};
use super::context::Ident;
use super::discover::{self, CapsRef};
use crate::xml::build::{el, stanza, BuilderExt};
use crate::xml::{ns, Stanza};

/// How long a session waits for identification answers before it is
/// routed with what is known.
pub const IDENTIFY_TIMEOUT: Duration = Duration::from_secs(3);
impl Core {
    /// Sends a query from the support domain, unless the same one is
    /// already on its way; returns the IQ id to wait for.
    async fn ask(&mut self, query: Query) -> String {
        if let Some(id) = self
            .ident
            .asked
            .iter()
            .find(|(_, (q, _))| *q == query)
            .map(|(id, _)| id.clone())
        {
            return id;
        }
        let payload = match &query {
            Query::Network(_) | Query::Client { caps: None, .. } => {
                el("query", ns::DISCO_INFO).build()
            }
            Query::Client {
                caps: Some(caps), ..
            } => el("query", ns::DISCO_INFO)
                .a("node", caps.disco_node().as_str())
                .build(),
            Query::Software(_) => el("query", ns::VERSION).build(),
        };
        let id = format!("sb-id-{}", crate::util::random_id(10));
        let iq = stanza(
            el("iq", ns::CLIENT)
                .a("type", "get")
                .a("id", id.as_str())
                .a("from", self.support.as_str())
                .a("to", query.target())
                .append(payload),
        );
        self.ident
            .asked
            .insert(id.clone(), (query, self.clock.now_ms()));
        self.route(iq).await;
        id
    }

    /// Starts identifying a new session's customer, who wrote `first` from
    /// `from`. Routing happens when the answers are in (or time is up).
    pub(super) async fn start_identify(&mut self, id: &str, from: &Jid, first: &Stanza) {
        self.ident.trim(self.clock.now_ms());
        let domain = from.domain().to_string();
        let full = from.to_string();
        let mut waiting = Vec::new();
        // The server's own domains need no asking what network they are.
        let local =
            domain == self.agent_domain || self.web_domain.as_deref() == Some(domain.as_str());
        let fresh = self
            .ident
            .networks
            .get(&domain)
            .is_some_and(|(_, at)| self.clock.now_ms() - at < NETWORK_TTL_MS);
        if !local && !fresh {
            waiting.push(self.ask(Query::Network(domain.clone())).await);
        }
        if from.resource().is_some() {
            if self.ident.client_of(&full).is_none() {
                let caps = self.ident.presence_caps.get(&full).cloned();
                let query = Query::Client {
                    jid: full.clone(),
                    caps,
                };
                waiting.push(self.ask(query).await);
            }
            if !self.ident.software.contains_key(&full) {
                waiting.push(self.ask(Query::Software(full.clone())).await);
            }
        }
        let tree = first.element().ok();
        let lang = tree.as_ref().and_then(|e| {
            e.attr_ns(&minidom::rxml::Namespace::XML, "lang")
                .map(String::from)
        });
        let nick = tree
            .as_ref()
            .and_then(|e| e.get_child("nick", ns::NICK))
            .and_then(|n| {
                // A name to show, not a document: one line, bounded.
                let text: String = n.text().split_whitespace().collect::<Vec<_>>().join(" ");
                (!text.is_empty()).then(|| text.chars().take(64).collect())
            });
        let Some(sess) = self.state.session_mut(id) else {
            return;
        };
        sess.lang = lang;
        sess.nick = nick;
        sess.pending = waiting.into_iter().collect();
        if sess.pending.is_empty() {
            return self.route_session(id).await;
        }
        debug!(session = %id, asked = sess.pending.len(), "identifying");
        self.later(
            IDENTIFY_TIMEOUT,
            Event::IdentifyTimeout {
                session: id.to_string(),
            },
        );
    }

    /// Time is up: route with what is known.
    pub(super) async fn identify_timeout(&mut self, id: &str) {
        let Some(sess) = self.state.session_mut(id) else {
            return;
        };
        if sess.routed() {
            return;
        }
        debug!(session = %id, unanswered = sess.pending.len(), "identification timed out");
        sess.pending.clear();
        self.route_session(id).await;
    }

    /// An IQ result or error to the support domain: if it answers one of our
    /// queries, cache what it says and route the sessions it completes.
    /// Returns whether it was ours.
    pub(super) async fn identify_answer(&mut self, s: &Stanza) -> bool {
        let Some(id) = s.id() else { return false };
        let Some((query, _)) = self.ident.asked.get(id) else {
            return false;
        };
        // Only the entity asked may answer: ids are random, but a guessed
        // one must not let a third party describe someone else's client.
        if s.from() != Some(query.target()) {
            debug!(from = ?s.from(), %id, "an answer from someone not asked; ignored");
            return true;
        }
        let Some((query, _)) = self.ident.asked.remove(id) else {
            return false;
        };
        let answer = if s.type_() == Some("result") {
            s.element().ok()
        } else {
            None
        };
        let child = |ns: &str| {
            answer
                .as_ref()
                .and_then(|e| e.get_child("query", ns).cloned())
        };
        let now = self.clock.now_ms();
        match query {
            Query::Network(domain) => {
                let info = child(ns::DISCO_INFO).and_then(|q| discover::network(&q));
                self.ident.networks.insert(domain, (info, now));
            }
            Query::Client { jid, caps } => {
                if let Some(q) = child(ns::DISCO_INFO) {
                    self.client_answer(jid.clone(), caps, &q, now);
                }
                // Every resource that announced the same caps is now known.
                let agents: Vec<String> = self
                    .agent_feats
                    .keys()
                    .cloned()
                    .chain(Jid::new(&jid).ok().map(|j| j.to_bare().to_string()))
                    .filter(|a| self.is_agent(a))
                    .collect();
                for agent in agents {
                    if let Some(f) = self.agent_features(&agent) {
                        self.agent_feats.insert(agent, f);
                    }
                }
            }
            Query::Software(jid) => {
                if let Some(v) = child(ns::VERSION).and_then(|q| discover::software(&q)) {
                    self.ident.software.insert(jid, (v, now));
                }
            }
        }
        let id = s.id().unwrap_or_default().to_string();
        let done: Vec<String> = self
            .state
            .sessions_mut()
            .filter_map(|x| {
                let done = !x.routed() && x.pending.remove(&id) && x.pending.is_empty();
                done.then(|| x.rec().id.clone())
            })
            .collect();
        for session in done {
            self.route_session(&session).await;
        }
        true
    }

    fn client_answer(&mut self, jid: String, caps: Option<CapsRef>, q: &Element, now: i64) {
        match caps {
            Some(caps) => {
                let Some((info, ok)) = discover::verify_caps(q, &caps) else {
                    return;
                };
                if ok {
                    self.ident.caps.insert(caps.key(), info.clone());
                    self.ident
                        .clients
                        .insert(jid, (info, Some("verified"), now));
                } else {
                    // Not cached under that hash: the next client that sends
                    // it may be honest.
                    debug!(%jid, ver = %caps.ver, "caps hash mismatch");
                    self.ident
                        .clients
                        .insert(jid, (info, Some("mismatch"), now));
                }
            }
            None => {
                if let Some(info) = discover::client(q) {
                    self.ident.clients.insert(jid, (info, None, now));
                }
            }
        }
    }

    /// A presence from a customer or an agent: note its caps and, when they
    /// are new, ask what they stand for, so the answer is there before it
    /// is needed. Clients without caps are asked directly.
    pub(super) async fn note_presence(&mut self, from: &Jid, presence: &Element) {
        if from.resource().is_none() {
            return;
        }
        let full = from.to_string();
        if presence.attr("type") == Some("unavailable") {
            self.ident.presence_caps.remove(&full);
            self.ident.clients.remove(&full);
            return;
        }
        match CapsRef::of_presence(presence) {
            Some(caps) => {
                let known = self.ident.caps.contains_key(&caps.key());
                let changed = self.ident.presence_caps.get(&full) != Some(&caps);
                self.ident.presence_caps.insert(full.clone(), caps.clone());
                if changed {
                    // Whatever this JID said before no longer describes it.
                    self.ident.clients.remove(&full);
                }
                if !known {
                    let query = Query::Client {
                        jid: full.clone(),
                        caps: Some(caps),
                    };
                    self.ask(query).await;
                }
            }
            None => {
                if !self.ident.clients.contains_key(&full) {
                    let query = Query::Client {
                        jid: full.clone(),
                        caps: None,
                    };
                    self.ask(query).await;
                }
            }
        }
    }

    /// The features of an agent's client: the union over its available
    /// resources (messages go to the bare JID, so any of them may show
    /// it). None when no resource's client is known.
    pub(super) fn agent_features(&self, agent: &str) -> Option<BTreeSet<String>> {
        let mut out: Option<BTreeSet<String>> = None;
        let prefix = format!("{agent}/");
        let fulls = self
            .ident
            .presence_caps
            .keys()
            .chain(self.ident.clients.keys())
            .filter(|k| k.starts_with(&prefix));
        for full in fulls {
            if let Some((c, _)) = self.ident.client_of(full) {
                out.get_or_insert_with(BTreeSet::new).extend(c.features);
            }
        }
        out
    }

    /// Everything known about the customer who wrote from `full`.
    pub(super) fn compose_ident(&self, full: &str) -> Ident {
        let jid = Jid::new(full).ok();
        let domain = jid
            .as_ref()
            .map_or(String::new(), |j| j.domain().to_string());
        let mut ident = Ident {
            channel: "xmpp".into(),
            channel_source: "default".into(),
            domain: domain.clone(),
            ..Ident::default()
        };
        let mut network_features = None;
        if domain == self.agent_domain {
            ident.channel_source = "local".into();
        } else if self.web_domain.as_deref() == Some(domain.as_str()) {
            ident.channel = "web".into();
            ident.channel_source = "web".into();
        } else if let Some((Some(n), _)) = self.ident.networks.get(&domain) {
            if let Some(p) = &n.protocol {
                ident.channel = p.clone();
                ident.channel_source = "disco".into();
            }
            ident.network = n.identity.clone();
            ident.network_name = n.name.clone();
            ident.max_length = n.max_length;
            network_features = Some(n.features.clone());
        }
        if let Some(o) = self.protocol_override(&domain) {
            ident.channel = o.0;
            ident.channel_source = "config".into();
            ident.max_length = o.1.or(ident.max_length);
        }
        if ident.max_length.is_none() {
            ident.max_length = discover::default_max_length(&ident.channel);
        }
        if let Some((c, status)) = self.ident.client_of(full) {
            ident.client = c.name;
            ident.client_kind = c.kind;
            ident.caps = status.map(String::from);
            ident.features = Some(c.features);
        } else if ident.channel != "xmpp" {
            // A transport's users are what its network can do, which the
            // transport announces for its whole domain.
            ident.features = network_features;
        }
        if let Some((v, _)) = self.ident.software.get(full) {
            ident.client = Some(v.name.clone());
            ident.client_version = Some(v.version.clone()).filter(|v| !v.is_empty());
            ident.client_os = v.os.clone();
        }
        ident
    }
}
