//! Agents' actions, reachable three ways with the same effect: plain text
//! sent to a session's proxy JID (`take`, `close`, `!note TEXT`,
//! `!transfer AGENT|QUEUE`, `!push URL [title]`, `info`, `list`, and the
//! linked identities' `!link JID`, `unlink`, `history`), plain text sent to the
//! support domain itself, the control JID (the same with a session id
//! first, plus `on` and `off` for duty), and XEP-0050 ad-hoc commands
//! (`adhoc.rs`).
//!
//! Most clients (Profanity, Gajim, Dino) take a line starting with `/` as
//! their own command and never send it, so a command may start with `!`
//! or `/`, and one without an argument may be written as the bare word:
//! a message that is exactly `take` is not something an agent would say
//! to a customer. Commands with an argument need the `!` or `/`, since
//! "note that…" is.

use jid::Jid;

use super::actor::{bare, Core};
use crate::store::{Direction, SessionState};
use crate::xml::Stanza;

pub(super) const HELP: &str =
    "Commands (the word alone, or after ! or /): take, close, info, list, help; \
     with text after ! or /: !note TEXT, !transfer AGENT|QUEUE, !push URL [title] (shows the customer a page), \
     canned (the canned answers), !c NAME (sends one). \
     Linked identities: !link JID|s-SESSION (the same person), unlink [JID], history (the person's sessions). \
     Second level: !escalate NOTE (or !escalate CATEGORY: NOTE), !category NAME (corrects it). \
     To the support domain: list, on, off, callbacks (the ones booked with you), or a command with a session id (!close s-abc2345). \
     Supervisors, to the support domain: queues, agents, !monitor s-ID, !unmonitor s-ID, \
     !whisper s-ID TEXT, !barge s-ID [TEXT], !takeover s-ID, !callbacks reassign cb-ID AGENT, \
     !callbacks cancel cb-ID; while monitoring, plain text to the \
     session is a whisper, and barge, takeover, unmonitor work there alone.";

/// Commands that take no argument, accepted as a bare word.
const BARE: &[&str] = &[
    "take",
    "close",
    "info",
    "list",
    "help",
    "on",
    "off",
    "canned",
    "history",
    "unlink",
    "queues",
    "agents",
    "barge",
    "takeover",
    "unmonitor",
    "callbacks",
];

impl Core {
    /// One action on session `id` by `agent`; the reply to show them.
    pub(super) async fn action(&mut self, agent: &str, id: &str, cmd: &str, arg: &str) -> String {
        let Some(sess) = self.state.session(id) else {
            return format!("No open session {id}.");
        };
        if sess.rec().agent.as_deref() != Some(agent) {
            return format!("Session {id} is not yours.");
        }
        match cmd {
            "take" => {
                if sess.rec().state == SessionState::Offered {
                    self.assign(id, agent, SessionState::Live).await;
                    format!("Session {id} is yours.")
                } else {
                    "Nothing to take: the session is not offered to you.".to_string()
                }
            }
            "close" => {
                self.close(id, "closed by agent").await;
                format!("Session {id} closed.")
            }
            "note" if !arg.trim().is_empty() => {
                // After what the journal holds, so the transcript keeps order.
                self.journal.flush().await;
                let stored = self
                    .state
                    .store()
                    .message_append(
                        id,
                        Direction::Note,
                        agent,
                        Some(arg.trim()),
                        "",
                        self.clock.now_ms(),
                        true,
                    )
                    .await;
                match stored {
                    Ok(_) => "Noted.".to_string(),
                    Err(_) => "The note was not stored; try again.".to_string(),
                }
            }
            "transfer" if !arg.trim().is_empty() => {
                let r = self.transfer(id, arg).await;
                if r.is_empty() {
                    format!("Session {id} transferred.")
                } else {
                    r
                }
            }
            "push" => self.push(agent, id, arg).await,
            "c" | "canned" if !arg.trim().is_empty() => self.send_canned(agent, id, arg).await,
            "canned" => self.canned_list(),
            "info" => self.info_with_person(id).await,
            "escalate" => self.escalate(agent, id, arg).await,
            "category" => self.correct_category(agent, id, arg).await,
            "link" => self.link_command(agent, id, arg).await,
            "unlink" => self.unlink_command(agent, id, arg).await,
            "history" => self.history(id).await,
            _ => HELP.to_string(),
        }
    }

