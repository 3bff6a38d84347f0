//! What every feature of the gateway works on: the actor's `Core` (the
//! state, the ports to the rest of the server, the configuration in force,
//! and each feature's own bookkeeping), the events it schedules for
//! itself, and the few helpers every feature uses. The actor's loop and
//! the order in which features hear of changes are in `mod.rs`; each
//! feature adds its methods to `Core` in its own file.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use jid::Jid;
use tokio::sync::oneshot;

use super::answers;
use super::assign::Availability;
use super::directory::Directory;
use super::journal;
use super::ports::{Clock, Outbox};
use super::state;
use crate::xml::{Condition, Stanza};

/// What the actor reacts to, besides what the router hands it (stanzas
/// for the support domain, local accounts' presence changes).
pub enum Event {
    /// An offer made with this sequence number ran out of time.
    OfferExpired { session: String, seq: u64 },
    /// An agent who went offline with live sessions did not come back.
    GraceExpired { agent: String, seq: u64 },
    /// agents.toml / routing.toml were reloaded.
    Reload(Arc<Directory>),
    /// Time to close sessions idle longer than `session_idle_secs`.
    Sweep,
    /// A session's identification ran out of time.
    IdentifyTimeout { session: String },
    /// A dialog's question asked with this number went unanswered.
    DialogTimeout { session: String, seq: u64 },
    /// A booked callback's lead time: its agent gets the session.
    CallbackLead { id: String, seq: u64 },
    /// A booked callback's time: the customer is written to.
    CallbackDue { id: String, seq: u64 },
    /// Answered once every event and stanza sent before it is handled and
    /// what the bridge accepted is stored and relayed.
    Settled(oneshot::Sender<()>),
}

pub(super) struct Core {
    pub out: Arc<dyn Outbox>,
    pub clock: Clock,
    pub agent_domain: String,
    pub web_domain: Option<String>,
    pub timers: Timers,
    /// Sessions and agents: changed only through its methods.
    pub state: state::State,
    pub dir: Arc<Directory>,
    pub support: String,
    pub cursors: HashMap<String, usize>,
    /// Availability of agents hosted on other servers, per resource, from
    /// the presence they send the support domain once subscribed.
    pub remote_presence: HashMap<String, HashMap<String, Availability>>,
    /// The status each entry JID last announced, to broadcast changes only.
    pub entry_status: HashMap<String, EntryStatus>,
    /// Identification answers and the queries still out.
    pub ident: answers::Cache,
    /// Stores bridged messages in batches and relays them once stored.
    pub journal: journal::Journal,
    /// Each agent's client features, when known (see `agent_features`).
    pub agent_feats: HashMap<String, BTreeSet<String>>,
    /// XEP-0363 slots are granted with this (`upload.rs`); None: no upload.
    pub upload: Option<super::upload::UploadService>,
    /// Booked callbacks and customers booking one (`callbacks/`).
    pub callbacks: super::callbacks::Callbacks,
    /// The receipt of the stanza being handled: what stores the stanza
    /// takes it along; otherwise it is dropped when the handling ends.
    pub receipt: crate::receipt::Receipt,
    /// What the customers' servers may send again after a crash.
    pub resends: super::resends::Resends,
}

impl Core {
    pub(super) fn is_agent(&self, bare: &str) -> bool {
        self.dir.agent(bare).is_some()
    }

    pub(super) fn proxy_jid(&self, id: &str) -> String {
        format!("{id}@{}", self.support)
    }

    /// Schedules an event for later (offer timeouts); the actor never
    /// sleeps, it waits for the earliest timer among its other inputs.
    pub(super) fn later(&mut self, after: Duration, event: Event) {
        let due = self.clock.now_ms() + after.as_millis() as i64;
        self.timers.add(due, event);
    }

    pub(super) async fn route(&self, s: Stanza) {
        self.out.route(s).await;
    }

    /// The error reply to a stanza sent to the support domain.
    pub(super) async fn bounce(&self, s: &Stanza, cond: Condition, text: Option<&str>) {
        if let Some(reply) = crate::xml::error_reply(s, cond, text, &self.support) {
            self.route(reply).await;
        }
    }
}

/// The bare part of a JID, without the new string and validation of
/// `Jid::to_bare`: the JID was validated when the router parsed it.
pub(super) fn bare(jid: &Jid) -> &str {
    let s = jid.as_str();
    s.split_once('/').map_or(s, |(bare, _)| bare)
}

/// What an entry JID's presence says: whether anyone is there to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum EntryStatus {
    /// A capable agent can take a live chat now.
    Open,
    /// Agents are on duty but busy: the wait is about this many minutes.
    Busy(u64),
    /// Inside business hours, but nobody able to serve is on duty.
    Unstaffed,
    /// Outside the queue's business hours.
    Closed,
}

/// The actor's pending timers, earliest first; equal times keep the order
/// they were set in.
#[derive(Default)]
pub(super) struct Timers {
    due: BTreeMap<(i64, u64), Event>,
    seq: u64,
}

impl Timers {
    pub(super) fn add(&mut self, due_ms: i64, event: Event) {
        self.seq += 1;
        self.due.insert((due_ms, self.seq), event);
    }

    pub(super) fn next_due(&self) -> Option<i64> {
        self.due.keys().next().map(|(due, _)| *due)
    }

    pub(super) fn pop_due(&mut self, now_ms: i64) -> Option<Event> {
        let entry = self.due.first_entry()?;
        if entry.key().0 > now_ms {
            return None;
        }
        Some(entry.remove())
    }
}

/// A session id: `s-` and seven lowercase letters or digits (JID
/// localparts compare case-insensitively, so no capitals).
pub(super) fn new_session_id() -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut rng = rand::thread_rng();
    let tail: String = (0..7)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect();
    format!("s-{tail}")
}
