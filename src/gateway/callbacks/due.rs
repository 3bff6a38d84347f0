//! A booking's two moments. At the lead time the agent gets the session
//! (opened for it, assigned live, so it holds one of their places), with
//! what the customer booked and the earlier chat; if that agent cannot
//! take it, the fallback the admin chose applies, and a callback nobody
//! can make is reported to supervisors and queued, never dropped. At the
//! time the customer is written to from the entry JID with the agent's
//! name; if they are not online it waits for them as an async session.

use std::time::Duration;

use tracing::{error, info, warn};

use super::when_text;
use crate::config::{Fallback, Text};
use crate::gateway::actor::{new_session_id, Core, Event};
use crate::gateway::assign::Availability;
use crate::gateway::context::{CallbackNote, Context};
use crate::store::{Callback, CallbackState, SessionState};

impl Core {
    /// `lead` before the time.
    pub(in crate::gateway) async fn callback_lead(&mut self, id: &str, seq: u64) {
        let Some(b) = self.callbacks.open.get(id).filter(|b| b.seq == seq) else {
            return;
        };
        let cb = b.cb.clone();
        if self.can_take_callback(&cb.agent) {
            return self.open_callback(cb, None).await;
        }
        let booked_name = self.agent_name(&cb.agent);
        match self.callbacks_cfg().fallback {
            Fallback::OtherAgent => {
                if let Some(other) = self.stand_in(&cb) {
                    self.report_callback(
                        &cb,
                        &format!(
                            "{booked_name} is not available: {} makes it",
                            self.agent_name(&other)
                        ),
                    )
                    .await;
                    let was = cb.agent.clone();
                    let mut moved = cb;
                    moved.agent = other;
                    return self.open_callback(moved, Some(was)).await;
                }
                self.callback_failed(
                    cb,
                    &format!("{booked_name} is not available and nobody else is"),
                )
                .await
            }
            Fallback::NewTime => self.propose_new_time(cb, &booked_name).await,
        }
    }

    /// Whether `agent` can take a live chat now.
    fn can_take_callback(&self, agent: &str) -> bool {
        self.agent_views()
            .iter()
            .any(|v| v.jid == agent && v.availability == Availability::Live && v.live < v.max_live)
    }

    /// Another capable agent who can take it now, the least booked first.
    fn stand_in(&self, cb: &Callback) -> Option<String> {
        let q = self.dir.queue(&cb.queue)?;
        let channel = self.channel_of(&cb.customer_jid);
        let booked = self.booked_but(Some(&cb.id));
        self.capable(q, &channel)
            .iter()
            .map(|a| a.jid.to_string())
            .filter(|j| *j != cb.agent && self.can_take_callback(j))
            .min_by_key(|j| booked.iter().filter(|(a, _)| a == j).count())
    }

    /// Opens the callback's session with `cb.agent` (the booked agent, or
    /// a stand-in for `replaced`).
    async fn open_callback(&mut self, mut cb: Callback, replaced: Option<String>) {
        let now = self.clock.now_ms();
        let Some(queue) = self.dir.queue(&cb.queue).cloned() else {
            return self
                .callback_failed(cb, "its queue is gone from routing.toml")
                .await;
        };
        let session = match self.state.session_of(&cb.customer_jid).map(str::to_string) {
            // Already writing to us: that chat is the callback.
            Some(open) => open,
            None => {
                let id = new_session_id();
                if let Err(e) = self
                    .state
                    .open(id.clone(), &cb.customer_jid, &cb.entry_jid, &queue, now)
                    .await
                {
                    error!(error = %e, callback = %cb.id, "opening a callback's session failed");
                    return self.retry_lead(&cb).await;
                }
                id
            }
        };
        let mut ctx = self.callback_context(&cb).await;
        if let Some(s) = self.state.session(&session) {
            if s.routed() {
                ctx = s.ctx().clone();
            }
        }
        ctx.callback = Some(note(&cb, false));
        let priority = i64::from(queue.priority);
        if let Err(e) = self.state.route(&session, ctx, &queue.name, priority).await {
            error!(error = %e, callback = %cb.id, "storing a callback's context failed");
        }
        if let Some(s) = self.state.session_mut(&session) {
            s.lang = cb.lang.clone();
        }
        let waiting = self
            .state
            .session(&session)
            .is_some_and(|s| s.state() == SessionState::Waiting);
        if waiting {
            self.assign(&session, &cb.agent, SessionState::Live).await;
        }
        cb.state = CallbackState::Opened;
        cb.session_id = Some(session.clone());
        cb.updated_at = now;
        if let Err(e) = self.state.store().callback_update(&cb).await {
            error!(error = %e, callback = %cb.id, "storing an opened callback failed");
        }
        info!(callback = %cb.id, session = %session, agent = %cb.agent, "callback opened");
        let when = when_text(cb.due_at, &cb.timezone, None);
        let earlier = self.earlier_chat(cb.from_session.as_deref()).await;
        let mut line = format!(
            "Callback {} booked by {} for {when}: the chat opens to them then.",
            cb.id, cb.customer_jid
        );
        if let Some(was) = &replaced {
            line.push_str(&format!(" You stand in for {}.", self.agent_name(was)));
        }
        if !earlier.is_empty() {
            line.push_str(&format!("\nThe chat it was booked in:\n{earlier}"));
        }
        self.to_agent_text(&session, &cb.agent, &line).await;
        self.log_event(
            &session,
            "",
            &format!("callback {} opened for {when}", cb.id),
        )
        .await;
        self.keep_booking(cb, replaced);
    }

