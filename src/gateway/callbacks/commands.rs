//! Agents' view of callbacks: `callbacks` lists one's own (a supervisor's
//! lists everyone's), and a supervisor's `!callbacks reassign cb-ID AGENT`
//! gives a booking to another capable agent, the customer told.

use tracing::{error, info};

use super::when_text;
use crate::config::Text;
use crate::gateway::actor::Core;
use crate::store::CallbackState;

impl Core {
    /// `callbacks [reassign cb-ID AGENT]` from `agent`; the reply.
    pub(in crate::gateway) async fn callbacks_command(&mut self, agent: &str, arg: &str) -> String {
        let words: Vec<&str> = arg.split_whitespace().collect();
        match words.as_slice() {
            [] => self.callbacks_list(agent),
            ["reassign", id, to @ ..] if !to.is_empty() => {
                if !self.is_supervisor(agent) {
                    return "Forbidden: reassigning callbacks is for supervisors.".into();
                }
                self.reassign_callback(agent, id, &to.join(" ")).await
            }
            ["cancel", id] if self.is_supervisor(agent) => {
                if self.cancel_callback(id, Some(agent)).await {
                    format!("Callback {id} cancelled; the customer was told.")
                } else {
                    format!("No booked callback {id}.")
                }
            }
            _ => "Usage: callbacks; supervisors: !callbacks reassign cb-ID AGENT, !callbacks cancel cb-ID".into(),
        }
    }

    /// The open callbacks `agent` makes (all of them for a supervisor),
    /// soonest first.
    pub(in crate::gateway) fn callbacks_list(&self, agent: &str) -> String {
        let all = self.is_supervisor(agent);
        let mut rows: Vec<_> = self
            .callbacks
            .open
            .values()
            .map(|b| &b.cb)
            .filter(|c| all || c.agent == agent)
            .collect();
        rows.sort_by_key(|c| (c.due_at, c.id.clone()));
        if rows.is_empty() {
            return "No callbacks booked.".into();
        }
        rows.iter()
            .map(|c| {
                let state = match (c.state, &c.session_id) {
                    (CallbackState::Opened, Some(s)) => format!("opened as {}", self.proxy_jid(s)),
                    _ => "booked".into(),
                };
                format!(
                    "{} {} — {} with {} ({state})",
                    c.id,
                    when_text(c.due_at, &c.timezone, None),
                    c.customer_jid,
                    self.agent_name(&c.agent)
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    async fn reassign_callback(&mut self, by: &str, id: &str, to: &str) -> String {
        let Some(b) = self.callbacks.open.get(id) else {
            return format!("No open callback {id}.");
        };
        if b.cb.state != CallbackState::Booked {
            return format!(
                "Callback {id} is already with its agent: transfer its session instead."
            );
        }
        let mut cb = b.cb.clone();
        let wanted = crate::text::fold(to, "en");
        let channel = self.channel_of(&cb.customer_jid);
        let Some(q) = self.dir.queue(&cb.queue) else {
            return format!("Callback {id}'s queue is gone.");
        };
        let capable = self.capable(q, &channel);
        let target = capable.iter().find(|a| {
            a.jid == to
                || crate::text::fold(&self.agent_name(a.jid), "en")
                    .split_whitespace()
                    .next()
                    == Some(wanted.as_str())
        });
        let Some(target) = target.map(|a| a.jid.to_string()) else {
            let names: Vec<String> = capable.iter().map(|a| self.agent_name(a.jid)).collect();
            return format!("{to} cannot take it; capable agents: {}.", names.join(", "));
        };
        cb.agent = target.clone();
        cb.how = crate::store::Chosen::Named;
        cb.updated_at = self.clock.now_ms();
        if let Err(e) = self.state.store().callback_update(&cb).await {
            error!(error = %e, callback = %id, "reassigning a callback failed");
            return "The change was not stored; try again.".into();
        }
        info!(callback = %id, %by, to = %target, "callback reassigned");
        let name = self.agent_name(&target);
        let when = when_text(cb.due_at, &cb.timezone, cb.lang.as_deref());
        let line = self.dir.texts().render(
            cb.lang.as_deref(),
            Text::CallbackBooked,
            &[("name", &name), ("when", &when)],
        );
        self.to_jid(&cb.entry_jid, &cb.customer_jid, &line).await;
        self.keep_booking(cb, None);
        format!("Callback {id} is now {name}'s; the customer was told.")
    }
}
