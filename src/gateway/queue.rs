//! The waiting line: trying waiting sessions in order (priority, then
//! time waited) and telling each customer their place and expected wait.

use std::collections::HashMap;

use super::actor::Core;
use super::state::Change;
use crate::config::Text;
use crate::store::SessionState;
use crate::xml::build::{el, BuilderExt};
use crate::xml::ns;

/// The line moves when a session leaves it for good: the agent who closed
/// it may take the next.
pub(super) async fn on_change(core: &mut Core, change: &Change) {
    if let Change::Closed { .. } = change {
        core.assign_waiting().await;
    }
}

impl Core {
    /// Tries every waiting session, in queue order, while some agent has
    /// room; then tells each waiting customer their place.
    pub(super) async fn assign_waiting(&mut self) {
        let mut waiting: Vec<(i64, i64, String)> = self
            .state
            .sessions()
            .filter(|s| s.rec().state == SessionState::Waiting)
            .map(|s| (-s.rec().priority, s.rec().enqueued_at, s.rec().id.clone()))
            .collect();
        waiting.sort();
        for (_, _, id) in waiting {
            if !self.any_room() {
                break;
            }
            self.try_assign(&id).await;
        }
        self.tell_positions().await;
    }

    /// Tells every waiting customer whose place changed: one sort per
    /// queue instead of a count per customer.
    pub(super) async fn tell_positions(&mut self) {
        let mut lines: HashMap<&str, Vec<(i64, i64, &str)>> = HashMap::new();
        for s in self.state.sessions() {
            if s.rec().state == SessionState::Waiting && s.routed() {
                lines.entry(s.rec().queue.as_str()).or_default().push((
                    -s.rec().priority,
                    s.rec().enqueued_at,
                    s.rec().id.as_str(),
                ));
            }
        }
        let mut changed: Vec<(String, usize)> = Vec::new();
        for line in lines.values_mut() {
            line.sort_unstable();
            for (i, (_, _, id)) in line.iter().enumerate() {
                if self.state.session(id).and_then(|s| s.told_position) != Some(i + 1) {
                    changed.push((id.to_string(), i + 1));
                }
            }
        }
        for (id, position) in changed {
            self.announce_position(&id, position).await;
        }
    }

    pub(super) async fn refresh_all(&mut self) {
        self.assign_waiting().await;
        self.broadcast_status().await;
    }

    /// Tells a waiting customer their place and the expected wait, when it
    /// changed since they were last told.
    pub(super) async fn tell_position(&mut self, id: &str) {
        let Some(sess) = self.state.session(id) else {
            return;
        };
        if sess.rec().state != SessionState::Waiting || !sess.routed() {
            return;
        }
        let key = (
            -sess.rec().priority,
            sess.rec().enqueued_at,
            sess.rec().id.as_str(),
        );
        // Counted as `tell_positions` counts: sessions still being
        // identified are not in the line yet.
        let position = 1 + self
            .state
            .sessions()
            .filter(|s| {
                s.state() == SessionState::Waiting
                    && s.routed()
                    && s.rec().queue == sess.rec().queue
            })
            .filter(|s| (-s.rec().priority, s.rec().enqueued_at, s.rec().id.as_str()) < key)
            .count();
        if sess.told_position == Some(position) {
            return;
        }
        self.announce_position(id, position).await;
    }

    /// Tells a waiting customer their place and the expected wait: at once
    /// the first time and when they are next, otherwise at most once per
    /// `queue_update_secs` (the sweep sends what is due). A customer whom
    /// nobody on duty can serve is told that, once, instead of a wait.
    async fn announce_position(&mut self, id: &str, position: usize) {
        let now = self.clock.now_ms();
        let every = self.dir.queue_update().as_millis() as i64;
        let Some(sess) = self.state.session(id) else {
            return;
        };
        let due = match sess.told_at_ms {
            None => true,
            Some(at) => position == 1 || now - at >= every,
        };
        if !due {
            return;
        }
        let servable = self.anyone_on_duty(&sess.rec().queue, &sess.ctx().needs);
        let told_unservable = sess.told_unservable;
        if !servable && told_unservable {
            return;
        }
        let minutes =
            (self.dir.wait_estimate().as_secs().div_ceil(60).max(1) * position as u64).to_string();
        let position_s = position.to_string();
        let (text, args): (Text, &[(&str, &str)]) = if servable {
            (
                Text::Position,
                &[("position", &position_s), ("minutes", &minutes)],
            )
        } else {
            (Text::Unservable, &[])
        };
        if let Some(s) = self.state.session_mut(id) {
            s.told_position = Some(position);
            s.told_at_ms = Some(now);
            s.told_unservable = !servable;
        }
        let Some(sess) = self.state.session(id) else {
            return;
        };
        let line = self.dir.texts().render(sess.lang(), text, args);
        let place = servable.then(|| {
            el("queue", ns::SB_QUEUE)
                .a("position", position_s.as_str())
                .a("minutes", minutes.as_str())
                .build()
        });
        self.to_customer_with(sess, &line, place).await;
        let wait = servable.then(|| minutes.parse().unwrap_or(0));
        self.offer_callback(id, wait).await;
    }
}
