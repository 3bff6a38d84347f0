//! Supervisors: agents with `role = "supervisor"` in agents.toml. They see
//! the queues and agents live (`queues`, `agents`), and they watch a live
//! session without a word to anyone (`monitor s-ID`): both sides reach them
//! from the session's proxy JID, labelled. What they then write to that JID
//! is a whisper, which only the agent sees; `barge` turns it into lines to
//! the customer under the supervisor's name, and `takeover` makes the chat
//! theirs. Each of these is in the transcript with who did it; a whisper is
//! never relayed to the customer.

use jid::Jid;

use super::actor::{bare, Core};
use super::bridge::chat;
use super::journal::Entry;
use super::state::{Change, Monitor};
use crate::config::Text;
use crate::store::{Direction, NewMessage, SessionState};
use crate::xml::{Condition, Stanza};

/// Commands for supervisors only, to the support domain (with a session
/// id where one is needed) or, while monitoring, to the session's proxy.
pub(super) const COMMANDS: &[&str] = &[
    "queues",
    "agents",
    "monitor",
    "unmonitor",
    "whisper",
    "barge",
    "takeover",
];

/// A supervisor's command sent to a session's proxy, as the support
/// domain takes it: the session id first, for the commands that need one.
pub(super) fn at_session(cmd: &str, id: &str, arg: String) -> String {
    match cmd {
        "queues" | "agents" => arg,
        _ => format!("{id} {arg}"),
    }
}

/// Supervisors follow a session that moves and are told when it closes.
pub(super) async fn on_change(core: &mut Core, change: &Change) {
    let (id, what) = match change {
        Change::Closed { sess, .. } => {
            for m in &sess.monitors {
                let line = format!("Session {} closed; you no longer monitor it.", sess.id());
                let proxy = core.proxy_jid(sess.id());
                core.route(chat(&proxy, &m.jid, &line)).await;
            }
            return;
        }
        Change::Assigned { id, agent } => {
            let name = core
                .dir
                .agent(agent)
                .map_or(agent.clone(), |a| a.name.clone());
            (id, format!("now with {name}"))
        }
        Change::Requeued { id, .. } => {
            let queue = core
                .state
                .session(id)
                .map(|s| s.rec().queue.clone())
                .unwrap_or_default();
            (id, format!("waiting in queue {queue}"))
        }
        _ => return,
    };
    core.to_monitors(
        id,
        &format!("[session {id} is {what}; you still monitor it]"),
    )
    .await;
}

impl Core {
    pub(super) fn is_supervisor(&self, jid: &str) -> bool {
        self.dir.agent(jid).is_some_and(|a| a.supervisor)
    }

    /// A supervisor's command; `s` is answered with `forbidden` for anyone
    /// else. The reply to show them.
    pub(super) async fn supervise(
        &mut self,
        who: &str,
        cmd: &str,
        arg: &str,
        s: Option<&Stanza>,
    ) -> Option<String> {
        if !self.is_supervisor(who) {
            if let Some(s) = s {
                self.bounce(s, Condition::Forbidden, Some("for supervisors only"))
                    .await;
            }
            return None;
        }
        let (id, rest) = arg.split_once(' ').unwrap_or((arg, ""));
        let (id, rest) = (id.trim().to_string(), rest.trim().to_string());
        Some(match cmd {
            "queues" => self.queues_report(),
            "agents" => self.agents_report(),
            _ if self.state.session(&id).is_none() => {
                format!("No open session '{id}': write {cmd} s-SESSION (see queues).")
            }
            "monitor" => self.monitor(who, &id).await,
            "unmonitor" => self.unmonitor(who, &id).await,
            "whisper" => self.whisper(who, &id, &rest).await,
            "barge" => self.barge(who, &id, &rest).await,
            "takeover" => self.take_over(who, &id).await,
            _ => return None,
        })
    }

