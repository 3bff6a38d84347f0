//! Connected XEP-0114 components by domain: the router hands stanzas for a
//! component's domain to its connection's bounded queue.

use std::collections::HashMap;
use std::sync::RwLock;

use tokio::sync::mpsc;

use crate::xml::Stanza;

#[derive(Default)]
pub struct Components {
    connected: RwLock<HashMap<String, mpsc::Sender<Stanza>>>,
}

impl Components {
    /// Registers the connection of `domain`, replacing an older one (whose
    /// queue then closes, ending it).
    pub fn attach(&self, domain: &str, tx: mpsc::Sender<Stanza>) {
        self.connected
            .write()
            .expect("component table")
            .insert(domain.to_string(), tx);
    }

    /// Forgets `domain`'s connection if `tx` is still the registered one.
    pub fn detach(&self, domain: &str, tx: &mpsc::Sender<Stanza>) {
        let mut map = self.connected.write().expect("component table");
        if map.get(domain).is_some_and(|t| t.same_channel(tx)) {
            map.remove(domain);
        }
    }

    pub fn sender(&self, domain: &str) -> Option<mpsc::Sender<Stanza>> {
        self.connected
            .read()
            .expect("component table")
            .get(domain)
            .cloned()
    }
}
