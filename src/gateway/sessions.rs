//! Session lifecycle: a customer's first message opens a session (stored
//! before anything else), which waits in its queue until a capable agent is
//! offered it or assigned it; agents' presence changes drive new attempts.

use std::collections::HashMap;

use jid::Jid;
use tracing::{error, info, warn};

use super::actor::{bare, new_session_id, Core, Event};
use super::assign::{self, AgentView, Availability, Mode, Need};
use super::context::Needs;
use super::journal::Entry;
use super::state::Change;
use crate::config::{AssignMode, QueueDef as Queue, Text};
use crate::store::{Direction, NewMessage, SessionState};
use crate::xml::Stanza;

/// The assignment feature's reactions: an offer is told to its agent and
/// its time-out starts.
pub(super) async fn on_change(core: &mut Core, change: &Change) {
    if let Change::Offered { id, agent, seq } = change {
        core.on_offered(id, agent, *seq).await;
    }
}

impl Core {
    /// What the session's agent wrote came back from the customer's side
    /// (her server unreachable, her account gone): the agent hears of it
    /// from the session's proxy, under the message's own id, so that the
    /// agent's client marks that message failed instead of it vanishing.
    async fn reply_bounced(&self, from: &Jid, s: Stanza) {
        let customer = bare(from).to_string();
        let Some(id) = self.state.session_of(&customer) else {
            return;
        };
        let Some(agent) = self.state.session(id).and_then(|x| x.rec().agent.clone()) else {
            return;
        };
        let proxy = self.proxy_jid(id);
        self.route(s.with_addresses(Some(&proxy), Some(&agent)))
            .await;
    }

    /// A message from a customer to an entry JID.
    pub(super) async fn customer_message(&mut self, from: &Jid, entry: &str, s: Stanza) {
        if s.type_() == Some("error") {
            return self.reply_bounced(from, s).await;
        }
        if self.resends.is_resend(from, &s, self.clock.now_ms()) {
            // Stored before the crash, and now acknowledged (see `resends`).
            return tracing::info!(
                id = s.id(),
                "a message stored before the restart came again"
            );
        }
        let customer = bare(from).to_string();
        if self.is_agent(&customer) {
            // Agents test entry JIDs too; they are not customers.
            return self
                .bounce(
                    &s,
                    crate::xml::Condition::NotAcceptable,
                    Some("agents cannot open sessions with themselves"),
                )
                .await;
        }
        let body = s.body();
        let mut opened = false;
        let id = match self.state.session_of(&customer).map(str::to_string) {
            Some(id) => id,
            None if body.is_none() => return, // chat states before any chat
            // "my callback", "cancel callback": about a booking, no new chat.
            None if self
                .callback_command(&customer, entry, body.as_deref().unwrap_or(""))
                .await =>
            {
                return
            }
            None => match self.open_session(&customer, entry).await {
                Some(id) => {
                    opened = true;
                    id
                }
                None => {
                    return self
                        .bounce(&s, crate::xml::Condition::InternalServerError, None)
                        .await
                }
            },
        };
        let was_async = match self.state.session_mut(&id) {
            Some(sess) => {
                sess.customer_full = Some(from.to_string());
                sess.last_activity_ms = self.clock.now_ms();
                sess.rec().state == SessionState::Async
            }
            None => false,
        };
        if was_async && body.is_some() {
            // The customer is back and writing: a live chat if possible.
            self.go_live(&id).await;
        }
        // Durable before anything else: the journal stores the message and
        // only then relays it to the agent, if the session has one now;
        // otherwise it waits, undelivered, for the assignment.
        let relay = self.stanzas_to_agent(&id, &s);
        let watched = body
            .as_deref()
            .map(|b| self.monitor_copies(&id, &format!("[customer] {b}"), None))
            .unwrap_or_default();
        let row = body.as_ref().map(|b| NewMessage {
            session_id: id.clone(),
            direction: Direction::In,
            sender: from.to_string(),
            body: Some(b.clone()),
            stanza: String::from_utf8_lossy(s.bytes()).into_owned(),
            created_at: self.clock.now_ms(),
            // When the agent's client has it: see `journal`.
            delivered: false,
        });
        if row.is_some() || relay.is_some() {
            let mut then = relay.unwrap_or_default();
            let tracked = then.len();
            then.extend(watched);
            self.journal
                .append(Entry {
                    row,
                    then,
                    tracked,
                    writer: body.is_some().then(|| s.clone()),
                    receipt: std::mem::take(&mut self.receipt),
                })
                .await;
        }
        if let Some(b) = &body {
            self.read_mood(&id, b).await;
        }
        if opened {
            // Stored first; now find out who this is, then route.
            if let Some(sess) = self.state.session_mut(&id) {
                sess.first_text = body.clone().unwrap_or_default();
            }
            return self.start_identify(&id, from, &s).await;
        }
        if let Some(text) = body.as_deref().filter(|_| self.in_dialog(&id)) {
            // After the journal took it: the transcript keeps the
            // customer's words before the assistant's reply.
            return self.dialog_input(&id, text).await;
        }
        if let Some(text) = body.as_deref() {
            if self.callback_input(&id, text).await {
                return;
            }
        }
        let waiting = self
            .state
            .session(&id)
            .is_some_and(|x| x.rec().state == SessionState::Waiting && x.routed());
        if waiting {
            self.try_assign(&id).await;
            self.tell_position(&id).await;
        }
    }

