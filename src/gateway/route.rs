//! Routing a session once its customer is identified: the enterprise
//! rules of routing.toml decide queue, skills, priority, the protocol the
//! agent must serve, a message to the customer, or a polite refusal; a
//! rule's fallback applies when nobody who could serve the session is on
//! duty.

use std::collections::BTreeSet;

use tracing::{error, info};

use super::actor::Core;
use super::assign::{self, Availability, Mode};
use super::context::{Ident, Needs};
use crate::config::{AgentProtocol, Facts};

/// What the rules made of a session.
#[derive(Debug, Default)]
pub(super) struct Decision {
    pub rule: Option<String>,
    pub queue: Option<String>,
    pub skills: BTreeSet<String>,
    pub priority: Option<i64>,
    /// None: the customer's channel; Some(None): any; Some(Some(p)): p.
    pub protocol: Option<Option<String>>,
    pub agent_features: BTreeSet<String>,
    pub message: Option<String>,
    pub reject: Option<String>,
    pub fallback: Option<String>,
    pub language: Option<String>,
    /// The rule reads the customer's mood (tried again as it changes).
    pub mood: bool,
    /// Tell the supervisors on duty.
    pub alert: bool,
    /// Offer the customer a callback.
    pub offer_callback: bool,
}

impl Core {
    /// Identification is done (or timed out): apply the rules and let the
    /// session compete for an agent.
    pub(super) async fn route_session(&mut self, id: &str) {
        let Some(sess) = self.state.session(id) else {
            return;
        };
        if sess.routed() {
            return;
        }
        let full = sess
            .customer_full
            .clone()
            .unwrap_or_else(|| sess.rec().customer_jid.clone());
        let mut ident = self.compose_ident(&full);
        ident.lang = sess.lang.clone();
        ident.name = sess.nick.clone();
        ident.answers = sess.ctx().ident.answers.clone();
        let entry = sess.rec().entry_jid.clone();
        let text = sess.first_text.clone();
        let dialog_begun = sess.ctx().dialog.is_some();
        if sess.ctx().dialog.as_ref().is_some_and(|d| !d.done()) {
            // The dialog routes the session when it ends.
            return;
        }
        let frustration = f64::from(sess.mood.frustration);
        let d = self.decide(&entry, &ident, &text, frustration);
        let entry_queue = self.dir.queue_of_entry(&entry).map(|q| q.name.clone());
        if !dialog_begun && d.reject.is_none() {
            // The dialog is chosen by what routing would decide without
            // answers; its answers may then change that decision.
            let queue = d.queue.clone().or(entry_queue.clone()).unwrap_or_default();
            if self
                .start_dialog(id, &entry, &queue, d.rule.as_deref(), &ident)
                .await
            {
                return;
            }
        }
        let mut needs = Needs {
            rule: d.rule.clone(),
            skills: d.skills.clone(),
            protocol: match &d.protocol {
                None => Some(ident.channel.clone()),
                Some(p) => p.clone(),
            },
            agent_features: d.agent_features.clone(),
            fallback: false,
            language: d.language.clone(),
            ..Needs::default()
        };
        let mut queue = d.queue.clone().or(entry_queue).unwrap_or_default();
        if let Some(fb) = &d.fallback {
            if !self.anyone_on_duty(&queue, &needs) {
                info!(session = %id, from = %queue, to = %fb, "nobody able to serve the session is on duty: fallback queue");
                queue = fb.clone();
                needs.protocol = None;
                needs.agent_features.clear();
                needs.fallback = true;
            }
        }
        let priority = d
            .priority
            .or_else(|| self.dir.queue(&queue).map(|q| i64::from(q.priority)))
            .unwrap_or(0);
        let Some(sess) = self.state.session(id) else {
            return;
        };
        let mut ctx = sess.ctx().clone();
        ctx.ident = ident;
        ctx.needs = needs;
        info!(
            session = %id,
            channel = %ctx.ident.channel,
            client = ctx.ident.client.as_deref().unwrap_or("?"),
            rule = ctx.needs.rule.as_deref().unwrap_or("-"),
            %queue,
            "session routed"
        );
        if let Err(e) = self.state.route(id, ctx, &queue, priority).await {
            // Unrouted, it waits for the next sweep to try again.
            return error!(error = %e, session = %id, "storing the routing of a session failed");
        }
        if let Some(text) = &d.reject {
            self.to_customer_text(id, text).await;
            return self.close_quietly(id, "rejected").await;
        }
        if let Some(text) = &d.message {
            self.to_customer_text(id, text).await;
        }
        self.mood_decided(id, &d).await;
        // A rule on the mood behind the one that routed may hold already.
        self.retry_mood_rules(id).await;
        self.try_assign(id).await;
        self.tell_position(id).await;
        if d.offer_callback {
            self.offer_callback_by_rule(id).await;
        }
        self.broadcast_status().await;
    }

