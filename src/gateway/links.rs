//! Linked identities: one person reaching the center as several customers
//! (an XMPP account, a web visitor, an SMS number through a transport),
//! linked so that sticky routing, past sessions and notes follow the
//! person. Links are customers' facts, not a session's, so they live in the
//! store (`store/links.rs`) and this feature keeps no state of its own.
//!
//! Agents link with `/link JID|SESSION` and undo it with `/unlink [JID]`;
//! `/history` shows the person's sessions. Identities are also linked
//! without an agent when two customers were verified to hold the same
//! identifier ([`Core::verified_identifier`]): a site's logged-in web user,
//! an account number a dialog checked.

use jid::Jid;
use tracing::{error, info, warn};

use super::actor::{bare, Core};
use crate::store::{Direction, PastSession};

/// Sessions `/history` shows; the context block shows fewer.
const HISTORY: usize = 10;
const CONTEXT_SESSIONS: usize = 3;
const CONTEXT_NOTES: usize = 3;
/// A note longer than this is cut in the context block (not in /history).
const NOTE_CHARS: usize = 200;

pub(super) const LINK_USAGE: &str = "Usage: /link JID or /link s-SESSION: the customer who \
     wrote from that JID (or in that session) is the same person as this session's customer.";

/// Who a `/link` or `/unlink` names: a customer's id and bare JID.
struct Named {
    id: String,
    jid: String,
}

impl Core {
    /// `/link ARG` in session `id`, whose agent `agent` is (the caller
    /// checked); the reply to show them.
    pub(super) async fn link_command(&mut self, agent: &str, id: &str, arg: &str) -> String {
        let Some((own_id, own_jid)) = self.customer_of(id) else {
            return format!("No open session {id}.");
        };
        let arg = arg.trim();
        if arg.is_empty() {
            return LINK_USAGE.to_string();
        }
        let other = match self.named(arg).await {
            Ok(n) => n,
            Err(reply) => return reply,
        };
        if other.id == own_id {
            return format!("{own_jid} is this session's own customer: nothing to link.");
        }
        let now = self.clock.now_ms();
        let by = format!("agent:{agent}");
        match self
            .state
            .store()
            .link_customers(&own_id, &other.id, &by, now)
            .await
        {
            Ok(false) => return format!("{own_jid} and {} are already one person.", other.jid),
            Ok(true) => {}
            Err(e) => {
                error!(error = %e, session = %id, "storing a link failed");
                return "The link was not stored; try again.".to_string();
            }
        }
        info!(session = %id, %agent, customer = %own_jid, other = %other.jid, "identities linked");
        let all = self.person_jids(&own_id).await;
        self.forget_sticky(&own_id).await;
        self.note(
            id,
            agent,
            &format!("{agent} linked {own_jid} with {}.", other.jid),
        )
        .await;
        format!("Linked: one person now as {}.", all.join(", "))
    }

    /// `/unlink [JID]` in session `id`: the named identity (by default the
    /// session's customer) leaves its person.
    pub(super) async fn unlink_command(&mut self, agent: &str, id: &str, arg: &str) -> String {
        let Some((own_id, own_jid)) = self.customer_of(id) else {
            return format!("No open session {id}.");
        };
        let who = match arg.trim() {
            "" => Named {
                id: own_id.clone(),
                jid: own_jid.clone(),
            },
            arg => match self.named(arg).await {
                Ok(n) => n,
                Err(reply) => return reply,
            },
        };
        let person = self.state.store().person_customers(&own_id).await;
        let person = person.unwrap_or_default();
        if person.len() < 2 {
            return format!("{own_jid} is not linked to anyone.");
        }
        if !person.iter().any(|c| c.id == who.id) {
            return format!("{} is not linked to {own_jid}.", who.jid);
        }
        let now = self.clock.now_ms();
        let by = format!("agent:{agent}");
        if let Err(e) = self.state.store().unlink_customer(&who.id, &by, now).await {
            error!(error = %e, session = %id, "storing an unlink failed");
            return "The unlink was not stored; try again.".to_string();
        }
        info!(session = %id, %agent, customer = %who.jid, "identity unlinked");
        for c in &person {
            self.forget_sticky(&c.id).await;
        }
        self.note(
            id,
            agent,
            &format!("{agent} unlinked {} from its person.", who.jid),
        )
        .await;
        format!("Unlinked: {} is a customer of its own again.", who.jid)
    }