    async fn monitor(&mut self, who: &str, id: &str) -> String {
        let Some(sess) = self.state.session_mut(id) else {
            return format!("No open session {id}.");
        };
        if sess.monitors.iter().any(|m| m.jid == who) {
            return format!("You already monitor {id}.");
        }
        sess.monitors.push(Monitor {
            jid: who.to_string(),
            barged: false,
        });
        self.log_event(
            id,
            who,
            &format!("monitoring started by {}", self.name_of(who)),
        )
        .await;
        format!(
            "Monitoring {id}: both sides come to you from {proxy}. What you write there is a \
             whisper only the agent sees; barge (there) speaks to the customer, takeover takes \
             the chat, unmonitor stops.\n{}",
            self.session_info(id),
            proxy = self.proxy_jid(id)
        )
    }

    async fn unmonitor(&mut self, who: &str, id: &str) -> String {
        let Some(sess) = self.state.session_mut(id) else {
            return format!("No open session {id}.");
        };
        let before = sess.monitors.len();
        sess.monitors.retain(|m| m.jid != who);
        if sess.monitors.len() == before {
            return format!("You do not monitor {id}.");
        }
        self.log_event(
            id,
            who,
            &format!("monitoring stopped by {}", self.name_of(who)),
        )
        .await;
        format!("You no longer monitor {id}.")
    }

    /// To the agent only, stored as a whisper; the other monitors see it.
    async fn whisper(&mut self, who: &str, id: &str, text: &str) -> String {
        if text.is_empty() {
            return "Write whisper s-SESSION TEXT.".into();
        }
        let Some(agent) = self
            .state
            .session(id)
            .and_then(|s| s.agent())
            .map(str::to_string)
        else {
            return format!("Nobody to whisper to: {id} is waiting for an agent.");
        };
        let label = format!("[whisper from {}] {text}", self.name_of(who));
        let proxy = self.proxy_jid(id);
        let mut then = vec![chat(&proxy, &agent, &label)];
        then.extend(self.monitor_copies(id, &label, Some(who)));
        let row = NewMessage {
            session_id: id.to_string(),
            direction: Direction::Whisper,
            sender: who.to_string(),
            body: Some(text.to_string()),
            stanza: String::new(),
            created_at: self.clock.now_ms(),
            delivered: true,
        };
        self.journal
            .append(Entry {
                row: Some(row),
                then,
                tracked: 0,
                writer: None,
                receipt: Default::default(),
            })
            .await;
        String::new()
    }

    /// Joins the conversation: the customer is told who, and what the
    /// supervisor writes from now on (and `text`, if any) goes to them.
    async fn barge(&mut self, who: &str, id: &str, text: &str) -> String {
        let name = self.name_of(who);
        let Some(sess) = self.state.session_mut(id) else {
            return format!("No open session {id}.");
        };
        let first = match sess.monitors.iter_mut().find(|m| m.jid == who) {
            Some(m) => !std::mem::replace(&mut m.barged, true),
            None => {
                sess.monitors.push(Monitor {
                    jid: who.to_string(),
                    barged: true,
                });
                true
            }
        };
        if first {
            self.log_event(id, who, &format!("{name} barged in")).await;
            self.tell_customer(id, Text::SupervisorJoined, &[("name", &name)])
                .await;
            if let Some(agent) = self.state.session(id).and_then(|s| s.agent()) {
                let line =
                    format!("[{name} joined the conversation: the customer sees what they write]");
                self.to_agent_text(id, agent, &line).await;
            }
        }
        if !text.is_empty() {
            self.say_to_customer_as(who, id, text).await;
        }
        if first {
            format!("You are in the conversation {id}: the customer sees what you write there.")
        } else {
            String::new()
        }
    }

