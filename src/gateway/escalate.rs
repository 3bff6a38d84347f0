//! Escalation to a second level: a first-level agent's `!escalate NOTE`
//! classifies the session's transcript (the customer's and agents' lines,
//! the dialog's answers and self-service path, the note) into the admin's
//! support categories, attaches the note, and moves the session out of the
//! agent's work list into the category queues, where agents who handle one
//! of the categories are offered it like any session. `!category NAME`
//! corrects the categories; the correction is recorded so that the admin
//! can export it as a new example (`switchboard categories export`).

use std::collections::BTreeSet;

use tracing::{error, info};

use super::actor::Core;
use super::context::Escalation;
use crate::classify::{Score, Side};
use crate::config::Text;
use crate::store::{Correction, Direction, SessionState};

/// The words handed to the classifier are bounded: a chat of hours would
/// otherwise cost as much to classify as it took to write, and the words
/// that name a problem come early.
const MAX_CLASSIFIED_CHARS: usize = 8000;

impl Core {
    /// `!escalate NOTE`, or `!escalate CATEGORY: NOTE` to say which.
    pub(super) async fn escalate(&mut self, agent: &str, id: &str, arg: &str) -> String {
        let cats = self.dir.categories();
        if cats.is_empty() {
            return "No support categories are configured: use !transfer QUEUE.".into();
        }
        let note = arg.trim();
        if note.is_empty() {
            return "Write !escalate and what the second level should know.".into();
        }
        let Some(sess) = self.state.session(id) else {
            return format!("No open session {id}.");
        };
        if !matches!(sess.state(), SessionState::Live | SessionState::Async) {
            return "Take the session first: only a session you hold can be escalated.".into();
        }
        let lang = sess.lang().unwrap_or("en").to_string();
        let named = note
            .split_once(':')
            .and_then(|(c, rest)| cats.get(c.trim()).map(|d| (d.name.clone(), rest.trim())));
        let (scores, note) = match named {
            Some((name, rest)) => (vec![(name, 1.0)], rest.to_string()),
            None => {
                let lines = self.classified_lines(id, note).await;
                let borrowed: Vec<(Side, &str)> =
                    lines.iter().map(|(s, t)| (*s, t.as_str())).collect();
                let picked = cats.classifier().pick(&borrowed, &lang);
                (scores_of(picked), note.to_string())
            }
        };
        if scores.is_empty() {
            return format!(
                "I could not tell the category from the transcript and your note; say which: \
                 !escalate CATEGORY: NOTE ({}).",
                self.category_names()
            );
        }
        let Some(sess) = self.state.session(id) else {
            return format!("No open session {id}.");
        };
        let escalation = Escalation {
            by: agent.to_string(),
            note: note.clone(),
            at: self.clock.now_ms(),
            categories: scores,
            corrected_by: None,
            from_queue: sess.rec().queue.clone(),
        };
        self.record(id, Direction::Note, agent, &format!("Escalation: {note}"))
            .await;
        let queue = self.move_to_categories(id, escalation).await;
        let Some(queue) = queue else {
            return "The escalation was not stored; try again.".into();
        };
        self.tell_customer(id, Text::Escalated, &[]).await;
        // The first agent's room goes to whoever waits next, as at a close.
        self.assign_waiting().await;
        self.broadcast_status().await;
        let Some(sess) = self.state.session(id) else {
            return format!("Session {id} escalated.");
        };
        let e = sess.ctx().escalation.clone().unwrap_or_default();
        let whom = match sess.agent() {
            Some(a) => format!(
                "offered to {}",
                self.dir.agent(a).map_or(a.to_string(), |d| d.name.clone())
            ),
            None if self.anyone_on_duty(&queue, &sess.ctx().needs) => {
                "it waits for the next free agent".into()
            }
            None => format!(
                "no second-level agent for {} is on duty: it waits in the queue, \
                 and the customer keeps their place",
                e.names().join(" or ")
            ),
        };
        format!(
            "Session {id} escalated to {} (queue {queue}): {whom}.",
            e.categories_line()
        )
    }

