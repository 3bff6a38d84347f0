//! The waiting line: trying waiting sessions in order (priority, then
//! time waited) and telling each customer their place and expected wait.

use super::Core;
use crate::store::SessionState;

impl Core {
    /// Tries every waiting session, in queue order.
    pub(super) async fn assign_waiting(&mut self) {
        let mut waiting: Vec<(i64, i64, String)> = self
            .sessions
            .values()
            .filter(|s| s.rec.state == SessionState::Waiting)
            .map(|s| (-s.rec.priority, s.rec.enqueued_at, s.rec.id.clone()))
            .collect();
        waiting.sort();
        for (_, _, id) in waiting {
            self.try_assign(&id).await;
        }
        let ids: Vec<String> = self
            .sessions
            .values()
            .filter(|s| s.rec.state == SessionState::Waiting)
            .map(|s| s.rec.id.clone())
            .collect();
        for id in ids {
            self.tell_position(&id).await;
        }
    }

    pub(super) async fn refresh_all(&mut self) {
        self.assign_waiting().await;
        self.broadcast_status().await;
    }

    /// Tells a waiting customer their place and the expected wait, when it
    /// changed since they were last told.
    pub(super) async fn tell_position(&mut self, id: &str) {
        let Some(sess) = self.sessions.get(id) else {
            return;
        };
        if sess.rec.state != SessionState::Waiting {
            return;
        }
        let key = (
            -sess.rec.priority,
            sess.rec.enqueued_at,
            sess.rec.id.clone(),
        );
        let position = 1 + self
            .sessions
            .values()
            .filter(|s| s.rec.state == SessionState::Waiting && s.rec.queue == sess.rec.queue)
            .filter(|s| (-s.rec.priority, s.rec.enqueued_at, s.rec.id.clone()) < key)
            .count();
        if sess.told_position == Some(position) {
            return;
        }
        let minutes = self.dir.wait_estimate.as_secs().div_ceil(60).max(1) * position as u64;
        let text =
            format!("You are number {position} in the queue; the wait is about {minutes} min.");
        if let Some(s) = self.sessions.get_mut(id) {
            s.told_position = Some(position);
        }
        self.to_customer_text(id, &text).await;
    }
}