    /// `/history` in session `id`: the person's other sessions across
    /// every identity, newest first, with their notes.
    pub(super) async fn history(&self, id: &str) -> String {
        let Some((own_id, own_jid)) = self.customer_of(id) else {
            return format!("No open session {id}.");
        };
        let past = self.past_of(&own_id, id, HISTORY).await;
        let all = self.person_jids(&own_id).await;
        let mut lines = vec![if all.len() > 1 {
            format!("History of {own_jid} (one person as {}):", all.join(", "))
        } else {
            format!("History of {own_jid}:")
        }];
        if past.is_empty() {
            lines.push("No earlier sessions.".into());
        }
        for s in &past {
            lines.push(self.session_line(s));
            for n in &s.notes {
                lines.push(format!("  note by {}: {}", n.sender, n.body));
            }
        }
        lines.join("\n")
    }

    /// `session_info` and, when there is one, the person behind the
    /// customer: their other identities and a short summary of their
    /// earlier sessions. What an agent reads first of a session.
    pub(super) async fn info_with_person(&self, id: &str) -> String {
        let mut text = self.session_info(id);
        let Some((own_id, own_jid)) = self.customer_of(id) else {
            return text;
        };
        let others: Vec<String> = self
            .person_jids(&own_id)
            .await
            .into_iter()
            .filter(|j| *j != own_jid)
            .collect();
        if !others.is_empty() {
            text.push_str(&format!("\nSame person as: {}", others.join(", ")));
        }
        let past = self.past_of(&own_id, id, CONTEXT_SESSIONS).await;
        if past.is_empty() {
            return text;
        }
        text.push_str("\nPrevious sessions (/history for more):");
        let mut notes = 0;
        for s in &past {
            text.push('\n');
            text.push_str(&self.session_line(s));
            for n in &s.notes {
                if notes == CONTEXT_NOTES {
                    break;
                }
                notes += 1;
                let body: String = n.body.chars().take(NOTE_CHARS).collect();
                text.push_str(&format!("\n  note by {}: {body}", n.sender));
            }
        }
        text
    }

    /// Records that session `session_id`'s customer was verified to hold
    /// identifier (`kind`, `value`), e.g. ("account", "4711") once a dialog
    /// checked the account number, and makes them one person with every
    /// other customer verified to hold it. Logged, and noted in the
    /// session's transcript when it links anyone.
    pub(super) async fn verified_identifier(&mut self, session_id: &str, kind: &str, value: &str) {
        let Some((own_id, own_jid)) = self.customer_of(session_id) else {
            warn!(session = %session_id, %kind, "a verified identifier for no open session");
            return;
        };
        let now = self.clock.now_ms();
        let store = self.state.store().clone();
        let others = match store.identifier_record(&own_id, kind, value, now).await {
            Ok(o) => o,
            Err(e) => {
                error!(error = %e, session = %session_id, %kind, "storing an identifier failed");
                return;
            }
        };
        let by = format!("auto:{kind}");
        let mut linked = Vec::new();
        for other in others {
            match store.link_customers(&own_id, &other, &by, now).await {
                Ok(true) => linked.push(other),
                Ok(false) => {}
                Err(e) => error!(error = %e, session = %session_id, "storing a link failed"),
            }
        }
        if linked.is_empty() {
            return;
        }
        let mut names = Vec::new();
        for other in &linked {
            if let Ok(Some(c)) = store.customer_get(other).await {
                names.push(c.jid);
            }
        }
        // The value may be personal (a phone number): the log names the kind.
        info!(session = %session_id, customer = %own_jid, %kind, linked = ?names,
            "identities linked by a verified identifier");
        self.forget_sticky(&own_id).await;
        let support = self.support.clone();
        self.note(
            session_id,
            &support,
            &format!(
                "Linked automatically (same verified {kind}): {own_jid} is the same person as {}.",
                names.join(", ")
            ),
        )
        .await;
    }

