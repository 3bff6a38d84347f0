//! The session table: which resources of which accounts are connected, and
//! which sessions may be resumed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use jid::{BareJid, FullJid};

use super::Router;
use crate::session::{SessionHandle, SessionTable};

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

impl SessionTable for Router {
    fn insert(&self, session: Arc<SessionHandle>) -> Option<Arc<SessionHandle>> {
        self.table.insert(session)
    }

    fn remove(&self, session: &SessionHandle) {
        self.table.remove(session)
    }

    fn set_resumable(&self, id: &str, session: Arc<SessionHandle>) {
        self.table.set_resumable(id, session)
    }

    fn resumable(&self, id: &str) -> Option<Arc<SessionHandle>> {
        self.table.resumable(id)
    }

    fn forget_resumable(&self, id: &str) {
        self.table.forget_resumable(id)
    }

    fn others(&self, jid: &FullJid) -> usize {
        let map = self.table.by_bare.read().unwrap_or_else(|e| e.into_inner());
        let bare = jid.clone().into_bare();
        map.get(&bare)
            .map_or(0, |list| list.iter().filter(|s| s.jid != *jid).count())
    }
}
