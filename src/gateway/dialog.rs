//! The dialog before routing: once a session is identified, the first
//! `[[dialog]]` of dialogs.toml that selects it (by entry, by the queue and
//! rule routing would pick without answers) asks its questions in order,
//! then hands the session to self-service (`selfservice.rs`) if it says
//! so, and finally lets routing go on with the answers, which rules test.
//!
//! Progress is part of the session's stored context, written before each
//! question goes out, so a restart asks the current question again.
//! What the customer writes meanwhile is in the transcript like any other
//! message (the bridge stored it before this runs). Nobody is stuck: an
//! answer refused `attempts` times gives the question up, and a question
//! left unanswered for `answer_timeout_secs` lets routing go on.

use std::collections::BTreeMap;

use tracing::{error, info};

use super::actor::{Core, Event};
use super::context::{Context, Ident, Progress, Step};
use crate::config::{DialogDef, QuestionDef, Refusal, Text};

impl Core {
    /// Starts the dialog for a session about to be routed, if one selects
    /// it; false when there is none and routing should go on.
    pub(super) async fn start_dialog(
        &mut self,
        id: &str,
        entry: &str,
        queue: &str,
        rule: Option<&str>,
        ident: &Ident,
    ) -> bool {
        let Some(def) = self.dir.dialogs().dialog_for(entry, queue, rule).cloned() else {
            return false;
        };
        let Some(sess) = self.state.session(id) else {
            return false;
        };
        let mut ctx = sess.ctx().clone();
        // Kept with the dialog, so that `/info` shows who this is
        // meanwhile; routing composes it afresh when the dialog ends.
        ctx.ident = ident.clone();
        let remembered = self.remembered_answers(id, &def).await;
        for (k, v) in remembered {
            ctx.ident.answers.entry(k).or_insert(v);
        }
        let mut progress = Progress {
            name: def.name.clone(),
            ..Progress::default()
        };
        let known: Vec<&String> = def
            .questions
            .iter()
            .filter(|q| ctx.ident.answers.contains_key(*q))
            .collect();
        if !known.is_empty() {
            let names: Vec<&str> = known.iter().map(|s| s.as_str()).collect();
            progress.record(
                self.clock.now_ms(),
                "",
                format!("known from before: {}", names.join(", ")),
            );
        }
        progress.step = next_step(&def, &ctx.ident.answers, 0);
        info!(session = %id, dialog = %def.name, "dialog started");
        ctx.dialog = Some(progress);
        if let Err(e) = self.state.set_context(id, ctx).await {
            // Without the dialog stored, routing goes on as if there were
            // none: the customer reaches an agent all the same.
            error!(error = %e, session = %id, "storing the start of a dialog failed");
            return false;
        }
        if let Some(g) = &def.greeting {
            let text = self.in_lang(id, g);
            self.to_customer_text(id, &text).await;
        }
        self.enter_step(id, &def).await;
        true
    }

    /// What the current step says first: the question, or the assistant's
    /// greeting; or the end, which routes.
    async fn enter_step(&mut self, id: &str, def: &DialogDef) {
        let Some(step) = self.progress(id).map(|p| p.step.clone()) else {
            return;
        };
        match step {
            Step::Asking(i) => {
                if let Some(q) = def
                    .questions
                    .get(i)
                    .and_then(|n| self.dir.dialogs().question(n))
                    .cloned()
                {
                    self.ask_question(id, &q, None).await;
                }
            }
            Step::SelfService => self.start_self_service(id).await,
            Step::Invited => {}
            // Boxed: routing may start a dialog, which may end in routing.
            Step::Done => Box::pin(self.route_session(id)).await,
        }
    }

    /// Asks `q`, after `before` (why the last answer was refused), and
    /// starts its time-out.
    async fn ask_question(&mut self, id: &str, q: &QuestionDef, before: Option<String>) {
        let lang = self
            .state
            .session(id)
            .and_then(|s| s.lang().map(str::to_string));
        let default = self.dir.texts().default_language().to_string();
        let mut text = q.prompt(lang.as_deref(), &default);
        if q.optional {
            text.push(' ');
            text.push_str(
                &self
                    .dir
                    .texts()
                    .render(lang.as_deref(), Text::SkipHint, &[]),
            );
        }
        if let Some(b) = before {
            text = format!("{b}\n{text}");
        }
        self.to_customer_text(id, &text).await;
        let seq = match self.state.session_mut(id) {
            Some(s) => {
                s.dialog_seq += 1;
                s.dialog_seq
            }
            None => return,
        };
        let after = self.dir.dialogs().answer_timeout;
        self.later(
            after,
            Event::DialogTimeout {
                session: id.to_string(),
                seq,
            },
        );
    }

