//! What Switchboard learned about a session's customer and what routing
//! decided from it: kept as JSON in the session's `context` column, so a
//! restart keeps each session's requirements, and shown to agents.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// The customer as identified when the session opened.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Ident {
    /// The name the customer gave (XEP-0172 nick on the first message:
    /// web chat visitors' widget sends the name the site's token carries).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `xmpp`, `web`, or the network behind a transport (`sms`, `irc`...).
    pub channel: String,
    /// The customer's domain: their XMPP server, or the transport.
    pub domain: String,
    /// The domain's disco identity, e.g. `gateway/sms`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_name: Option<String>,
    /// Where the channel came from: `disco`, `config` (the admin's
    /// `[protocols]` map), `local` (an account here), or `default`.
    pub channel_source: String,
    /// Longest message the channel carries, in characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_os: Option<String>,
    /// The client's disco identity type (pc, phone, web, bot...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_kind: Option<String>,
    /// `verified`, `mismatch` (the hash did not match its disco#info) or
    /// absent when the client sent no caps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caps: Option<String>,
    /// Feature names; None when nothing answered, which adaptation reads as
    /// "send everything as it is".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub features: Option<BTreeSet<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    /// Questions answered before the chat (elicitation), by key.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub answers: BTreeMap<String, String>,
}

/// What routing decided, and what the agent must be able to do.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Needs {
    /// The rule that matched, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// Skills on top of the queue's.
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub skills: BTreeSet<String>,
    /// The protocol the agent must serve; None: any agent of the queue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Features the agent's client must have.
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub agent_features: BTreeSet<String>,
    /// True when the rule's fallback applied because nobody capable was on
    /// duty.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub fallback: bool,
    /// The language a rule said to speak to the customer in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Escalated: the agent must handle one of these categories.
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub categories: BTreeSet<String>,
    /// Escalated into a queue without a tier of its own: this tier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<u8>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Context {
    pub ident: Ident,
    pub needs: Needs,
    /// The dialog before routing (questions, self-service), once begun.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dialog: Option<Progress>,
    /// The last escalation to a second level, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalation: Option<Escalation>,
    /// The callback this session was opened for, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback: Option<CallbackNote>,
}

/// A session opened for a booked callback: which, for when, in which
/// zone, from which chat, and whether the customer was written to yet (until
/// then the agent holds it and the customer hears nothing of it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CallbackNote {
    pub id: String,
    pub due_at: i64,
    pub timezone: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_session: Option<String>,
    pub written: bool,
}

/// A first-level agent's escalation: who, why, and the categories the
/// classifier read in the transcript (or an agent corrected).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Escalation {
    /// The first-level agent's bare JID.
    pub by: String,
    pub note: String,
    pub at: i64,
    /// Best first, with the classifier's scores (1.0 when corrected).
    pub categories: Vec<(String, f64)>,
    /// The agent who corrected the categories, if one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub corrected_by: Option<String>,
    /// The queue the session was in before.
    pub from_queue: String,
}

impl Escalation {
    /// "billing 0.82, delivery 0.31".
    pub fn categories_line(&self) -> String {
        self.categories
            .iter()
            .map(|(c, s)| format!("{c} {s:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub fn names(&self) -> Vec<&str> {
        self.categories.iter().map(|(c, _)| c.as_str()).collect()
    }
}

/// Where a session is in its dialog; stored, so that a restart resumes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Progress {
    /// The `[[dialog]]`'s name.
    pub name: String,
    pub step: Step,
    /// Refused answers to the question being asked.
    pub attempts: u32,
    /// Answers the customer said did not help, and messages no article
    /// matched: what the handoff rules count.
    pub unhelpful: u32,
    pub no_match: u32,
    /// The customer said no to an invitation; invitations wait until one
    /// of the counts above grows again.
    pub declined: bool,
    /// Article ids offered as a numbered menu (suggestions, related).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub menu: Vec<String>,
    /// The article last given, whose "did it help?" is pending.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answered: Option<String>,
    /// What happened, in order: shown to the agent who takes over.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub path: Vec<PathStep>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// Asking the dialog's question at this index.
    Asking(usize),
    SelfService,
    /// Asked whether they want an agent.
    Invited,
    /// Over: the session is routed.
    #[default]
    Done,
}

/// One step of the path: when (ms), what the customer wrote (shortened),
/// and what came of it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathStep {
    pub at: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub said: String,
    pub did: String,
}

impl Progress {
    pub fn done(&self) -> bool {
        self.step == Step::Done
    }

    pub fn record(&mut self, at: i64, said: &str, did: String) {
        let said = said.trim();
        let mut short: String = said.chars().take(80).collect();
        if short.len() < said.len() {
            short.push('…');
        }
        // Bounded: a customer chatting with the assistant all day must not
        // grow the stored context without end.
        if self.path.len() >= 50 {
            self.path.remove(0);
        }
        self.path.push(PathStep {
            at,
            said: short,
            did,
        });
    }

    /// The path for the agent, one line a step.
    pub fn describe(&self) -> Vec<String> {
        if self.path.is_empty() {
            return Vec::new();
        }
        let mut lines = vec![format!(
            "Before you (dialog {}; {} unhelpful, {} unanswered):",
            self.name, self.unhelpful, self.no_match
        )];
        for p in &self.path {
            let at = crate::xml::chrono_stamp(p.at);
            let time = at.get(11..16).unwrap_or(&at);
            if p.said.is_empty() {
                lines.push(format!("  {time} {}", p.did));
            } else {
                lines.push(format!("  {time} \"{}\" → {}", p.said, p.did));
            }
        }
        lines
    }
}