    /// A new session's customer may be verified already by how they logged
    /// in: a web visitor with the company site's token (`u.` JIDs, see
    /// `stream/web_login.rs`) is that site user, whose id the JID carries.
    pub(super) async fn identify_person(&mut self, id: &str, customer: &str) {
        let Some((local, domain)) = customer.split_once('@') else {
            return;
        };
        if self.web_domain.as_deref() != Some(domain) {
            return;
        }
        if let Some(user) = local.strip_prefix("u.") {
            let user = user.to_string();
            self.verified_identifier(id, "web-user", &user).await;
        }
    }

    /// The open session's customer: id and bare JID.
    fn customer_of(&self, id: &str) -> Option<(String, String)> {
        let s = self.state.session(id)?;
        Some((s.rec().customer_id.clone(), s.rec().customer_jid.clone()))
    }

    /// The customer an agent names: a session id (open or past) or the
    /// bare JID of a customer who has written before; Err: the reply.
    async fn named(&self, arg: &str) -> Result<Named, String> {
        let store = self.state.store();
        let unknown = || format!("No customer {arg} has written to us. {LINK_USAGE}");
        if arg.starts_with("s-") && !arg.contains('@') {
            let rec = match self.state.session(arg) {
                Some(s) => Some(s.rec().clone()),
                None => store.session_get(arg).await.ok().flatten(),
            };
            return rec
                .map(|r| Named {
                    id: r.customer_id,
                    jid: r.customer_jid,
                })
                .ok_or_else(|| format!("No session {arg}."));
        }
        let Ok(jid) = Jid::new(arg) else {
            return Err(unknown());
        };
        let jid = bare(&jid).to_string();
        match store.customer_by_jid(&jid).await {
            Ok(Some(c)) => Ok(Named {
                id: c.id,
                jid: c.jid,
            }),
            _ => Err(unknown()),
        }
    }

    async fn person_jids(&self, customer_id: &str) -> Vec<String> {
        let person = self.state.store().person_customers(customer_id).await;
        person
            .unwrap_or_default()
            .into_iter()
            .map(|c| c.jid)
            .collect()
    }

    /// The person's sessions other than `current`, newest first.
    async fn past_of(&self, customer_id: &str, current: &str, limit: usize) -> Vec<PastSession> {
        let store = self.state.store();
        match store
            .past_sessions_of_person(customer_id, Some(current), limit as i64)
            .await
        {
            Ok(all) => all,
            Err(e) => {
                error!(error = %e, customer = %customer_id, "reading past sessions failed");
                Vec::new()
            }
        }
    }

    fn session_line(&self, s: &PastSession) -> String {
        let when = crate::xml::chrono_stamp(s.created_at);
        let when = when.get(..16).unwrap_or(when.as_str()).replace('T', " ");
        let agents = if s.agents.is_empty() {
            "no agent".to_string()
        } else {
            let names: Vec<String> = s
                .agents
                .iter()
                .map(|a| match self.dir.agent(a) {
                    Some(d) if !d.name.is_empty() => d.name.clone(),
                    _ => a.clone(),
                })
                .collect();
            names.join(", ")
        };
        let how = match (&s.close_reason, s.state.as_str()) {
            (Some(r), _) => r.clone(),
            (None, "closed") => "closed".to_string(),
            (None, state) => format!("open ({state})"),
        };
        let count = match s.messages {
            1 => "1 message".to_string(),
            n => format!("{n} messages"),
        };
        format!(
            "{when} · {} · {agents} · {how} · {count} ({})",
            s.customer_jid, s.id
        )
    }

    /// The sticky agent was looked up once per session (see `try_assign`);
    /// a link or unlink changes who it is for the person's open sessions.
    async fn forget_sticky(&mut self, customer_id: &str) {
        let person = self.state.store().person_customers(customer_id).await;
        let ids: Vec<String> = person
            .unwrap_or_default()
            .into_iter()
            .map(|c| c.id)
            .collect();
        for s in self.state.sessions_mut() {
            if ids.contains(&s.rec().customer_id) || s.rec().customer_id == customer_id {
                s.sticky = None;
            }
        }
    }

    /// A note in session `id`'s transcript, after what the journal holds.
    async fn note(&self, id: &str, sender: &str, text: &str) {
        self.record(id, Direction::Note, sender, text).await;
    }
}
