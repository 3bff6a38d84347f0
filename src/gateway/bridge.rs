//! The bridge: a customer's stanzas reach the session's agent from the
//! proxy JID; the agent's reach the customer from the entry JID, with the
//! agent's name (XEP-0172). Payloads (chat states, receipts, corrections,
//! OOB links, XHTML-IM) pass through where the receiver can show them and
//! are adapted where it cannot (see `adapt`).

use jid::Jid;

use super::actor::{bare, Core};
use super::adapt::{adapt, Target};
use super::journal::Entry;
use super::state::{Change, Sess};
use crate::config::Text;
use crate::store::{Direction, NewMessage, SessionState, TranscriptEntry};
use crate::xml::build::{el, stanza, BuilderExt};
use crate::xml::Condition;
use crate::xml::{escape_attr, ns, Kind, Stanza};

/// The bridge's reactions: a new agent gets the session's context and what
/// the customer wrote while waiting, and the customer is told who answers;
/// a closed session's customer gets its farewell.
pub(super) async fn on_change(core: &mut Core, change: &Change) {
    match change {
        Change::Assigned { id, agent } => {
            let waiting = core.waiting_messages(id).await;
            // Stamped just before the first message that waited, so that a
            // client ordering by time shows it where it belongs: before
            // them, after what was said earlier.
            core.send_context(id, waiting.first().map(|m| m.created_at - 1))
                .await;
            core.relay_waiting(id, waiting).await;
            let name = core
                .dir
                .agent(agent)
                .map(|a| a.name.clone())
                .unwrap_or_default();
            // The agent's name as data too, for the web chat's header. A
            // callback's session is announced at its time (`callbacks/`).
            let unannounced = |s: &&Sess| s.ctx().callback.as_ref().is_some_and(|c| !c.written);
            if let Some(sess) = core.state.session(id).filter(|s| !unannounced(s)) {
                let line =
                    core.dir
                        .texts()
                        .render(sess.lang(), Text::NowChatting, &[("name", &name)]);
                let agent = el("agent", ns::SB_QUEUE).a("name", name.as_str()).build();
                core.to_customer_with(sess, &line, Some(agent)).await;
            }
        }
        Change::Closed {
            sess,
            farewell: Some(text),
        } => {
            let line = core.dir.texts().render(sess.lang(), *text, &[]);
            core.to_customer_raw(sess, &line).await
        }
        _ => {}
    }
}

impl Core {
    /// A stanza to a session's proxy JID.
    pub(super) async fn at_proxy(&mut self, from: &Jid, id: &str, s: Stanza) {
        let sender = bare(from).to_string();
        let agent = self.state.session(id).and_then(|x| x.rec().agent.clone());
        let monitoring = self
            .state
            .session(id)
            .is_some_and(|x| x.monitors.iter().any(|m| m.jid == sender));
        if monitoring && agent.as_deref() != Some(sender.as_str()) {
            if s.kind() == Kind::Message && s.type_() != Some("error") {
                return self.monitor_wrote(from, id, s).await;
            }
            return;
        }
        if !self.is_agent(&sender) || agent.as_deref() != Some(sender.as_str()) {
            // Customers never reach a session through its proxy, and an
            // agent never writes into someone else's session.
            if s.kind() != Kind::Presence {
                self.bounce(
                    &s,
                    Condition::Forbidden,
                    Some("this conversation belongs to another agent"),
                )
                .await;
            }
            return;
        }
        match s.kind() {
            Kind::Message if s.type_() != Some("error") => {
                let body = s.body();
                if let Some((cmd, arg)) = body.as_deref().and_then(super::commands::parse) {
                    return self.command(from, id, cmd, arg).await;
                }
                self.agent_message(from, id, s, body).await
            }
            // Agents probe or subscribe to their work list contacts.
            Kind::Presence => match s.type_() {
                Some("probe") | Some("subscribe") => self.worklist_presence(id).await,
                _ => {}
            },
            Kind::Iq => self.bounce(&s, Condition::ServiceUnavailable, None).await,
            _ => {}
        }
    }

    /// A message the server writes for the agent (a canned answer): sent
    /// as if they had; false when the session is not theirs to write in.
    pub(super) async fn send_as_agent(
        &mut self,
        from: &Jid,
        id: &str,
        s: Stanza,
        body: String,
    ) -> bool {
        let writable = self
            .state
            .session(id)
            .is_some_and(|x| matches!(x.rec().state, SessionState::Live | SessionState::Async));
        if writable {
            self.agent_message(from, id, s, Some(body)).await;
        }
        writable
    }

