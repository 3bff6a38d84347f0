//! A session's mailbox, as the router reaches it: the writer's two bounded
//! queues and the per-session state routing decisions read (presence,
//! priority, carbons, roster interest). One type for both sides, so the
//! router's table holds the very handle the session's tasks drain.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use jid::{BareJid, FullJid};

use super::{Control, Inbox, SmShared};
use crate::xml::Stanza;

/// What the router knows of a session's presence (RFC 6121 §4).
#[derive(Debug, Default)]
pub struct PresenceState {
    /// Sent initial presence and not yet unavailable.
    pub available: bool,
    pub priority: i8,
    /// The last broadcast presence, answered to probes.
    pub last: Option<Stanza>,
    /// Requested the roster: gets roster pushes (RFC 6121 §2.1.6).
    pub interested: bool,
    /// XEP-0280 carbons enabled.
    pub carbons: bool,
    /// Full JIDs that got directed presence; they get unavailable at the end.
    pub directed: HashSet<String>,
}

/// One bound resource, as the router reaches it.
pub struct SessionHandle {
    pub id: u64,
    pub jid: FullJid,
    /// `jid` without its resource, made once: `FullJid::to_bare` formats
    /// and re-validates a new string, too slow for every stanza.
    pub bare: BareJid,
    /// Stanzas for the client, boxed so that a queue holding a few keeps a
    /// few words. See `Inbox` for why not a tokio channel.
    queue: Inbox<Box<Stanza>>,
    /// Acks, pings, closes, resumption: the writer takes them first.
    control: Inbox<Box<Control>>,
    pub state: Mutex<PresenceState>,
    /// XEP-0198 counters shared by the session's reader and writer.
    pub sm: Arc<SmShared>,
}

impl SessionHandle {
    pub fn new(jid: FullJid, queue: usize, control: usize) -> SessionHandle {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        SessionHandle {
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            bare: jid.clone().into_bare(),
            jid,
            queue: Inbox::new(queue),
            control: Inbox::new(control),
            state: Mutex::new(PresenceState::default()),
            sm: Arc::new(SmShared::default()),
        }
    }

    /// Queues a stanza for the client. Waits while the queue is full, which
    /// pauses the sender instead of buffering without limit; the session's
    /// writer never waits on another session, so this cannot deadlock.
    pub async fn deliver(&self, stanza: Stanza) {
        if self.queue.send(Box::new(stanza)).await.is_err() {
            tracing::debug!(jid = %self.jid, "session gone before delivery");
        }
    }

    /// Hands the writer a control message; false once the writer is gone.
    pub async fn tell(&self, c: Control) -> bool {
        self.control.send(Box::new(c)).await.is_ok()
    }

    /// The writer's ends of the two queues.
    pub(super) fn queues(&self) -> (&Inbox<Box<Stanza>>, &Inbox<Box<Control>>) {
        (&self.queue, &self.control)
    }

    pub fn state(&self) -> std::sync::MutexGuard<'_, PresenceState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn is_available(&self) -> bool {
        self.state().available
    }

    pub fn priority(&self) -> i8 {
        self.state().priority
    }
}