    async fn open_session(&mut self, customer: &str, entry: &str) -> Option<String> {
        let queue = self.dir.queue_of_entry(entry)?.clone();
        let id = new_session_id();
        let now = self.clock.now_ms();
        if let Err(e) = self
            .state
            .open(id.clone(), customer, entry, &queue, now)
            .await
        {
            error!(error = %e, "storing a new session failed");
            return None;
        }
        info!(session = %id, %customer, queue = %queue.name, "session opened");
        // Before routing, so that the sticky agent is the person's.
        self.identify_person(&id, customer).await;
        Some(id)
    }

    pub(super) async fn customer_online(&mut self, from: &Jid, online: bool) {
        let customer = bare(from).to_string();
        let Some(id) = self.state.session_of(&customer).map(str::to_string) else {
            return;
        };
        let live = match self.state.session_mut(&id) {
            Some(sess) => {
                sess.customer_full = online.then(|| from.to_string());
                sess.rec().state == SessionState::Live
            }
            None => false,
        };
        if live && !online {
            // No live chat with someone who left: the agent answers when
            // they can, and the reply waits on the customer's server.
            if self.state.session(&id).is_some_and(|s| s.agent().is_some()) {
                self.set_state(&id, SessionState::Async).await;
            }
        }
        self.worklist_presence(&id).await;
    }