    async fn agent_message(&mut self, from: &Jid, id: &str, s: Stanza, body: Option<String>) {
        let Some(sess) = self.state.session(id) else {
            return;
        };
        if !matches!(sess.rec().state, SessionState::Live | SessionState::Async) {
            return self
                .bounce(
                    &s,
                    Condition::NotAllowed,
                    Some("take the session first (write take)"),
                )
                .await;
        }
        // To the bare JID: every device of the customer gets it.
        let to = sess.rec().customer_jid.clone();
        let entry = sess.rec().entry_jid.clone();
        let out = s.with_addresses(Some(&entry), Some(&to));
        let name = self.dir.agent(bare(from)).map(|a| a.name.clone());
        let out = with_nick(out, name.as_deref());
        let mut then = adapt(&out, self.customer_target(id));
        if let Some(b) = &body {
            let label = format!("[{}] {b}", name.as_deref().unwrap_or("agent"));
            then.extend(self.monitor_copies(id, &label, None));
            let now = self.clock.now_ms();
            if let Some(sess) = self.state.session_mut(id) {
                sess.last_reply_ms = now;
            }
        }
        let row = body.map(|b| NewMessage {
            session_id: id.to_string(),
            direction: Direction::Out,
            sender: from.to_string(),
            body: Some(b),
            stanza: String::from_utf8_lossy(s.bytes()).into_owned(),
            created_at: self.clock.now_ms(),
            delivered: true,
        });
        let writer = row.is_some().then_some(s);
        let receipt = std::mem::take(&mut self.receipt);
        self.journal
            .append(Entry {
                row,
                then,
                tracked: 0,
                writer,
                receipt,
            })
            .await;
    }

