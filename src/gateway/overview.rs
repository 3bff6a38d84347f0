//! What supervisors see of the center as it is now: each queue's waiting
//! customers with their waits and moods, and each agent's duty and load.
//! Read from the actor's memory, never the store: a supervisor asks when
//! things are busy, and the answer must not wait behind the database.

use std::collections::BTreeMap;

use super::actor::Core;
use super::state::Sess;
use crate::store::SessionState;

impl Core {
    /// `queues` (and the ad-hoc "Queue status").
    pub(super) fn queues_report(&self) -> String {
        let now = self.clock.now_ms();
        let mut by_queue: BTreeMap<&str, Vec<&Sess>> = BTreeMap::new();
        for q in self.dir.queues() {
            by_queue.entry(q.name.as_str()).or_default();
        }
        for s in self.state.sessions() {
            by_queue.entry(s.rec().queue.as_str()).or_default().push(s);
        }
        let mut lines = Vec::new();
        for (queue, sessions) in by_queue {
            let mut waiting: Vec<&&Sess> = sessions
                .iter()
                .filter(|s| s.state() == SessionState::Waiting)
                .collect();
            waiting.sort_by_key(|s| (-s.rec().priority, s.rec().enqueued_at));
            let held = sessions.len() - waiting.len();
            let longest = waiting
                .iter()
                .map(|s| now - s.rec().enqueued_at)
                .max()
                .unwrap_or(0);
            lines.push(format!(
                "Queue {queue}: {} waiting{}, {held} with agents",
                waiting.len(),
                if waiting.is_empty() {
                    String::new()
                } else {
                    format!(" (longest {})", minutes(longest))
                }
            ));
            for s in waiting {
                lines.push(format!(
                    "  {} {} waiting {}, priority {}{}",
                    s.id(),
                    s.rec().customer_jid,
                    minutes(now - s.rec().enqueued_at),
                    s.rec().priority,
                    self.flags(s)
                ));
            }
        }
        lines.join("\n")
    }

    /// `agents`: who is on duty, and with what.
    pub(super) fn agents_report(&self) -> String {
        let now = self.clock.now_ms();
        let mut lines = Vec::new();
        for a in self.dir.agents() {
            let jid = a.jid.as_str();
            let rt = self.state.agent(jid);
            let duty = match rt {
                Some(r) if r.off_duty => "off duty",
                Some(r) => match r.availability {
                    Some(super::assign::Availability::Live) => "available",
                    Some(super::assign::Availability::AsyncOnly) => "away (async only)",
                    _ => "offline",
                },
                None => "offline",
            };
            let mine: Vec<&Sess> = self
                .state
                .sessions()
                .filter(|s| s.agent() == Some(jid))
                .collect();
            let live = mine
                .iter()
                .filter(|s| matches!(s.state(), SessionState::Live | SessionState::Offered))
                .count();
            let async_ = mine.len() - live;
            let role = if a.supervisor { ", supervisor" } else { "" };
            lines.push(format!(
                "{} ({jid}, tier {}{role}): {duty}; live {live}/{}, async {async_}/{}",
                a.name, a.tier, a.max_live, a.max_async
            ));
            for s in mine {
                lines.push(format!(
                    "  {} {} {} for {}{}",
                    s.id(),
                    s.rec().customer_jid,
                    s.state().as_str(),
                    minutes(now - s.rec().updated_at),
                    self.flags(s)
                ));
            }
        }
        if lines.is_empty() {
            "No agents.".into()
        } else {
            lines.join("\n")
        }
    }

    /// The mood and escalation of a session, for the reports.
    fn flags(&self, s: &Sess) -> String {
        let mut f = String::new();
        if s.mood.messages > 0 {
            f.push_str(&format!(", {}", mood_line(&s.mood)));
        }
        if let Some(e) = &s.ctx().escalation {
            f.push_str(&format!(", escalated: {}", e.names().join(", ")));
        }
        if !s.monitors.is_empty() {
            let who: Vec<String> = s.monitors.iter().map(|m| self.name_of(&m.jid)).collect();
            f.push_str(&format!(", monitored by {}", who.join(", ")));
        }
        f
    }
}

/// "mood 0.72 (frustrated)", "mood 0.10".
pub(super) fn mood_line(m: &crate::mood::SessionMood) -> String {
    let mut line = format!("mood {:.2}", m.frustration);
    if m.frustrated() {
        line.push_str(" (frustrated)");
    }
    line
}

/// "4 min", "40 s".
fn minutes(ms: i64) -> String {
    let secs = ms.max(0) / 1000;
    if secs < 60 {
        format!("{secs} s")
    } else {
        format!("{} min", secs / 60)
    }
}