    /// A message from a customer whose session is in its dialog.
    pub(super) async fn dialog_input(&mut self, id: &str, text: &str) {
        let Some(progress) = self.progress(id).cloned() else {
            return;
        };
        let Some(def) = self.dir.dialogs().dialog(&progress.name).cloned() else {
            // The dialog is gone from a reloaded dialogs.toml: route now.
            return self
                .end_dialog(id, "the dialog is no longer configured")
                .await;
        };
        match progress.step {
            Step::Asking(i) => self.answer(id, &def, i, text).await,
            Step::SelfService | Step::Invited => self.self_service_input(id, text).await,
            Step::Done => {}
        }
    }

    async fn answer(&mut self, id: &str, def: &DialogDef, index: usize, text: &str) {
        let Some(q) = def
            .questions
            .get(index)
            .and_then(|n| self.dir.dialogs().question(n))
            .cloned()
        else {
            return self
                .end_dialog(id, "the question is no longer configured")
                .await;
        };
        let lang = self
            .state
            .session(id)
            .and_then(|s| s.lang().map(str::to_string));
        let default = self.dir.texts().default_language().to_string();
        let now = self.clock.now_ms();
        let Some(mut ctx) = self.state.session(id).map(|s| s.ctx().clone()) else {
            return;
        };
        let Some(progress) = ctx.dialog.as_mut() else {
            return;
        };
        let outcome = if q.is_skip(text) {
            progress.record(now, text, format!("skipped {}", q.name));
            Ok(None)
        } else {
            match q.accept(text, lang.as_deref(), &default) {
                Ok(v) => {
                    progress.record(now, text, format!("answered {}", q.name));
                    Ok(Some(v))
                }
                Err(r) => {
                    progress.attempts += 1;
                    if progress.attempts >= self.dir.dialogs().attempts {
                        progress.record(now, text, format!("gave up on {}", q.name));
                        Ok(None)
                    } else {
                        progress.record(now, text, format!("refused for {}", q.name));
                        Err(r)
                    }
                }
            }
        };
        match outcome {
            Err(refusal) => {
                if self.store_ctx(id, ctx).await {
                    let why = self.refusal_text(lang.as_deref(), &default, &q, &refusal);
                    self.ask_question(id, &q, Some(why)).await;
                }
            }
            Ok(value) => {
                if let Some(v) = &value {
                    ctx.ident.answers.insert(q.name.clone(), v.clone());
                }
                let progress = ctx.dialog.as_mut().expect("checked above");
                progress.attempts = 0;
                progress.step = next_step(def, &ctx.ident.answers, index + 1);
                if !self.store_ctx(id, ctx).await {
                    return;
                }
                if let (Some(kind), Some(v)) = (&q.identifier, &value) {
                    self.verified_identifier(id, kind, v).await;
                }
                self.enter_step(id, def).await;
            }
        }
    }

    fn refusal_text(
        &self,
        lang: Option<&str>,
        default: &str,
        q: &QuestionDef,
        r: &Refusal,
    ) -> String {
        let texts = self.dir.texts();
        match r {
            Refusal::NotAChoice(n) => {
                texts.render(lang, Text::ReaskChoice, &[("count", &n.to_string())])
            }
            Refusal::TooLong(max) => {
                texts.render(lang, Text::TooLong, &[("max", &max.to_string())])
            }
            Refusal::Empty | Refusal::NoMatch => {
                let example = q.example.as_ref().map_or("", |e| e.get(lang, default));
                let line = texts.render(lang, Text::Reask, &[("example", example)]);
                if example.is_empty() {
                    // "For example:" with nothing after it reads as a bug.
                    line.split(['.', '!']).next().unwrap_or(&line).to_string() + "."
                } else {
                    line
                }
            }
        }
    }

    /// A question went unanswered: routing goes on without its answer
    /// (and without those after it), so a silent customer still reaches
    /// an agent.
    pub(super) async fn dialog_timeout(&mut self, id: &str, seq: u64) {
        let current = self.state.session(id).is_some_and(|s| s.dialog_seq == seq);
        let asking = matches!(self.progress(id).map(|p| &p.step), Some(Step::Asking(_)));
        if current && asking {
            self.end_dialog(id, "no answer in time").await;
        }
    }