impl Context {
    pub fn from_json(text: Option<&str>) -> Context {
        text.and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or_default()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a context always serializes")
    }

    /// Lines for the agent: how the customer reaches us, with what, and
    /// why the session came to them.
    pub fn describe(&self) -> Vec<String> {
        let i = &self.ident;
        let mut lines = Vec::new();
        if let Some(name) = &i.name {
            lines.push(format!("Customer: {name}"));
        }
        let mut channel = format!("Channel: {}", i.channel);
        if i.channel != "xmpp" || i.channel_source == "config" {
            channel.push_str(&format!(" via {}", i.domain));
        } else {
            channel.push_str(&format!(" ({})", i.domain));
        }
        let mut notes = Vec::new();
        if let Some(n) = &i.network {
            notes.push(n.clone());
        }
        if i.channel_source == "config" {
            notes.push("set by the admin".into());
        }
        if let Some(m) = i.max_length {
            notes.push(format!("max {m} characters per message"));
        }
        if !notes.is_empty() {
            channel.push_str(&format!(" [{}]", notes.join(", ")));
        }
        lines.push(channel);
        let client = match (&i.client, &i.client_version) {
            (Some(n), Some(v)) => format!("{n} {v}"),
            (Some(n), None) => n.clone(),
            _ => "unknown".into(),
        };
        let mut extra = Vec::new();
        if let Some(os) = &i.client_os {
            extra.push(os.clone());
        }
        if let Some(k) = &i.client_kind {
            extra.push(k.clone());
        }
        if let Some(c) = &i.caps {
            extra.push(format!("caps {c}"));
        }
        let extra = if extra.is_empty() {
            String::new()
        } else {
            format!(" ({})", extra.join(", "))
        };
        lines.push(format!("Client: {client}{extra}"));
        lines.push(match &i.features {
            Some(f) if f.is_empty() => "Features: none".into(),
            Some(f) => format!(
                "Features: {}",
                f.iter().map(String::as_str).collect::<Vec<_>>().join(", ")
            ),
            None => "Features: unknown".into(),
        });
        if let Some(l) = &i.lang {
            lines.push(format!("Language: {l}"));
        }
        for (k, v) in &i.answers {
            lines.push(format!("Answer {k}: {v}"));
        }
        let n = &self.needs;
        let mut routing = match &n.rule {
            Some(r) => format!("Routed by rule {r}"),
            None => "Routed by entry (no rule matched)".into(),
        };
        if n.fallback {
            routing.push_str(", fallback: nobody able to serve the channel was on duty");
        }
        if let Some(p) = &n.protocol {
            routing.push_str(&format!("; agent protocol {p}"));
        }
        if !n.skills.is_empty() {
            let s: Vec<_> = n.skills.iter().map(String::as_str).collect();
            routing.push_str(&format!("; skills {}", s.join(", ")));
        }
        if !n.agent_features.is_empty() {
            let s: Vec<_> = n.agent_features.iter().map(String::as_str).collect();
            routing.push_str(&format!("; agent client needs {}", s.join(", ")));
        }
        lines.push(routing);
        if let Some(e) = &self.escalation {
            let at = crate::xml::chrono_stamp(e.at);
            lines.push(format!(
                "Escalated by {} at {}: {}",
                e.by,
                at.get(11..16).unwrap_or(&at),
                e.note
            ));
            let how = match &e.corrected_by {
                Some(who) => format!(" (corrected by {who})"),
                None => String::new(),
            };
            lines.push(format!("Categories: {}{how}", e.categories_line()));
        }
        if let Some(c) = &self.callback {
            let from = c
                .from_session
                .as_deref()
                .map(|s| format!(", booked in {s}"))
                .unwrap_or_default();
            lines.push(format!(
                "Callback {} for {}{from}",
                c.id,
                super::callbacks::when_text(c.due_at, &c.timezone, None)
            ));
        }
        if let Some(d) = &self.dialog {
            lines.extend(d.describe());
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_tolerates_old_rows() {
        let mut c = Context::default();
        c.ident.channel = "sms".into();
        c.ident.features = Some(BTreeSet::from(["receipts".to_string()]));
        c.needs.protocol = Some("sms".into());
        assert_eq!(Context::from_json(Some(&c.to_json())), c);
        // Sessions stored before identification existed have no context.
        assert_eq!(Context::from_json(None), Context::default());
        assert_eq!(Context::from_json(Some("{}")), Context::default());
    }

    #[test]
    fn describes_a_transport_customer() {
        let mut c = Context {
            ident: Ident {
                channel: "sms".into(),
                domain: "sms.support.example".into(),
                network: Some("gateway/sms".into()),
                channel_source: "disco".into(),
                max_length: Some(160),
                features: Some(BTreeSet::new()),
                ..Ident::default()
            },
            needs: Needs::default(),
            dialog: None,
            escalation: None,
            callback: None,
        };
        c.needs.rule = Some("sms".into());
        c.needs.protocol = Some("sms".into());
        let text = c.describe().join("\n");
        assert!(text.contains(
            "Channel: sms via sms.support.example [gateway/sms, max 160 characters per message]"
        ));
        assert!(text.contains("Client: unknown"));
        assert!(text.contains("Features: none"));
        assert!(text.contains("Routed by rule sms; agent protocol sms"));
    }
}
