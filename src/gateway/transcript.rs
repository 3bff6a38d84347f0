//! `switchboard transcript SESSION`: a session's whole story for the
//! people who review it: who the customer is (every linked identity), how
//! the session was routed and answered, its escalation and categories,
//! which agents held it, and every line in order: the customer's, the
//! agents', Switchboard's own, notes, whispers, pushed pages and events,
//! each with who wrote it. As text, or as JSON (`--json`) for tools.
//!
//! Read from the store only, so that it works on a stopped server's
//! database as well as on a running one's.

use serde::Serialize;

use super::context::Context;
use crate::store::{Direction, Store, StoreError, TranscriptEntry};
use crate::xml::ns;

#[derive(Debug, thiserror::Error)]
pub enum TranscriptError {
    #[error("no session {0}")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The transcript as `--json` prints it.
#[derive(Debug, Serialize)]
pub struct Transcript {
    pub session: String,
    pub customer: String,
    /// The customer's other identities (linked), if any.
    pub linked: Vec<String>,
    pub entry: String,
    pub queue: String,
    pub state: String,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub close_reason: Option<String>,
    pub context: Context,
    pub agents: Vec<Held>,
    pub lines: Vec<Line>,
}

/// An agent's time with the session.
#[derive(Debug, Serialize)]
pub struct Held {
    pub agent: String,
    pub offered_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub released_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Line {
    pub at: String,
    /// customer, agent, system, note, event, whisper or push.
    pub kind: &'static str,
    pub sender: String,
    pub text: String,
}

/// Everything the store holds of session `id`.
pub async fn load(store: &Store, id: &str) -> Result<Transcript, TranscriptError> {
    let rec = store
        .session_get(id)
        .await?
        .ok_or_else(|| TranscriptError::NotFound(id.to_string()))?;
    let linked = store
        .person_customers(&rec.customer_id)
        .await?
        .into_iter()
        .filter(|c| c.id != rec.customer_id)
        .map(|c| c.jid)
        .collect();
    let agents = store
        .session_assignments(id)
        .await?
        .into_iter()
        .map(|a| Held {
            agent: a.agent,
            offered_at: stamp(a.assigned_at),
            accepted_at: a.accepted_at.map(stamp),
            released_at: a.released_at.map(stamp),
            reason: a.reason,
        })
        .collect();
    let lines = store
        .transcript(id)
        .await?
        .into_iter()
        .map(|m| line(&rec.customer_jid, m))
        .collect();
    Ok(Transcript {
        session: rec.id,
        customer: rec.customer_jid,
        linked,
        entry: rec.entry_jid,
        queue: rec.queue,
        state: rec.state.as_str().to_string(),
        created_at: stamp(rec.created_at),
        closed_at: rec.closed_at.map(stamp),
        close_reason: rec.close_reason,
        context: Context::from_json(rec.context.as_deref()),
        agents,
        lines,
    })
}

fn line(customer: &str, m: TranscriptEntry) -> Line {
    let kind = match m.direction {
        Direction::In => "customer",
        Direction::Out if m.stanza.contains(ns::SB_PUSH) => "push",
        Direction::Out => "agent",
        Direction::System => "system",
        Direction::Note => "note",
        Direction::Event => "event",
        Direction::Whisper => "whisper",
    };
    let sender = match m.direction {
        Direction::In => customer.to_string(),
        _ => m.sender.split('/').next().unwrap_or("").to_string(),
    };
    Line {
        at: stamp(m.created_at),
        kind,
        sender,
        text: m.body.unwrap_or_default(),
    }
}

fn stamp(ms: i64) -> String {
    crate::xml::chrono_stamp(ms)
}

impl Transcript {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a transcript always serializes")
    }

    /// For a person to read: the facts, then a line per entry.
    pub fn to_text(&self) -> String {
        let mut out = vec![format!(
            "Session {} · {} · queue {} · {}",
            self.session, self.customer, self.queue, self.state
        )];
        if !self.linked.is_empty() {
            out.push(format!("Linked identities: {}", self.linked.join(", ")));
        }
        out.push(format!("Entry {} · opened {}", self.entry, self.created_at));
        if let Some(c) = &self.closed_at {
            out.push(format!(
                "Closed {c} ({})",
                self.close_reason.as_deref().unwrap_or("-")
            ));
        }
        out.extend(self.context.describe());
        for h in &self.agents {
            let mut s = format!("Agent {} offered {}", h.agent, h.offered_at);
            if let Some(a) = &h.accepted_at {
                s.push_str(&format!(", took it {a}"));
            }
            if let Some(r) = &h.released_at {
                s.push_str(&format!(
                    ", left {r} ({})",
                    h.reason.as_deref().unwrap_or("-")
                ));
            }
            out.push(s);
        }
        out.push(String::new());
        for l in &self.lines {
            let who = match l.kind {
                "customer" => "customer".to_string(),
                "whisper" => format!("whisper by {}", l.sender),
                "note" => format!("note by {}", l.sender),
                "event" if l.sender.is_empty() => "event".to_string(),
                "event" => format!("event by {}", l.sender),
                "push" => format!("page pushed by {}", l.sender),
                "system" => "switchboard".to_string(),
                _ => l.sender.clone(),
            };
            out.push(format!("[{}] {who}: {}", l.at, l.text));
        }
        out.join("\n")
    }
}