    /// `!category NAME`: the categories were wrong; the session follows
    /// the corrected one, and the correction is kept for the admin.
    pub(super) async fn correct_category(&mut self, agent: &str, id: &str, arg: &str) -> String {
        let name = arg.trim().to_ascii_lowercase();
        if name.is_empty() {
            return format!("Write !category NAME ({}).", self.category_names());
        }
        let Some(def) = self.dir.categories().get(&name).cloned() else {
            return format!("No category called {name}: use {}.", self.category_names());
        };
        let Some(sess) = self.state.session(id) else {
            return format!("No open session {id}.");
        };
        let Some(mut e) = sess.ctx().escalation.clone() else {
            return "This session was not escalated: write !escalate NOTE first.".into();
        };
        let lang = sess.lang().unwrap_or("en").to_string();
        let was: Vec<String> = e.names().into_iter().map(str::to_string).collect();
        let text = self
            .classified_lines(id, &e.note)
            .await
            .into_iter()
            .filter(|(side, _)| matches!(side, Side::Customer | Side::Note | Side::Answer))
            .map(|(_, t)| t)
            .collect::<Vec<_>>()
            .join(" ");
        let correction = Correction {
            id: 0,
            session_id: id.to_string(),
            agent: agent.to_string(),
            was,
            category: def.name.clone(),
            lang,
            // An example for the admin: a few sentences, not the whole chat.
            text: super::sessions::clip(&text, 600),
            created_at: self.clock.now_ms(),
        };
        if let Err(err) = self.state.store().correction_append(&correction).await {
            error!(error = %err, session = %id, "storing a category correction failed");
            return "The correction was not stored; try again.".into();
        }
        e.categories = vec![(def.name.clone(), 1.0)];
        e.corrected_by = Some(agent.to_string());
        let handles = self.dir.agent(agent).is_some_and(|a| {
            a.categories.contains(&def.name)
                && def.skill.as_ref().is_none_or(|s| a.skills.contains(s))
        });
        if handles {
            // The agent keeps it: only what it is changes.
            let Some(sess) = self.state.session(id) else {
                return format!("No open session {id}.");
            };
            let mut ctx = sess.ctx().clone();
            ctx.needs.categories = BTreeSet::from([def.name.clone()]);
            ctx.escalation = Some(e);
            let (queue, priority) = (sess.rec().queue.clone(), sess.rec().priority);
            if let Err(err) = self.state.route(id, ctx, &queue, priority).await {
                error!(error = %err, session = %id, "storing a category correction failed");
                return "The correction was not stored; try again.".into();
            }
            self.log_event(id, agent, &format!("category corrected to {name}"))
                .await;
            self.worklist_add(id).await;
            return format!("Category set to {name}; the session stays with you.");
        }
        if self.move_to_categories(id, e).await.is_none() {
            return "The correction was not stored; try again.".into();
        }
        self.log_event(id, agent, &format!("category corrected to {name}"))
            .await;
        self.assign_waiting().await;
        format!("Category set to {name}; the session goes to the agents of {name}.")
    }

    /// Stores the escalation, moves the session into the first category's
    /// queue (the one it is in, if that category names none) with the
    /// categories as a requirement, and takes it from its agent; the
    /// queue, or None if the store refused.
    async fn move_to_categories(&mut self, id: &str, e: Escalation) -> Option<String> {
        let sess = self.state.session(id)?;
        let cats = self.dir.categories();
        let first = cats.get(&e.categories.first()?.0)?;
        let queue = first
            .queue
            .clone()
            .unwrap_or_else(|| sess.rec().queue.clone());
        let mut ctx = sess.ctx().clone();
        let tiered = self.dir.queue(&queue).is_some_and(|q| q.tier.is_some());
        ctx.needs.tier = (!tiered).then_some(2);
        ctx.needs.categories = e.names().into_iter().map(str::to_string).collect();
        if let Some(skill) = &first.skill {
            ctx.needs.skills.insert(skill.clone());
        }
        let line = format!(
            "escalated by {} to {} (queue {queue})",
            e.by,
            e.categories_line()
        );
        ctx.escalation = Some(e);
        let priority = sess.rec().priority;
        let holder = sess.agent().map(str::to_string);
        if let Err(err) = self.state.route(id, ctx, &queue, priority).await {
            error!(error = %err, session = %id, "storing an escalation failed");
            return None;
        }
        if let (Some(h), Some(s)) = (&holder, self.state.session_mut(id)) {
            // Not back to whoever escalated it, whatever sticky routing says.
            s.lapsed.push(h.clone());
        }
        let by = holder.clone().unwrap_or_default();
        self.log_event(id, &by, &line).await;
        info!(session = %id, %queue, "session escalated");
        if holder.is_some() {
            self.requeue(id, true).await;
        }
        Some(queue)
    }

    /// The transcript as the classifier reads it, with `note` last.
    async fn classified_lines(&self, id: &str, note: &str) -> Vec<(Side, String)> {
        self.journal.flush().await;
        let mut lines = Vec::new();
        if let Some(sess) = self.state.session(id) {
            for v in sess.ctx().ident.answers.values() {
                lines.push((Side::Answer, v.clone()));
            }
            if let Some(p) = &sess.ctx().dialog {
                for step in p.path.iter().filter(|s| !s.said.is_empty()) {
                    lines.push((Side::Customer, step.said.clone()));
                }
            }
        }
        if let Ok(entries) = self.state.store().transcript(id).await {
            for m in entries {
                let side = match m.direction {
                    Direction::In => Side::Customer,
                    Direction::Out => Side::Agent,
                    Direction::Note => Side::Note,
                    _ => continue,
                };
                if let Some(b) = m.body {
                    lines.push((side, b));
                }
            }
        }
        lines.push((Side::Note, note.to_string()));
        let mut total = 0;
        lines.retain(|(_, t)| {
            total += t.len();
            total <= MAX_CLASSIFIED_CHARS
        });
        lines
    }

    fn category_names(&self) -> String {
        self.dir
            .categories()
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Something that happened to the session, in its transcript.
    pub(super) async fn log_event(&self, id: &str, who: &str, what: &str) {
        self.record(id, Direction::Event, who, what).await;
    }

    /// A line in session `id`'s transcript, after what the journal holds.
    pub(super) async fn record(&self, id: &str, direction: Direction, who: &str, text: &str) {
        self.journal.flush().await;
        let now = self.clock.now_ms();
        let stored = self
            .state
            .store()
            .message_append(id, direction, who, Some(text), "", now, true)
            .await;
        if let Err(e) = stored {
            error!(error = %e, session = %id, "storing a transcript line failed");
        }
    }
}

fn scores_of(picked: Vec<Score>) -> Vec<(String, f64)> {
    picked
        .into_iter()
        .map(|s| (s.category, (s.score * 100.0).round() / 100.0))
        .collect()
}