    /// Sessions whose routing could not be stored, tried again (with the
    /// idle sweep).
    pub(super) async fn route_stalled(&mut self) {
        let stalled = self
            .state
            .ids_where(|s| !s.routed() && s.pending.is_empty());
        for id in stalled {
            self.route_session(&id).await;
        }
    }

    /// Whether some agent able to serve `queue` with `needs` is on duty
    /// now, busy or not: the test for a rule's fallback.
    pub(super) fn anyone_on_duty(&self, queue: &str, needs: &Needs) -> bool {
        let Some(q) = self.dir.queue(queue) else {
            return false;
        };
        // The mode does not matter: room is not looked at.
        let need = self.need_for(q, needs, Mode::Async, &[], None);
        self.agent_views()
            .iter()
            .any(|v| v.availability != Availability::Off && assign::capable_ignoring_room(v, &need))
    }

    /// The rules' verdict on a customer: the first rule that matches.
    pub(super) fn decide(
        &self,
        entry: &str,
        ident: &Ident,
        text: &str,
        frustration: f64,
    ) -> Decision {
        let none = BTreeSet::new();
        let facts = self.facts(entry, ident, text, frustration, &none);
        match self.dir.routing().first_match(&facts) {
            Some(rule) => decision(rule),
            None => Decision::default(),
        }
    }

    /// The first rule on the mood that holds, whatever rule routed the
    /// session: the mood changes after routing, and the rules on it are
    /// tried again on their own.
    pub(super) fn decide_on_mood(
        &self,
        entry: &str,
        ident: &Ident,
        text: &str,
        frustration: f64,
    ) -> Option<Decision> {
        let none = BTreeSet::new();
        let facts = self.facts(entry, ident, text, frustration, &none);
        let calendars = self.dir.routing().calendars();
        self.dir
            .routing()
            .rules()
            .iter()
            .find(|r| r.tests_mood() && r.matches(&facts, calendars))
            .map(decision)
    }

    fn facts<'a>(
        &self,
        entry: &'a str,
        ident: &'a Ident,
        text: &'a str,
        frustration: f64,
        none: &'a BTreeSet<String>,
    ) -> Facts<'a> {
        Facts {
            entry,
            channel: &ident.channel,
            client: ident.client.as_deref(),
            features: ident.features.as_ref().unwrap_or(none),
            domain: &ident.domain,
            text,
            answers: &ident.answers,
            lang: ident.lang.as_deref(),
            frustration,
            now: self.clock.timestamp(),
        }
    }

    /// The admin's `[protocols]` entry for a domain: (protocol, max length).
    pub(super) fn protocol_override(&self, domain: &str) -> Option<(String, Option<u32>)> {
        self.dir
            .routing()
            .protocol_override(domain)
            .map(|o| (o.protocol.clone(), o.max_length))
    }
}

/// What a matching rule makes of a session.
fn decision(rule: &crate::config::RuleDef) -> Decision {
    let a = &rule.actions;
    Decision {
        rule: Some(rule.name.clone()),
        queue: a.queue.clone(),
        skills: a.skills.clone(),
        priority: a.priority.map(i64::from),
        protocol: match &a.agent_protocol {
            AgentProtocol::Channel => None,
            AgentProtocol::Any => Some(None),
            AgentProtocol::Named(p) => Some(Some(p.clone())),
        },
        agent_features: a.agent_features.clone(),
        message: a.message.clone(),
        reject: a.reject.clone(),
        fallback: a.fallback.clone(),
        language: a.language.clone(),
        mood: rule.tests_mood(),
        alert: a.alert,
        offer_callback: a.offer_callback,
    }
}
