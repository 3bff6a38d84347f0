//! The booking conversation: the offer, then the customer's words read
//! for a zone, an agent and a time, checked, and either booked and
//! confirmed or answered with the reason and the nearest free times as a
//! numbered menu; and, once booked, "my callback", "cancel callback" and
//! "move callback to …" written to the entry JID.

use tracing::{error, info};

use super::slots::{Ask, Refusal, Slot, Verdict};
use super::who::FILLER;
use super::{when_text, Flow, Who};
use crate::config::Text;
use crate::gateway::actor::Core;
use crate::store::{Callback, CallbackState, SessionState};

/// Words that ask for a callback.
const ASK: &[&str] = &[
    "callback",
    "call back",
    "call me back",
    "rappel",
    "rappelez-moi",
    "rappeler",
];

pub(super) fn fold(text: &str) -> String {
    crate::text::fold(text, "en")
}

/// Whether `text` asks for a callback (its first words).
pub(in crate::gateway) fn is_request(text: &str) -> bool {
    // "callback, tomorrow" and "callback!" ask as "callback tomorrow" does.
    let t: String = fold(text.trim())
        .chars()
        .map(|c| {
            if matches!(c, ',' | '.' | '!' | '?' | ':' | ';') {
                ' '
            } else {
                c
            }
        })
        .collect();
    let t = t.split_whitespace().collect::<Vec<_>>().join(" ");
    ASK.iter()
        .any(|a| t == *a || t.starts_with(&format!("{a} ")))
}

fn is_keep_waiting(t: &str) -> bool {
    matches!(
        t,
        "keep waiting" | "wait" | "no" | "non" | "attendre" | "j'attends" | "je patiente"
    )
}

impl Core {
    /// Offers a waiting session a callback, once: `minutes` is the wait
    /// announced, None when nobody can answer now.
    pub(in crate::gateway) async fn offer_callback(&mut self, id: &str, minutes: Option<u64>) {
        let cfg = self.callbacks_cfg();
        if !cfg.enabled || self.callbacks.offered.contains(id) {
            return;
        }
        let (wanted, text) = match minutes {
            Some(m) => (
                cfg.offer_wait_above.is_some_and(|w| m * 60 > w.as_secs()),
                Text::CallbackOffer,
            ),
            None => (cfg.offer_when_closed, Text::CallbackOfferClosed),
        };
        let waiting = self
            .state
            .session(id)
            .is_some_and(|s| s.state() == SessionState::Waiting);
        if !wanted || !waiting {
            return;
        }
        self.callbacks.offered.insert(id.to_string());
        let m = minutes.unwrap_or(0).to_string();
        self.tell_customer(id, text, &[("minutes", &m)]).await;
    }

    /// A rule's `offer_callback`: whatever the wait.
    pub(in crate::gateway) async fn offer_callback_by_rule(&mut self, id: &str) {
        if !self.callbacks_cfg().enabled || self.callbacks.offered.contains(id) {
            return;
        }
        self.callbacks.offered.insert(id.to_string());
        self.tell_customer(id, Text::CallbackOfferClosed, &[]).await;
    }

    /// A waiting customer's message: true if the booking took it.
    pub(in crate::gateway) async fn callback_input(&mut self, id: &str, text: &str) -> bool {
        let Some(sess) = self.state.session(id) else {
            return false;
        };
        let customer = sess.rec().customer_jid.clone();
        let in_flow = self
            .callbacks
            .flows
            .get(&customer)
            .is_some_and(|f| f.session.as_deref() == Some(id));
        if !in_flow {
            if !self.callbacks_cfg().enabled
                || !is_request(text)
                || sess.state() != SessionState::Waiting
            {
                return false;
            }
            let lang = sess.lang().map(str::to_string);
            let flow = Flow {
                session: Some(id.to_string()),
                customer_id: Some(sess.rec().customer_id.clone()),
                entry: sess.rec().entry_jid.clone(),
                queue: sess.rec().queue.clone(),
                zone: self.callbacks_cfg().zone_for(lang.as_deref()).clone(),
                lang,
                who: Who::Anyone,
                menu: Vec::new(),
                moving: None,
            };
            self.callbacks.flows.insert(customer.clone(), flow);
        }
        self.flow_step(&customer, text).await;
        true
    }

