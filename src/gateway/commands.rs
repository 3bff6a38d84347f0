//! Agents' plain-text commands, sent to a session's proxy JID, for every
//! client (ad-hoc commands come later with the same actions):
//! `/take`, `/close`, `/note TEXT`, `/transfer AGENT|QUEUE`, `/list`.

use jid::Jid;

use super::Core;
use crate::store::{Direction, SessionState};
use crate::util::now_ms;
use crate::xml::{ns, Stanza};

impl Core {
    pub(super) async fn command(&mut self, from: &Jid, id: &str, s: &Stanza) {
        let text = s
            .element()
            .ok()
            .and_then(|e| e.get_child("body", ns::CLIENT).map(|b| b.text()))
            .unwrap_or_default();
        let line = text.trim();
        let (cmd, arg) = line.split_once(' ').unwrap_or((line, ""));
        let agent = from.to_bare().to_string();
        let reply = match cmd {
            "/take" => {
                let offered = self
                    .sessions
                    .get(id)
                    .is_some_and(|x| x.rec.state == SessionState::Offered);
                if offered {
                    self.assign(id, &agent, SessionState::Live).await;
                    None
                } else {
                    Some("Nothing to take: the session is not offered to you.".to_string())
                }
            }
            "/close" => {
                self.close(id, "closed by agent").await;
                Some("Closed.".to_string())
            }
            "/note" if !arg.trim().is_empty() => {
                let _ = self
                    .store
                    .message_append(
                        id,
                        Direction::Note,
                        &agent,
                        Some(arg.trim()),
                        "",
                        now_ms(),
                        true,
                    )
                    .await;
                Some("Noted.".to_string())
            }
            "/list" => Some(self.work_of(&agent)),
            "/transfer" if !arg.trim().is_empty() => {
                Some(self.transfer(id, arg).await).filter(|r| !r.is_empty())
            }
            _ => Some(
                "Commands: /take, /close, /note TEXT, /transfer AGENT|QUEUE, /list".to_string(),
            ),
        };
        if let Some(text) = reply {
            self.to_agent_text(id, &agent, &text).await;
        }
    }

    fn work_of(&self, agent: &str) -> String {
        let mut lines: Vec<String> = self
            .sessions
            .values()
            .filter(|s| s.rec.agent.as_deref() == Some(agent))
            .map(|s| {
                format!(
                    "{} {} {}",
                    s.rec.state.as_str(),
                    self.proxy_jid(&s.rec.id),
                    s.rec.customer_jid
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