    /// Every agent known to the directory, as the decision sees them.
    pub(super) fn agent_views(&self) -> Vec<AgentView<'_>> {
        // One pass over the sessions, not one per agent: with thousands
        // waiting this runs at every assignment attempt.
        let mut load: HashMap<&str, (u32, u32)> = HashMap::new();
        for s in self.state.sessions() {
            let Some(agent) = s.rec().agent.as_deref() else {
                continue;
            };
            let l = load.entry(agent).or_default();
            match s.rec().state {
                SessionState::Live | SessionState::Offered => l.0 += 1,
                SessionState::Async => l.1 += 1,
                _ => {}
            }
        }
        self.dir
            .agents()
            .map(|a| {
                let rt = self.state.agent(a.jid.as_str());
                let (live, async_) = load.get(a.jid.as_str()).copied().unwrap_or_default();
                AgentView {
                    jid: a.jid.as_str(),
                    tier: a.tier,
                    skills: &a.skills,
                    protocols: &a.protocols,
                    categories: &a.categories,
                    features: self.agent_feats.get(a.jid.as_str()),
                    max_live: a.max_live,
                    max_async: a.max_async,
                    availability: rt
                        .filter(|r| !r.off_duty)
                        .and_then(|r| r.availability)
                        .unwrap_or(Availability::Off),
                    live,
                    async_,
                    idle_since_ms: rt.map_or(0, |r| r.idle_since_ms),
                }
            })
            .collect()
    }

    /// Whether any agent could take one more session, live or async: when
    /// none can, trying the waiting line is pointless.
    pub(super) fn any_room(&self) -> bool {
        self.agent_views().iter().any(|v| {
            (v.availability == Availability::Live && v.live < v.max_live)
                || (v.availability >= Availability::AsyncOnly && v.async_ < v.max_async)
        })
    }

    pub(super) fn need_for<'a>(
        &self,
        q: &'a Queue,
        needs: &'a Needs,
        mode: Mode,
        exclude: &'a [String],
        sticky: Option<&'a str>,
    ) -> Need<'a> {
        Need {
            skills: &q.skills,
            extra_skills: &needs.skills,
            tier: needs.tier.or(q.tier),
            only: q.only_agents(),
            protocol: needs.protocol.as_deref(),
            features: &needs.agent_features,
            categories: &needs.categories,
            mode,
            exclude,
            sticky,
        }
    }

    /// Offers or assigns a waiting session: live when the customer is
    /// online and a live agent has room, else async when an agent can take
    /// it that way; otherwise it keeps waiting.
    pub(super) async fn try_assign(&mut self, id: &str) {
        let Some(sess) = self.state.session(id) else {
            return;
        };
        if sess.rec().state != SessionState::Waiting || !sess.routed() {
            return;
        }
        let needs = sess.ctx().needs.clone();
        let Some(queue) = self.dir.queue(&sess.rec().queue).cloned() else {
            warn!(session = %id, queue = %sess.rec().queue, "the session's queue no longer exists");
            return;
        };
        let online = sess.customer_full.is_some();
        let lapsed = sess.lapsed.clone();
        let sticky = match &sess.sticky {
            Some(known) => known.clone(),
            None => {
                let customer = sess.rec().customer_id.clone();
                let found = self
                    .state
                    .store()
                    .last_agent_of_customer(&customer)
                    .await
                    .ok()
                    .flatten();
                if let Some(s) = self.state.session_mut(id) {
                    s.sticky = Some(found.clone());
                }
                found
            }
        };
        let mut cursor = *self.cursors.get(&queue.name).unwrap_or(&0);
        let modes: &[Mode] = if online {
            &[Mode::Live, Mode::Async]
        } else {
            &[Mode::Async]
        };
        let mut choice = None;
        for &mode in modes {
            let views = self.agent_views();
            let need = self.need_for(&queue, &needs, mode, &lapsed, sticky.as_deref());
            if let Some(i) = assign::choose(&views, &need, queue.strategy, &mut cursor) {
                choice = Some((views[i].jid.to_string(), mode));
                break;
            }
        }
        self.cursors.insert(queue.name.clone(), cursor);
        let Some((agent, mode)) = choice else {
            // Everyone let an offer lapse: start a new round with all of them.
            if !lapsed.is_empty() {
                if let Some(s) = self.state.session_mut(id) {
                    s.lapsed.clear();
                }
                Box::pin(self.try_assign(id)).await;
            }
            return;
        };
        match mode {
            Mode::Live if queue.assign == AssignMode::Offer => self.offer(id, &agent).await,
            Mode::Live => self.assign(id, &agent, SessionState::Live).await,
            Mode::Async => self.assign(id, &agent, SessionState::Async).await,
        }
    }

    async fn offer(&mut self, id: &str, agent: &str) {
        match self.state.offer(id, agent, self.clock.now_ms()).await {
            Ok(change) => self.react(change).await,
            Err(e) => error!(error = %e, session = %id, "storing an offer failed"),
        }
    }

    /// Reacting to an offer: the agent is told, and the offer's clock runs.
    async fn on_offered(&mut self, id: &str, agent: &str, seq: u64) {
        let Some(sess) = self.state.session(id) else {
            return;
        };
        let Some(queue) = self.dir.queue(&sess.rec().queue).cloned() else {
            return;
        };
        let customer = sess.rec().customer_jid.clone();
        let about = offer_about(sess.ctx());
        info!(session = %id, %agent, "offered");
        // What the customer wrote, so the agent does not accept blind.
        let wrote = self.waiting_messages(id).await;
        let mut text = format!("New chat from {customer} (queue {}{about})", queue.name);
        for m in wrote.iter().take(OFFER_LINES) {
            text.push_str("\n> ");
            text.push_str(&clip(
                m.body.as_deref().unwrap_or_default(),
                OFFER_LINE_CHARS,
            ));
        }
        if wrote.len() > OFFER_LINES {
            text.push_str(&format!("\n(and {} more)", wrote.len() - OFFER_LINES));
        }
        text.push_str(&format!(
            "\nWrite take to accept within {} s (or !take, or /take where your client sends it).",
            queue.offer_timeout.as_secs()
        ));
        self.to_agent_text(id, agent, &text).await;
        self.later(
            queue.offer_timeout,
            Event::OfferExpired {
                session: id.to_string(),
                seq,
            },
        );
    }

    pub(super) async fn offer_expired(&mut self, id: &str, seq: u64) {
        let Some(sess) = self.state.session_mut(id) else {
            return;
        };
        if sess.state() != SessionState::Offered || sess.offer_seq() != seq {
            return;
        }
        let agent = sess.agent().unwrap_or_default().to_string();
        sess.lapsed.push(agent.clone());
        info!(session = %id, %agent, "offer lapsed");
        self.to_agent_text(id, &agent, "The offer lapsed and went to someone else.")
            .await;
        self.requeue(id, false).await;
        self.try_assign(id).await;
    }

    /// Makes `agent` the session's agent; the features that react to the
    /// assignment tell the work list, the agent and the customer.
    pub(super) async fn assign(&mut self, id: &str, agent: &str, state: SessionState) {
        match self
            .state
            .assign(id, agent, state, self.clock.now_ms())
            .await
        {
            Ok(change) => {
                info!(session = %id, %agent, state = state.as_str(), "assigned");
                self.react(change).await
            }
            Err(e) => error!(error = %e, session = %id, "storing an assignment failed"),
        }
    }

    /// Back to waiting (at the front when `front`), no agent.
    pub(super) async fn requeue(&mut self, id: &str, front: bool) {
        match self.state.requeue(id, front, self.clock.now_ms()).await {
            Ok(change) => self.react(change).await,
            Err(e) => error!(error = %e, session = %id, "storing a requeue failed"),
        }
    }

    pub(super) async fn close(&mut self, id: &str, reason: &str) {
        self.close_with(id, reason, Some(Text::Closed)).await
    }

    /// Closes without the usual farewell, when the customer was already
    /// told why (a rule's polite refusal).
    pub(super) async fn close_quietly(&mut self, id: &str, reason: &str) {
        self.close_with(id, reason, None).await
    }

    async fn close_with(&mut self, id: &str, reason: &str, farewell: Option<Text>) {
        match self
            .state
            .close(id, reason, farewell, self.clock.now_ms())
            .await
        {
            Ok(Some(change)) => {
                info!(session = %id, %reason, "session closed");
                self.react(change).await
            }
            Ok(None) => {}
            Err(e) => error!(error = %e, session = %id, "storing a close failed"),
        }
    }
}

/// How many of the customer's first messages an offer shows, and how much
/// of each.
const OFFER_LINES: usize = 3;
const OFFER_LINE_CHARS: usize = 300;

/// "; xmpp, Conversations 2.12, fr": what identification found, for the
/// offer's first line.
fn offer_about(ctx: &super::context::Context) -> String {
    let i = &ctx.ident;
    let mut parts = Vec::new();
    if !i.channel.is_empty() {
        parts.push(i.channel.clone());
    }
    if let Some(c) = &i.client {
        parts.push(c.clone());
    }
    if let Some(l) = &i.lang {
        parts.push(l.clone());
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("; {}", parts.join(", "))
    }
}

/// At most `max` characters of `text`, on one line.
pub(super) fn clip(text: &str, max: usize) -> String {
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= max {
        return line;
    }
    let mut cut: String = line.chars().take(max).collect();
    cut.push('…');
    cut
}
