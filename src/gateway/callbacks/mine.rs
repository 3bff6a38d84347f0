//! A customer's own bookings, written to the entry JID outside any chat:
//! "my callback" lists them, "cancel callback" calls the next one off, and
//! "move callback to …" runs the booking conversation again on it.

use tracing::{error, info};

use super::booking::fold;
use super::{when_text, Flow, Who};
use crate::config::Text;
use crate::gateway::actor::Core;
use crate::store::{Callback, CallbackState};

impl Core {
    /// A message to an entry JID from a customer without an open session:
    /// true if it was about their callbacks.
    pub(in crate::gateway) async fn callback_command(
        &mut self,
        customer: &str,
        entry: &str,
        text: &str,
    ) -> bool {
        if self
            .callbacks
            .flows
            .get(customer)
            .is_some_and(|f| f.session.is_none())
        {
            let t = fold(text.trim());
            let zone = self.flow_zone(customer);
            let answers = t.parse::<usize>().is_ok()
                || crate::when::find(text, &self.zoned_now(&zone)).is_some();
            if answers {
                self.flow_step(customer, text).await;
                return true;
            }
            // Something else: the customer moved on; a new chat opens.
            self.callbacks.flows.remove(customer);
            return false;
        }
        let mine: Vec<&Callback> = self
            .callbacks
            .open
            .values()
            .map(|b| &b.cb)
            .filter(|c| c.customer_jid == customer && c.state == CallbackState::Booked)
            .collect();
        let t = fold(text.trim());
        let about = t.contains("callback") || t.contains("rappel");
        let starts = |w: &[&str]| w.iter().any(|x| t.starts_with(x));
        let listing = about && starts(&["my ", "mon ", "mes "]);
        let bare_cancel = !mine.is_empty() && (t == "cancel" || t == "annuler");
        let cancel = bare_cancel || (about && starts(&["cancel", "annuler"]));
        let moving = about && starts(&["move", "deplacer", "change"]);
        if !(listing || cancel || moving) {
            return false;
        }
        let lang = mine.first().and_then(|c| c.lang.clone());
        if mine.is_empty() {
            let line = self
                .dir
                .texts()
                .render(lang.as_deref(), Text::CallbackNone, &[]);
            self.to_jid(entry, customer, &line).await;
            return true;
        }
        if listing {
            let list: Vec<String> = mine
                .iter()
                .map(|c| {
                    format!(
                        "{} — {}",
                        when_text(c.due_at, &c.timezone, c.lang.as_deref()),
                        self.agent_name(&c.agent)
                    )
                })
                .collect();
            let line = self.dir.texts().render(
                lang.as_deref(),
                Text::CallbackList,
                &[("list", &list.join("\n"))],
            );
            self.to_jid(entry, customer, &line).await;
            return true;
        }
        let cb = mine[0].clone();
        if cancel {
            self.cancel_callback(&cb.id, None).await;
            return true;
        }
        // Moving: the same conversation as booking, on this booking.
        self.start_moving(&cb, customer).await;
        self.flow_step(customer, text).await;
        true
    }

    fn zoned_now(&self, zone: &str) -> jiff::Zoned {
        let tz = jiff::tz::TimeZone::get(zone).unwrap_or(jiff::tz::TimeZone::UTC);
        self.clock.timestamp().to_zoned(tz)
    }

    /// Starts moving `cb`: the customer's next words are its new time.
    pub(super) async fn start_moving(&mut self, cb: &Callback, customer: &str) {
        let zone = (
            cb.timezone.clone(),
            jiff::tz::TimeZone::get(&cb.timezone).unwrap_or(jiff::tz::TimeZone::UTC),
        );
        let who = match cb.how {
            crate::store::Chosen::Anyone => Who::Anyone,
            crate::store::Chosen::Named => Who::Named(cb.agent.clone()),
            crate::store::Chosen::Same => Who::Same(cb.agent.clone()),
        };
        self.callbacks.flows.insert(
            customer.to_string(),
            Flow {
                session: None,
                customer_id: None,
                entry: cb.entry_jid.clone(),
                queue: cb.queue.clone(),
                lang: cb.lang.clone(),
                zone,
                who,
                menu: Vec::new(),
                moving: Some(cb.id.clone()),
            },
        );
    }

    /// Calls a booking off; `by`: the supervisor who did, if not the
    /// customer.
    pub(super) async fn cancel_callback(&mut self, id: &str, by: Option<&str>) -> bool {
        let Some(b) = self.callbacks.open.get(id) else {
            return false;
        };
        let mut cb = b.cb.clone();
        cb.state = CallbackState::Cancelled;
        cb.updated_at = self.clock.now_ms();
        if let Err(e) = self.state.store().callback_update(&cb).await {
            error!(error = %e, callback = %id, "cancelling a callback failed");
            return false;
        }
        self.callbacks.open.remove(id);
        info!(callback = %id, by = by.unwrap_or("customer"), "callback cancelled");
        let when = when_text(cb.due_at, &cb.timezone, cb.lang.as_deref());
        let line = self.dir.texts().render(
            cb.lang.as_deref(),
            Text::CallbackCancelled,
            &[("when", &when)],
        );
        self.to_jid(&cb.entry_jid, &cb.customer_jid, &line).await;
        true
    }
}