    /// Ends the dialog and routes the session.
    pub(super) async fn end_dialog(&mut self, id: &str, why: &str) {
        let now = self.clock.now_ms();
        let Some(mut ctx) = self.state.session(id).map(|s| s.ctx().clone()) else {
            return;
        };
        if let Some(p) = ctx.dialog.as_mut() {
            p.record(now, "", why.to_string());
            p.step = Step::Done;
            p.menu.clear();
        }
        info!(session = %id, %why, "dialog over");
        if self.store_ctx(id, ctx).await {
            Box::pin(self.route_session(id)).await;
        }
    }

    /// Resumes the dialogs that were under way at the last stop.
    pub(super) async fn resume_dialogs(&mut self) {
        let ids = self
            .state
            .ids_where(|s| s.ctx().dialog.as_ref().is_some_and(|d| !d.done()));
        for id in ids {
            let name = self
                .progress(&id)
                .map(|p| p.name.clone())
                .unwrap_or_default();
            match self.dir.dialogs().dialog(&name).cloned() {
                Some(def) => {
                    // The self-service greeting is not said twice.
                    if let Some(Step::Asking(_)) = self.progress(&id).map(|p| &p.step) {
                        self.enter_step(&id, &def).await;
                    }
                }
                None => {
                    self.end_dialog(&id, "the dialog is no longer configured")
                        .await
                }
            }
        }
    }

    pub(super) fn progress(&self, id: &str) -> Option<&Progress> {
        self.state.session(id)?.ctx().dialog.as_ref()
    }

    /// Whether the session's messages go to its dialog.
    pub(super) fn in_dialog(&self, id: &str) -> bool {
        self.progress(id).is_some_and(|p| !p.done())
    }

    /// Stores the context; false (logged) if the store refused it, and the
    /// customer's message then stays in the transcript, unanswered.
    pub(super) async fn store_ctx(&mut self, id: &str, ctx: Context) -> bool {
        match self.state.set_context(id, ctx).await {
            Ok(()) => true,
            Err(e) => {
                error!(error = %e, session = %id, "storing a dialog's progress failed");
                false
            }
        }
    }

    /// A text of dialogs.toml in the session's language.
    pub(super) fn in_lang(&self, id: &str, t: &crate::config::LangText) -> String {
        let lang = self.state.session(id).and_then(|s| s.lang());
        t.get(lang, self.dir.texts().default_language()).to_string()
    }

    /// Answers an earlier session of this customer (or of a linked
    /// identity) gave to the dialog's `remember` questions, newest first.
    async fn remembered_answers(&self, id: &str, def: &DialogDef) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let wanted: Vec<&String> = def
            .questions
            .iter()
            .filter(|q| self.dir.dialogs().question(q).is_some_and(|q| q.remember))
            .collect();
        if wanted.is_empty() {
            return out;
        }
        let Some(sess) = self.state.session(id) else {
            return out;
        };
        let customers = self.person_of(&sess.rec().customer_id).await;
        let Ok(contexts) = self.state.store().recent_contexts(&customers, id, 20).await else {
            return out;
        };
        for c in contexts {
            let ctx = Context::from_json(Some(&c));
            for q in &wanted {
                if let Some(v) = ctx.ident.answers.get(*q) {
                    out.entry((*q).clone()).or_insert_with(|| v.clone());
                }
            }
        }
        out
    }
}

/// The first step at or after question `from` whose answer is not known.
fn next_step(def: &DialogDef, answers: &BTreeMap<String, String>, from: usize) -> Step {
    match (from..def.questions.len()).find(|&i| !answers.contains_key(&def.questions[i])) {
        Some(i) => Step::Asking(i),
        None if def.self_service => Step::SelfService,
        None => Step::Done,
    }
}

impl Core {
    /// The customers that are one person with `customer_id`, itself first;
    /// itself alone if the links cannot be read.
    async fn person_of(&self, customer_id: &str) -> Vec<String> {
        let mut ids = vec![customer_id.to_string()];
        if let Ok(all) = self.state.store().person_customers(customer_id).await {
            ids.extend(all.into_iter().map(|c| c.id).filter(|i| i != customer_id));
        }
        ids
    }
}