    /// Who the customer is, how they reach us and why the session came
    /// here: the same lines as at assignment.
    pub(super) fn session_info(&self, id: &str) -> String {
        let Some(sess) = self.state.session(id) else {
            return format!("No open session {id}.");
        };
        let mut lines = vec![format!(
            "Session {id} · {} · queue {} · {}",
            sess.rec().customer_jid,
            sess.rec().queue,
            sess.rec().state.as_str()
        )];
        if sess.routed() || sess.ctx().dialog.is_some() {
            lines.extend(sess.ctx().describe());
        } else {
            lines.push("Identification is still under way.".into());
        }
        if sess.mood.messages > 0 {
            let m = &sess.mood;
            lines.push(format!(
                "Mood: {:.2}{} (peak {:.2}, over {} messages)",
                m.frustration,
                if m.frustrated() { ", frustrated" } else { "" },
                m.peak,
                m.messages
            ));
        }
        lines.join("\n")
    }

    /// A command (see [`parse`]) sent to a session's proxy JID.
    pub(super) async fn command(&mut self, from: &Jid, id: &str, cmd: String, arg: String) {
        let agent = bare(from).to_string();
        let reply = match cmd.as_str() {
            "list" => self.work_of(&agent),
            "callbacks" => self.callbacks_command(&agent, &arg).await,
            c if super::supervise::COMMANDS.contains(&c) => {
                let arg = super::supervise::at_session(c, id, arg);
                match self.supervise(&agent, &cmd, &arg, None).await {
                    Some(r) => r,
                    None => "Forbidden: that command is for supervisors.".into(),
                }
            }
            _ => self.action(&agent, id, &cmd, &arg).await,
        };
        // A closed session's proxy is gone from the work list; answer anyway.
        self.to_agent_text(id, &agent, &reply).await;
    }

    /// Plain text to the support domain (the control JID).
    pub(super) async fn control(&mut self, from: &Jid, s: &Stanza) {
        let agent = bare(from).to_string();
        if !self.is_agent(&agent) {
            return self
                .bounce(s, crate::xml::Condition::Forbidden, Some("for agents only"))
                .await;
        }
        // Chat states and chatter get no answer: only what looks like a
        // command does (the help, if it is none we know).
        let Some((cmd, arg)) = s.body().as_deref().and_then(parse) else {
            return;
        };
        let reply = match cmd.as_str() {
            "list" => self.work_of(&agent),
            "callbacks" => self.callbacks_command(&agent, &arg).await,
            "on" | "off" => self.duty(&agent, cmd == "on").await,
            c if super::supervise::COMMANDS.contains(&c) => {
                match self.supervise(&agent, &cmd, &arg, Some(s)).await {
                    Some(r) if r.is_empty() => return,
                    Some(r) => r,
                    // Answered with `forbidden`.
                    None => return,
                }
            }
            _ => {
                let (id, rest) = arg.split_once(' ').unwrap_or((arg.as_str(), ""));
                if id.starts_with("s-") {
                    let (id, rest) = (id.to_string(), rest.to_string());
                    self.action(&agent, &id, &cmd, &rest).await
                } else {
                    HELP.to_string()
                }
            }
        };
        let m = super::bridge::chat(&self.support, s.from().unwrap_or(&agent), &reply);
        self.route(m).await;
    }

    /// Going off duty makes an agent unavailable to routing whatever their
    /// presence says; on duty, presence decides again.
    pub(super) async fn duty(&mut self, agent: &str, on: bool) -> String {
        self.state.agent_mut(agent).off_duty = !on;
        self.assign_waiting().await;
        self.broadcast_status().await;
        if on {
            "You are on duty.".to_string()
        } else {
            "You are off duty: no new sessions.".to_string()
        }
    }

    pub(super) fn work_of(&self, agent: &str) -> String {
        let mut lines: Vec<String> = self
            .state
            .sessions()
            .filter(|s| s.rec().agent.as_deref() == Some(agent))
            .map(|s| {
                format!(
                    "{} {} {}",
                    s.rec().state.as_str(),
                    self.proxy_jid(&s.rec().id),
                    s.rec().customer_jid
                )
            })
            .collect();
        lines.sort();
        if lines.is_empty() {
            "No sessions.".to_string()
        } else {
            lines.join("\n")
        }
    }
}

/// The command in a message body, if it is one: "!transfer Bob" or
/// "/transfer Bob" → ("transfer", "Bob"); "take" alone → ("take", "").
pub(super) fn parse(body: &str) -> Option<(String, String)> {
    let line = body.trim();
    let word = |w: &str| w.to_ascii_lowercase();
    match line.strip_prefix(['!', '/']) {
        Some(rest) => {
            // Profanity sends "//take" as "/take"; "!!take" is a typo.
            let rest = rest.trim_start_matches(['!', '/']);
            let (cmd, arg) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            (!cmd.is_empty()).then(|| (word(cmd), arg.trim().to_string()))
        }
        None => BARE
            .iter()
            .any(|b| b.eq_ignore_ascii_case(line))
            .then(|| (word(line), String::new())),
    }
}
