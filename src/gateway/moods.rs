//! The customer's mood in the gateway: each message the customer writes
//! is read for frustration (see [`crate::mood`]), counting the time they
//! waited for a person, and the routing rules that test the mood
//! (`frustration_above`) are tried again as it changes: a waiting customer
//! who grows angry may get a higher priority, and the supervisors on duty
//! an alert. Each such rule applies once per session, so that every
//! further angry line does not alert again.

use tracing::{error, info};

use super::actor::Core;
use super::route::Decision;
use crate::store::SessionState;

impl Core {
    /// A customer's message, read for its mood once stored.
    pub(super) async fn read_mood(&mut self, id: &str, text: &str) {
        let now = self.clock.now_ms();
        let Some(sess) = self.state.session_mut(id) else {
            return;
        };
        let waited = ((now - sess.last_reply_ms).max(0) / 1000) as u64;
        let lang = sess.lang().map(str::to_string);
        sess.mood.add(text, lang.as_deref(), waited);
        sess.last_said = text.to_string();
        self.retry_mood_rules(id).await;
    }

    /// The rules on the mood again, with the mood as it is now: one that
    /// did not hold before may hold now.
    pub(super) async fn retry_mood_rules(&mut self, id: &str) {
        let Some(sess) = self.state.session(id) else {
            return;
        };
        if !sess.routed() || !self.dir.routing().rules().iter().any(|r| r.tests_mood()) {
            // Routing reads the mood itself when it comes.
            return;
        }
        let (entry, ident, text) = (
            sess.rec().entry_jid.clone(),
            sess.ctx().ident.clone(),
            sess.first_text.clone(),
        );
        let frustration = f64::from(sess.mood.frustration);
        if let Some(d) = self.decide_on_mood(&entry, &ident, &text, frustration) {
            self.mood_decided(id, &d).await;
        }
    }

    /// What a rule on the mood does once per session: a higher priority
    /// while the customer waits, and an alert.
    pub(super) async fn mood_decided(&mut self, id: &str, d: &Decision) {
        let Some(rule) = d.rule.clone().filter(|_| d.mood) else {
            return;
        };
        let Some(sess) = self.state.session_mut(id) else {
            return;
        };
        if sess.mood_rules.contains(&rule) {
            return;
        }
        sess.mood_rules.push(rule.clone());
        let mood = super::overview::mood_line(&sess.mood);
        let raise = d
            .priority
            .filter(|p| *p > sess.rec().priority && sess.state() == SessionState::Waiting);
        if let Some(p) = raise {
            let (ctx, queue) = (sess.ctx().clone(), sess.rec().queue.clone());
            if let Err(e) = self.state.route(id, ctx, &queue, p).await {
                return error!(error = %e, session = %id, "storing a priority failed");
            }
            info!(session = %id, %rule, priority = p, "the customer's mood raised the priority");
            self.log_event(id, "", &format!("priority {p} by rule {rule} ({mood})"))
                .await;
            self.assign_waiting().await;
        }
        if d.alert {
            self.alert_supervisors(id, &rule, &mood).await;
        }
    }

    /// Tells every supervisor who is online about session `id`.
    async fn alert_supervisors(&mut self, id: &str, rule: &str, mood: &str) {
        let Some(sess) = self.state.session(id) else {
            return;
        };
        let said = super::sessions::clip(&sess.last_said, 120);
        let line = format!(
            "Alert (rule {rule}): {} in {id}, queue {}, {} — {mood}: “{said}”. Write monitor {id} to watch.",
            sess.rec().customer_jid,
            sess.rec().queue,
            sess.state().as_str(),
        );
        let supervisors: Vec<String> = self
            .dir
            .agents()
            .filter(|a| a.supervisor && a.enabled)
            .map(|a| a.jid.to_string())
            .filter(|j| self.state.agent(j).is_some_and(|r| r.online))
            .collect();
        for s in &supervisors {
            let m = super::bridge::chat(&self.support, s, &line);
            self.route(m).await;
        }
        let who = if supervisors.is_empty() {
            "no supervisor online".to_string()
        } else {
            supervisors.join(", ")
        };
        self.log_event(id, "", &format!("alert by rule {rule} ({mood}) to {who}"))
            .await;
    }
}