    /// The context of the chat a callback was booked in (who the customer
    /// is, what routing decided): the callback's session needs the same
    /// agent. Without one, an agent serving the customer's channel.
    async fn callback_context(&self, cb: &Callback) -> Context {
        let from = match &cb.from_session {
            Some(from) => self.state.store().session_get(from).await.ok().flatten(),
            None => None,
        };
        match from {
            Some(r) => Context::from_json(r.context.as_deref()),
            None => {
                let mut ctx = Context::default();
                ctx.needs.protocol = Some(self.channel_of(&cb.customer_jid));
                ctx
            }
        }
    }

    /// The last lines of the chat a callback was booked in.
    async fn earlier_chat(&self, from: Option<&str>) -> String {
        let Some(from) = from else {
            return String::new();
        };
        let lines = self
            .state
            .store()
            .transcript(from)
            .await
            .unwrap_or_default();
        let said: Vec<String> = lines
            .iter()
            .filter(|m| {
                matches!(
                    m.direction,
                    crate::store::Direction::In | crate::store::Direction::Out
                )
            })
            .filter_map(|m| {
                let who = if m.direction == crate::store::Direction::In {
                    "customer"
                } else {
                    "agent"
                };
                m.body
                    .as_deref()
                    .map(|b| format!("[{who}] {}", crate::gateway::sessions::clip(b, 200)))
            })
            .collect();
        said[said.len().saturating_sub(10)..].join("\n")
    }

    /// The store could not open the session: tried again shortly.
    async fn retry_lead(&mut self, cb: &Callback) {
        let seq = self.callbacks.open.get(&cb.id).map_or(0, |b| b.seq);
        self.later(
            Duration::from_secs(5),
            Event::CallbackLead {
                id: cb.id.clone(),
                seq,
            },
        );
    }

    /// At the time: the customer is written to.
    pub(in crate::gateway) async fn callback_due(&mut self, id: &str, seq: u64) {
        let Some(b) = self.callbacks.open.get(id).filter(|b| b.seq == seq) else {
            return;
        };
        let (mut cb, replaced) = (b.cb.clone(), b.replaced.clone());
        self.callbacks.open.remove(id);
        let Some(session) = cb
            .session_id
            .clone()
            .filter(|s| self.state.session(s).is_some())
        else {
            // Closed by its agent before the time: nothing left to open.
            return self.callback_made(cb).await;
        };
        let agent = self
            .state
            .session(&session)
            .and_then(|s| s.agent().map(str::to_string))
            .unwrap_or(cb.agent.clone());
        let name = self.agent_name(&agent);
        let lang = cb.lang.clone();
        let mut lines = Vec::new();
        if let Some(was) = replaced {
            let was = self.agent_name(&was);
            lines.push(self.dir.texts().render(
                lang.as_deref(),
                Text::CallbackReplaced,
                &[("was", &was), ("name", &name)],
            ));
        }
        lines.push(self.dir.texts().render(
            lang.as_deref(),
            Text::CallbackOpening,
            &[("name", &name)],
        ));
        for line in lines {
            self.to_customer_as(&session, &name, &line).await;
        }
        // Announced: a later agent of this session is introduced as usual.
        if let Some(mut ctx) = self.state.session(&session).map(|s| s.ctx().clone()) {
            if let Some(c) = ctx.callback.as_mut() {
                c.written = true;
            }
            if let Err(e) = self.state.set_context(&session, ctx).await {
                error!(error = %e, session = %session, "storing a callback's context failed");
            }
        }
        // Not known to be online: the chat waits for them as async, and
        // what was written is on their server when they come back.
        let away = self
            .state
            .session(&session)
            .is_some_and(|s| s.customer_full.is_none());
        if away {
            self.set_state(&session, SessionState::Async).await;
        }
        cb.agent = agent;
        self.callback_made(cb).await;
    }