    /// What the session's customer can receive, as identification found.
    pub(super) fn customer_target(&self, id: &str) -> Target<'_> {
        self.state
            .session(id)
            .map_or(Target::default(), |s| Target {
                features: s.ctx().ident.features.as_ref(),
                max_length: s.ctx().ident.max_length,
            })
    }

    /// What an agent's client can show.
    fn agent_target(&self, agent: &str) -> Target<'_> {
        Target {
            features: self.agent_feats.get(agent),
            max_length: None,
        }
    }

    /// What relaying a customer's stanza to the session's agent sends, if
    /// the session has an agent who may see it now. Not while the agent is
    /// offline: their offline storage would be a second copy written after
    /// the transcript's, and a crash between the two would lose the message
    /// with the transcript calling it delivered. It waits in the transcript
    /// instead, for `deliver_held`.
    pub(super) fn stanzas_to_agent(&self, id: &str, s: &Stanza) -> Option<Vec<Stanza>> {
        let sess = self.state.session(id)?;
        let agent = sess.rec().agent.as_ref()?;
        if !matches!(sess.rec().state, SessionState::Live | SessionState::Async)
            || !self.state.agent(agent).is_some_and(|a| a.online)
        {
            return None;
        }
        let proxy = self.proxy_jid(id);
        let out = s.with_addresses(Some(&proxy), Some(agent));
        Some(adapt(&out, self.agent_target(agent)))
    }

    /// On assignment: what the customer wrote while waiting, stamped with
    /// when they wrote it (XEP-0203).
    pub(super) async fn deliver_waiting(&self, id: &str) {
        let waiting = self.waiting_messages(id).await;
        self.relay_waiting(id, waiting).await;
    }

    /// What the customer wrote that no agent has seen yet, oldest first.
    pub(super) async fn waiting_messages(&self, id: &str) -> Vec<TranscriptEntry> {
        // Messages still in the journal must be stored to be found.
        self.journal.flush().await;
        match self
            .state
            .store()
            .messages_undelivered(id, Direction::In)
            .await
        {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "loading queued messages failed");
                Vec::new()
            }
        }
    }

    /// Relays `pending` to the session's agent, each stamped with when the
    /// customer wrote it (XEP-0203); each is marked delivered when the
    /// agent's client has it.
    pub(super) async fn relay_waiting(&self, id: &str, pending: Vec<TranscriptEntry>) {
        let Some(agent) = self.state.session(id).and_then(|s| s.rec().agent.clone()) else {
            return;
        };
        let proxy = self.proxy_jid(id);
        for m in pending {
            let Some(stamped) = crate::xml::with_delay(&m.stanza, &self.support, m.created_at)
            else {
                continue;
            };
            let out = stamped.with_addresses(Some(&proxy), Some(&agent));
            let delivery = self.journal.delivery(m.id);
            for part in adapt(&out, self.agent_target(&agent)) {
                self.route(part.with_delivery(delivery.clone())).await;
            }
        }
    }

    /// A line from Switchboard to the session's agent, from the proxy JID.
    pub(super) async fn to_agent_text(&self, id: &str, agent: &str, text: &str) {
        let proxy = self.proxy_jid(id);
        self.route(chat(&proxy, agent, text)).await;
    }

    /// A line from Switchboard to the customer, from the entry JID; stored
    /// in the transcript.
    /// One of Switchboard's own texts to the customer, in their language.
    pub(super) async fn tell_customer(&self, id: &str, text: Text, args: &[(&str, &str)]) {
        if let Some(sess) = self.state.session(id) {
            let line = self.dir.texts().render(sess.lang(), text, args);
            self.to_customer_raw(sess, &line).await;
        }
    }

    pub(super) async fn to_customer_text(&self, id: &str, text: &str) {
        if let Some(sess) = self.state.session(id) {
            self.to_customer_raw(sess, text).await;
        }
    }

    pub(super) async fn to_customer_raw(&self, sess: &Sess, text: &str) {
        self.to_customer_with(sess, text, None).await
    }

    /// A line to the customer with a payload beside the text, for a client
    /// that reads it (the web chat reads the queue place).
    pub(super) async fn to_customer_with(
        &self,
        sess: &Sess,
        text: &str,
        payload: Option<minidom::Element>,
    ) {
        let m = match payload {
            None => chat(&sess.rec().entry_jid, &sess.rec().customer_jid, text),
            Some(p) => stanza(
                el("message", ns::CLIENT)
                    .a("from", sess.rec().entry_jid.as_str())
                    .a("to", sess.rec().customer_jid.as_str())
                    .a("type", "chat")
                    .a("id", crate::util::random_id(12).as_str())
                    .append(el("body", ns::CLIENT).append(text).build())
                    .append(p),
            ),
        };
        // Only the length matters for our own plain texts.
        let target = Target {
            features: None,
            max_length: sess.ctx().ident.max_length,
        };
        let row = NewMessage {
            session_id: sess.rec().id.clone(),
            direction: Direction::System,
            sender: sess.rec().entry_jid.clone(),
            body: Some(text.to_string()),
            stanza: String::from_utf8_lossy(m.bytes()).into_owned(),
            created_at: self.clock.now_ms(),
            delivered: true,
        };
        let then = adapt(&m, target);
        self.journal
            .append(Entry {
                row: Some(row),
                then,
                tracked: 0,
                writer: None,
                receipt: Default::default(),
            })
            .await;
    }
}

pub(super) fn chat(from: &str, to: &str, text: &str) -> Stanza {
    stanza(
        el("message", ns::CLIENT)
            .a("from", from)
            .a("to", to)
            .a("type", "chat")
            .a("id", crate::util::random_id(12).as_str())
            .append(el("body", ns::CLIENT).append(text).build()),
    )
}

/// Adds the agent's name (XEP-0172) so the customer's client can show who
/// answers behind the entry JID. Written into the bytes: parsing and
/// serializing a tree for every reply would cost more than the relay.
pub(super) fn with_nick(s: Stanza, name: Option<&str>) -> Stanza {
    let Some(name) = name else { return s };
    if s.mentions(ns::NICK) {
        return s;
    }
    s.with_child(&format!(
        "<nick xmlns='{}'>{}</nick>",
        ns::NICK,
        escape_attr(name)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nick_goes_into_the_bytes() {
        let s = chat("help@x", "c@y", "hi");
        let n = with_nick(s, Some("Ann & <Bob>"));
        let e = n.element().unwrap();
        assert_eq!(e.get_child("nick", ns::NICK).unwrap().text(), "Ann & <Bob>");
        assert_eq!(e.get_child("body", ns::CLIENT).unwrap().text(), "hi");
        // Once only.
        let again = with_nick(n.clone(), Some("Other"));
        assert_eq!(again.bytes(), n.bytes());
    }
}