    /// One message of the booking conversation.
    pub(super) async fn flow_step(&mut self, customer: &str, text: &str) {
        let Some(flow) = self.callbacks.flows.get(customer) else {
            return;
        };
        let (lang, folded) = (flow.lang.clone(), fold(text.trim()));
        if is_keep_waiting(&folded) && flow.session.is_some() {
            self.say_flow_text(customer, Text::CallbackKeepWaiting, &[])
                .await;
            self.callbacks.flows.remove(customer);
            return;
        }
        if let Ok(n) = folded.parse::<usize>() {
            if let Some(slot) = n.checked_sub(1).and_then(|i| flow.menu.get(i)).cloned() {
                return self.book(customer, slot).await;
            }
        }
        let mut rest = text.to_string();
        if let Some((tz, name, after)) = crate::when::zone_in(&rest) {
            if let Some(f) = self.callbacks.flows.get_mut(customer) {
                f.zone = (name.clone(), tz);
            }
            self.say_flow_text(customer, Text::CallbackZone, &[("zone", &name)])
                .await;
            rest = after;
        }
        let Some(flow) = self.callbacks.flows.get(customer) else {
            return;
        };
        let now = self.clock.timestamp().to_zoned(flow.zone.1.clone());
        let found = crate::when::find(&rest, &now);
        let words = found.as_ref().map_or(rest.clone(), |f| f.rest.clone());
        let who = self.who_in(customer, &words).await;
        let named = matches!(who, Ok(Some(_)));
        match who {
            Err(unknown) => {
                let agents = self.capable_names(customer);
                return self
                    .say_flow_text(
                        customer,
                        Text::CallbackUnknownAgent,
                        &[("name", &unknown), ("agents", &agents)],
                    )
                    .await;
            }
            Ok(Some(who)) => {
                if let Some(f) = self.callbacks.flows.get_mut(customer) {
                    f.who = who;
                }
            }
            Ok(None) => {}
        }
        let Some(found) = found else {
            let examples = crate::when::examples(lang.as_deref().unwrap_or("en")).join(", ");
            // "callback" alone, or a name alone: asked when; anything else
            // was meant as a time that could not be read.
            let meaningful = words
                .split_whitespace()
                .map(|w| fold(w.trim_matches(|c: char| !c.is_alphanumeric())))
                .filter(|w| !w.is_empty() && !FILLER.contains(&w.as_str()))
                .count();
            let asked_only = named || (is_request(text) && meaningful == 0);
            if asked_only
                && self
                    .callbacks
                    .flows
                    .get(customer)
                    .is_some_and(|f| f.menu.is_empty())
            {
                let zone = self.flow_zone(customer);
                let agents = self.capable_names(customer);
                return self
                    .say_flow_text(
                        customer,
                        Text::CallbackAsk,
                        &[
                            ("zone", &zone),
                            ("examples", &examples),
                            ("agents", &agents),
                        ],
                    )
                    .await;
            }
            return self
                .say_flow_text(
                    customer,
                    Text::CallbackUnreadable,
                    &[("examples", &examples)],
                )
                .await;
        };
        self.try_time(customer, found.at.timestamp().as_millisecond())
            .await;
    }

    /// Checks the asked time; books it, or says why not with the nearest
    /// free times.
    async fn try_time(&mut self, customer: &str, at_ms: i64) {
        let Some(flow) = self.callbacks.flows.get(customer) else {
            return;
        };
        let channel = self.flow_channel(flow);
        let ask_agent = flow.who.jid().map(str::to_string);
        let (queue, moving) = (flow.queue.clone(), flow.moving.clone());
        let ask = Ask {
            at_ms,
            agent: ask_agent.as_deref(),
        };
        let Some((verdict, alternatives)) =
            self.with_book(&queue, &channel, moving.as_deref(), |b| {
                (b.check(&ask), b.alternatives(&ask))
            })
        else {
            return;
        };
        let reason = match verdict {
            Verdict::Free(slot) => return self.book(customer, slot).await,
            Verdict::Refused(r) => r,
        };
        let (zone, lang) = (flow.zone.0.clone(), flow.lang.clone());
        let when = when_text(at_ms, &zone, lang.as_deref());
        let name = ask_agent
            .as_deref()
            .map(|a| self.agent_name(a))
            .unwrap_or_default();
        let days = (self.callbacks_cfg().horizon.as_secs() / 86_400).to_string();
        let (text, args): (Text, Vec<(&str, &str)>) = match reason {
            Refusal::Past => (Text::CallbackPast, vec![("when", &when)]),
            Refusal::Beyond => (Text::CallbackBeyond, vec![("when", &when), ("days", &days)]),
            Refusal::OffHours => (
                Text::CallbackOffHours,
                vec![("name", &name), ("when", &when)],
            ),
            Refusal::Full => (Text::CallbackFull, vec![("name", &name), ("when", &when)]),
            Refusal::Nobody => (Text::CallbackNobody, vec![("when", &when)]),
        };
        let line = self.dir.texts().render(lang.as_deref(), text, &args);
        self.send_menu(customer, line, alternatives).await;
    }