    async fn callback_made(&mut self, mut cb: Callback) {
        cb.state = CallbackState::Made;
        cb.updated_at = self.clock.now_ms();
        if let Err(e) = self.state.store().callback_update(&cb).await {
            error!(error = %e, callback = %cb.id, "storing a made callback failed");
        }
    }

    /// The booked agent cannot: the customer chooses a new time, offered
    /// as a menu (with that agent or another), from the entry JID.
    async fn propose_new_time(&mut self, cb: Callback, booked_name: &str) {
        self.report_callback(
            &cb,
            &format!("{booked_name} is not available: new times proposed to the customer"),
        )
        .await;
        let lang = cb.lang.clone();
        let line = self.dir.texts().render(
            lang.as_deref(),
            Text::CallbackNewTime,
            &[("name", booked_name)],
        );
        // The same conversation as "move callback": the customer answers
        // with a number or a time. Meanwhile the booking stays stored, so a
        // restart keeps it; its timer is gone until they choose.
        let customer = cb.customer_jid.clone();
        let at = self.clock.now_ms() + self.callbacks_cfg().slot.as_millis() as i64;
        self.start_moving(&cb, &customer).await;
        self.offer_times_from(&customer, at, &cb.agent, line).await;
    }

    /// Nobody can make it: stored as failed, reported, and the customer is
    /// put in the queue at the front with a word of why.
    async fn callback_failed(&mut self, mut cb: Callback, why: &str) {
        warn!(callback = %cb.id, "callback failed: {why}");
        cb.state = CallbackState::Failed;
        cb.updated_at = self.clock.now_ms();
        if let Err(e) = self.state.store().callback_update(&cb).await {
            error!(error = %e, callback = %cb.id, "storing a failed callback failed");
        }
        self.callbacks.open.remove(&cb.id);
        self.report_callback(&cb, &format!("failed: {why}; the customer is queued"))
            .await;
        let line = self
            .dir
            .texts()
            .render(cb.lang.as_deref(), Text::CallbackFailed, &[]);
        let now = self.clock.now_ms();
        if self.state.session_of(&cb.customer_jid).is_none() {
            if let Some(queue) = self.dir.queue(&cb.queue).cloned() {
                let id = new_session_id();
                if self
                    .state
                    .open(id.clone(), &cb.customer_jid, &cb.entry_jid, &queue, now)
                    .await
                    .is_ok()
                {
                    let mut ctx = self.callback_context(&cb).await;
                    ctx.callback = Some(note(&cb, true));
                    let priority = i64::from(queue.priority) + 100;
                    if self
                        .state
                        .route(&id, ctx, &queue.name, priority)
                        .await
                        .is_ok()
                    {
                        self.to_customer_text(&id, &line).await;
                        self.try_assign(&id).await;
                        return;
                    }
                }
            }
        }
        self.to_jid(&cb.entry_jid, &cb.customer_jid, &line).await;
    }
}

fn note(cb: &Callback, written: bool) -> CallbackNote {
    CallbackNote {
        id: cb.id.clone(),
        due_at: cb.due_at,
        timezone: cb.timezone.clone(),
        from_session: cb.from_session.clone(),
        written,
    }
}
