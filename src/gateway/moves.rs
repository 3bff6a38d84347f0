//! Sessions changing hands: async turning live (with the same agent, or a
//! second one when the first is at `max_live`), transfers, and agents who
//! vanish. Whoever takes over gets the whole context.

use tracing::info;

use super::actor::{Core, Event};
use super::assign::{self, Mode};
use crate::config::Text;
use crate::store::{Direction, SessionState};

impl Core {
    /// Changes state (and group in the work list) keeping the agent.
    pub(super) async fn set_state(&mut self, id: &str, state: SessionState) {
        match self.state.set_state(id, state, self.clock.now_ms()).await {
            Ok(change) => self.react(change).await,
            Err(e) => tracing::error!(error = %e, session = %id, "storing a state change failed"),
        }
    }

    /// An async session whose customer writes again: live with its agent
    /// when they have room, else live with a second capable agent, else it
    /// stays async.
    pub(super) async fn go_live(&mut self, id: &str) {
        let Some(sess) = self.state.session(id) else {
            return;
        };
        let Some(agent) = sess.rec().agent.clone() else {
            return;
        };
        let Some(queue) = self.dir.queue(&sess.rec().queue).cloned() else {
            return;
        };
        let needs = sess.ctx().needs.clone();
        let views = self.agent_views();
        let exclude = [agent.clone()];
        let own = views.iter().find(|v| v.jid == agent);
        let room = own
            .is_some_and(|v| v.availability == assign::Availability::Live && v.live < v.max_live);
        if room {
            info!(session = %id, %agent, "async session goes live");
            return self.set_state(id, SessionState::Live).await;
        }
        let need = self.need_for(&queue, &needs, Mode::Live, &exclude, None);
        let mut cursor = *self.cursors.get(&queue.name).unwrap_or(&0);
        let second = assign::choose(&views, &need, queue.strategy, &mut cursor)
            .map(|i| views[i].jid.to_string());
        self.cursors.insert(queue.name.clone(), cursor);
        if let Some(second) = second {
            info!(session = %id, from = %agent, to = %second, "async session goes live with a second agent");
            self.hand_over(id, &second, SessionState::Live, "went live with")
                .await;
        }
    }

    /// Moves a session from its agent to `to`, telling the first agent.
    pub(super) async fn hand_over(&mut self, id: &str, to: &str, state: SessionState, why: &str) {
        if let Some(old) = self.state.session(id).and_then(|s| s.rec().agent.clone()) {
            self.worklist_remove(id).await;
            let name = self
                .dir
                .agent(to)
                .map_or(to.to_string(), |a| a.name.clone());
            self.to_agent_text(id, &old, &format!("This session {why} {name}."))
                .await;
        }
        self.assign(id, to, state).await;
    }

    /// `/transfer AGENT|QUEUE`: to an agent (by JID or name) who can take
    /// it now, or back into a queue, first in line.
    pub(super) async fn transfer(&mut self, id: &str, target: &str) -> String {
        let target = target.trim();
        let Some(sess) = self.state.session(id) else {
            return "No such session.".into();
        };
        let state = sess.rec().state;
        let agent = self
            .dir
            .agents()
            .find(|a| {
                a.jid.as_str().eq_ignore_ascii_case(target) || a.name.eq_ignore_ascii_case(target)
            })
            .map(|a| a.jid.to_string());
        if let Some(to) = agent {
            let Some(queue) = self.dir.queue(&sess.rec().queue).cloned() else {
                return "The session's queue no longer exists.".into();
            };
            let mode = if state == SessionState::Async {
                Mode::Async
            } else {
                Mode::Live
            };
            let needs = sess.ctx().needs.clone();
            let views = self.agent_views();
            let need = self.need_for(&queue, &needs, mode, &[], None);
            let ok = views
                .iter()
                .any(|v| v.jid == to && assign::capable(v, &need));
            if !ok {
                return format!("{target} cannot take this session now.");
            }
            let state = if mode == Mode::Async {
                SessionState::Async
            } else {
                SessionState::Live
            };
            self.hand_over(id, &to, state, "was transferred to").await;
            return String::new();
        }
        if self.dir.queue(target).is_some() {
            if let Err(e) = self.state.set_queue(id, target).await {
                tracing::error!(error = %e, "storing a transfer failed");
                return "The transfer failed; try again.".into();
            }
            self.requeue(id, true).await;
            self.tell_customer(id, Text::Transferred, &[]).await;
            self.try_assign(id).await;
            self.tell_position(id).await;
            return format!("Transferred to queue {target}.");
        }
        format!("No agent or queue called {target}.")
    }