    /// `line`, then `alternatives` as the numbered menu the customer
    /// answers with a number.
    async fn send_menu(&mut self, customer: &str, mut line: String, alternatives: Vec<Slot>) {
        let Some(flow) = self.callbacks.flows.get(customer) else {
            return;
        };
        let (zone, lang) = (flow.zone.0.clone(), flow.lang.clone());
        let menu: Vec<String> = alternatives
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let when = when_text(s.at_ms, &zone, lang.as_deref());
                format!("{}. {when} — {}", i + 1, self.agent_name(&s.agent))
            })
            .collect();
        if !menu.is_empty() {
            if !line.is_empty() {
                line.push(' ');
            }
            let choose = Text::CallbackChoose;
            line.push_str(&self.dir.texts().render(
                lang.as_deref(),
                choose,
                &[("menu", &menu.join("\n"))],
            ));
        }
        if let Some(f) = self.callbacks.flows.get_mut(customer) {
            f.menu = alternatives;
        }
        self.say_flow(customer, &line).await;
    }

    /// The nearest free times from `at_ms`, with anyone capable but the
    /// booked agent, as a menu.
    pub(super) async fn offer_times_from(
        &mut self,
        customer: &str,
        at_ms: i64,
        not: &str,
        line: String,
    ) {
        let Some(flow) = self.callbacks.flows.get(customer) else {
            return;
        };
        let (queue, moving) = (flow.queue.clone(), flow.moving.clone());
        let channel = self.channel_of(customer);
        let slots = self
            .with_book(&queue, &channel, moving.as_deref(), |b| {
                b.nearest(at_ms, None, 8)
            })
            .unwrap_or_default();
        let slots: Vec<Slot> = slots
            .into_iter()
            .filter(|s| s.agent != not)
            .take(3)
            .collect();
        self.send_menu(customer, line, slots).await;
    }

    /// Stores the booking (or the move), then confirms it.
    async fn book(&mut self, customer: &str, slot: Slot) {
        let Some(flow) = self.callbacks.flows.remove(customer) else {
            return;
        };
        let now = self.clock.now_ms();
        // The agent named stays named; one chosen for the customer is theirs
        // only if it is the one they asked for.
        let how = match &flow.who {
            Who::Named(j) | Who::Same(j) if *j != slot.agent => crate::store::Chosen::Anyone,
            w => w.chosen(),
        };
        let stored = match &flow.moving {
            Some(id) => {
                let Some(b) = self.callbacks.open.get(id) else {
                    return;
                };
                let mut cb = b.cb.clone();
                (cb.agent, cb.due_at, cb.how, cb.timezone) =
                    (slot.agent.clone(), slot.at_ms, how, flow.zone.0.clone());
                cb.state = CallbackState::Booked;
                cb.updated_at = now;
                self.state.store().callback_update(&cb).await.map(|_| cb)
            }
            None => {
                let cb = Callback {
                    id: format!("cb-{}", crate::util::random_id(7).to_ascii_lowercase()),
                    customer_jid: customer.to_string(),
                    entry_jid: flow.entry.clone(),
                    queue: flow.queue.clone(),
                    agent: slot.agent.clone(),
                    how,
                    due_at: slot.at_ms,
                    timezone: flow.zone.0.clone(),
                    lang: flow.lang.clone(),
                    from_session: flow.session.clone(),
                    session_id: None,
                    state: CallbackState::Booked,
                    created_at: now,
                    updated_at: now,
                };
                self.state.store().callback_create(&cb).await.map(|_| cb)
            }
        };
        let cb = match stored {
            Ok(cb) => cb,
            Err(e) => {
                error!(error = %e, %customer, "storing a callback failed");
                // Nothing was booked: the customer may try again.
                self.callbacks.flows.insert(customer.to_string(), flow);
                return self
                    .say_flow_text(customer, Text::CallbackNotStored, &[])
                    .await;
            }
        };
        info!(callback = %cb.id, %customer, agent = %cb.agent, due = cb.due_at, "callback booked");
        let when = when_text(cb.due_at, &cb.timezone, cb.lang.as_deref());
        let name = self.agent_name(&cb.agent);
        let line = self.dir.texts().render(
            cb.lang.as_deref(),
            Text::CallbackBooked,
            &[("name", &name), ("when", &when)],
        );
        if let Some(id) = &flow.session {
            self.log_event(
                id,
                "",
                &format!("callback {} booked with {name} for {when}", cb.id),
            )
            .await;
            self.to_customer_text(id, &line).await;
            // Written to later instead of waiting now.
            self.close_quietly(id, "callback booked").await;
        } else {
            self.to_jid(&cb.entry_jid, customer, &line).await;
        }
        self.keep_booking(cb, None);
    }

    /// The zone the customer's booking conversation reads times in.
    pub(super) fn flow_zone(&self, customer: &str) -> String {
        self.callbacks
            .flows
            .get(customer)
            .map(|f| f.zone.0.clone())
            .unwrap_or_default()
    }

    pub(super) async fn say_flow_text(&self, customer: &str, text: Text, args: &[(&str, &str)]) {
        let lang = self
            .callbacks
            .flows
            .get(customer)
            .and_then(|f| f.lang.clone());
        let line = self.dir.texts().render(lang.as_deref(), text, args);
        self.say_flow(customer, &line).await;
    }

    /// A line of the booking conversation: in the session's transcript
    /// when there is one.
    async fn say_flow(&self, customer: &str, line: &str) {
        let Some(flow) = self.callbacks.flows.get(customer) else {
            return;
        };
        match &flow.session {
            Some(id) => self.to_customer_text(id, line).await,
            None => self.to_jid(&flow.entry, customer, line).await,
        }
    }
}