    /// The chat becomes the supervisor's, whatever their load.
    async fn take_over(&mut self, who: &str, id: &str) -> String {
        if self.state.session(id).and_then(|s| s.agent()) == Some(who) {
            return format!("{id} is already yours.");
        }
        let name = self.name_of(who);
        self.log_event(id, who, &format!("taken over by {name}"))
            .await;
        if let Some(s) = self.state.session_mut(id) {
            s.monitors.retain(|m| m.jid != who);
        }
        let state = match self.state.session(id).map(|s| s.state()) {
            Some(SessionState::Async) => SessionState::Async,
            _ => SessionState::Live,
        };
        self.hand_over(id, who, state, "was taken over by").await;
        format!("{id} is yours now.")
    }

    /// A stanza from a monitoring supervisor to the session's proxy.
    pub(super) async fn monitor_wrote(&mut self, from: &Jid, id: &str, s: Stanza) {
        let who = bare(from).to_string();
        let Some(body) = s.body().filter(|_| s.kind() == crate::xml::Kind::Message) else {
            return;
        };
        let reply = match super::commands::parse(&body) {
            Some((cmd, arg)) if COMMANDS.contains(&cmd.as_str()) => {
                let arg = at_session(&cmd, id, arg);
                self.supervise(&who, &cmd, &arg, Some(&s)).await
            }
            Some((cmd, _)) if cmd == "info" => Some(self.info_with_person(id).await),
            _ => {
                let barged = self
                    .state
                    .session(id)
                    .is_some_and(|x| x.monitors.iter().any(|m| m.jid == who && m.barged));
                if barged {
                    self.say_to_customer_as(&who, id, &body).await;
                    None
                } else {
                    Some(self.whisper(&who, id, &body).await)
                }
            }
        };
        if let Some(r) = reply.filter(|r| !r.is_empty()) {
            let proxy = self.proxy_jid(id);
            self.route(chat(&proxy, &who, &r)).await;
        }
    }

    /// A barged-in supervisor's line to the customer: from the entry JID
    /// with their name, stored as the agent's lines are; the agent and the
    /// other monitors get a copy.
    async fn say_to_customer_as(&mut self, who: &str, id: &str, text: &str) {
        let Some(sess) = self.state.session(id) else {
            return;
        };
        let name = self.name_of(who);
        let m = super::bridge::with_nick(
            chat(&sess.rec().entry_jid, &sess.rec().customer_jid, text),
            Some(&name),
        );
        let mut then = super::adapt::adapt(&m, self.customer_target(id));
        let label = format!("[{name} to the customer] {text}");
        if let Some(agent) = sess.agent() {
            then.push(chat(&self.proxy_jid(id), agent, &label));
        }
        then.extend(self.monitor_copies(id, &label, Some(who)));
        let row = NewMessage {
            session_id: id.to_string(),
            direction: Direction::Out,
            sender: who.to_string(),
            body: Some(text.to_string()),
            stanza: String::from_utf8_lossy(m.bytes()).into_owned(),
            created_at: self.clock.now_ms(),
            delivered: true,
        };
        if let Some(s) = self.state.session_mut(id) {
            s.last_reply_ms = self.clock.now_ms();
        }
        self.journal
            .append(Entry {
                row: Some(row),
                then,
                tracked: 0,
                writer: None,
                receipt: Default::default(),
            })
            .await;
    }

    /// Copies of a line of the session for its monitors (but `except`),
    /// from the proxy JID: what the bridge relays, they see.
    pub(super) fn monitor_copies(&self, id: &str, line: &str, except: Option<&str>) -> Vec<Stanza> {
        let Some(sess) = self.state.session(id) else {
            return Vec::new();
        };
        let proxy = self.proxy_jid(id);
        sess.monitors
            .iter()
            .filter(|m| Some(m.jid.as_str()) != except)
            .map(|m| chat(&proxy, &m.jid, line))
            .collect()
    }

    pub(super) async fn to_monitors(&self, id: &str, line: &str) {
        for m in self.monitor_copies(id, line, None) {
            self.route(m).await;
        }
    }

    pub(super) fn name_of(&self, jid: &str) -> String {
        self.dir
            .agent(jid)
            .map_or(jid.to_string(), |a| a.name.clone())
    }
}