    /// The session's context for its new agent: the customer's
    /// identification and routing, and what was said before them.
    /// `as_of`: when the context stands, as a delay stamp (ms), for a
    /// block that comes before messages written earlier than now.
    pub(super) async fn send_context(&self, id: &str, as_of: Option<i64>) {
        let Some(agent) = self.state.session(id).and_then(|s| s.rec().agent.clone()) else {
            return;
        };
        self.journal.flush().await;
        let Ok(entries) = self.state.store().transcript(id).await else {
            return;
        };
        let lines: Vec<String> = entries
            .iter()
            .filter(|m| match m.direction {
                Direction::In => m.delivered_at.is_some(),
                Direction::Out | Direction::Note | Direction::Event | Direction::Whisper => true,
                Direction::System => false,
            })
            .map(|m| {
                let who = match m.direction {
                    Direction::In => "customer".to_string(),
                    Direction::Note => format!("note by {}", bare(&m.sender)),
                    Direction::Event if m.sender.is_empty() => "event".to_string(),
                    Direction::Event => format!("event by {}", bare(&m.sender)),
                    Direction::Whisper => format!("whisper by {}", bare(&m.sender)),
                    _ => bare(&m.sender).to_string(),
                };
                format!(
                    "[{}] {who}: {}",
                    crate::xml::chrono_stamp(m.created_at),
                    m.body.clone().unwrap_or_default()
                )
            })
            .collect();
        // Who the customer is comes first, then what was said.
        let mut text = self.info_with_person(id).await;
        if !lines.is_empty() {
            text.push_str(&format!("\nEarlier in this session:\n{}", lines.join("\n")));
        }
        let line = super::bridge::chat(&self.proxy_jid(id), &agent, &text);
        let line = match as_of {
            Some(at) => {
                let raw = String::from_utf8_lossy(line.bytes()).into_owned();
                crate::xml::with_delay(&raw, &self.support, at).unwrap_or(line)
            }
            None => line,
        };
        self.route(line).await;
    }

    /// An agent went offline: offers go back at once; live sessions wait a
    /// grace period for them to come back.
    pub(super) async fn agent_left(&mut self, agent: &str, seq: u64) {
        let offered: Vec<String> = self
            .state
            .sessions()
            .filter(|s| {
                s.rec().agent.as_deref() == Some(agent) && s.rec().state == SessionState::Offered
            })
            .map(|s| s.rec().id.clone())
            .collect();
        for id in offered {
            if let Some(s) = self.state.session_mut(&id) {
                s.lapsed.push(agent.to_string());
            }
            self.requeue(&id, true).await;
        }
        let live = self.state.sessions().any(|s| {
            s.rec().agent.as_deref() == Some(agent) && s.rec().state == SessionState::Live
        });
        if live {
            self.later(
                self.dir.agent_grace(),
                Event::GraceExpired {
                    agent: agent.to_string(),
                    seq,
                },
            );
        }
    }

    /// The grace period passed and the agent is still away: each live
    /// session goes back to the front of its queue.
    pub(super) async fn grace_expired(&mut self, agent: &str, seq: u64) {
        let still_gone = self.state.agent(agent).is_some_and(|a| {
            a.grace_seq == seq && a.availability == Some(assign::Availability::Off)
        });
        if !still_gone {
            return;
        }
        let live: Vec<String> = self
            .state
            .sessions()
            .filter(|s| {
                s.rec().agent.as_deref() == Some(agent) && s.rec().state == SessionState::Live
            })
            .map(|s| s.rec().id.clone())
            .collect();
        for id in live {
            info!(session = %id, %agent, "agent gone: session re-queued at the front");
            self.requeue(&id, true).await;
            self.tell_customer(&id, Text::AgentLeft, &[]).await;
        }
        self.assign_waiting().await;
        self.broadcast_status().await;
    }
}

fn bare(jid: &str) -> &str {
    jid.split('/').next().unwrap_or(jid)
}
