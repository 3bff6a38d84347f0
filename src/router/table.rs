//! The session table: which resources of which accounts are connected, and
//! the per-session state routing decisions read (presence, priority,
//! carbons, roster interest).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use jid::{BareJid, FullJid};

use crate::session::{Control, Inbox, SmShared};
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
    pub(crate) fn queues(&self) -> (&Inbox<Box<Stanza>>, &Inbox<Box<Control>>) {
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

#[derive(Default)]
pub struct Table {
    by_bare: RwLock<HashMap<BareJid, Vec<Arc<SessionHandle>>>>,
    /// Stream-management ids of sessions that may be resumed (XEP-0198).
    resumable: Mutex<HashMap<String, Arc<SessionHandle>>>,
}

impl Table {
    /// Adds a session; returns the one it replaces (same full JID), which
    /// the caller closes with `<conflict/>` (RFC 6120 §7.7.2.2).
    pub fn insert(&self, handle: Arc<SessionHandle>) -> Option<Arc<SessionHandle>> {
        let mut map = self.by_bare.write().unwrap_or_else(|e| e.into_inner());
        let list = map.entry(handle.bare.clone()).or_default();
        let old = list
            .iter()
            .position(|s| s.jid == handle.jid)
            .map(|i| list.remove(i));
        list.push(handle);
        old
    }

    /// Removes exactly this session (a replacement with the same JID stays).
    pub fn remove(&self, handle: &SessionHandle) {
        let mut map = self.by_bare.write().unwrap_or_else(|e| e.into_inner());
        let bare = &handle.bare;
        if let Some(list) = map.get_mut(bare) {
            list.retain(|s| s.id != handle.id);
            if list.is_empty() {
                map.remove(bare);
            }
        }
    }

    pub fn sessions(&self, bare: &BareJid) -> Vec<Arc<SessionHandle>> {
        let map = self.by_bare.read().unwrap_or_else(|e| e.into_inner());
        map.get(bare).cloned().unwrap_or_default()
    }

    pub fn session(&self, jid: &FullJid) -> Option<Arc<SessionHandle>> {
        let map = self.by_bare.read().unwrap_or_else(|e| e.into_inner());
        map.get(&jid.clone().into_bare())?
            .iter()
            .find(|s| s.jid == *jid)
            .cloned()
    }

    /// Every session, for shutdown.
    pub fn all(&self) -> Vec<Arc<SessionHandle>> {
        let map = self.by_bare.read().unwrap_or_else(|e| e.into_inner());
        map.values().flatten().cloned().collect()
    }

    pub fn set_resumable(&self, id: &str, handle: Arc<SessionHandle>) {
        let mut map = self.resumable.lock().unwrap_or_else(|e| e.into_inner());
        map.insert(id.to_string(), handle);
    }

    pub fn resumable(&self, id: &str) -> Option<Arc<SessionHandle>> {
        let map = self.resumable.lock().unwrap_or_else(|e| e.into_inner());
        map.get(id).cloned()
    }

    pub fn forget_resumable(&self, id: &str) {
        let mut map = self.resumable.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(id);
    }
}
