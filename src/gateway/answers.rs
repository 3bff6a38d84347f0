//! What identification has learned, and the queries still out: networks
//! by domain (for an hour), clients by verified caps hash and by full JID,
//! software versions. Data only; `identify.rs` asks and reads the answers.

use std::collections::HashMap;

use super::discover::{CapsRef, ClientInfo, NetworkInfo, Software};

/// How long a domain's disco#info answer is trusted.
pub(super) const NETWORK_TTL_MS: i64 = 3_600_000;
/// Answers never come for some queries; their bookkeeping goes after this.
const ASKED_TTL_MS: i64 = 60_000;
/// Bounds on the per-JID caches: beyond them the oldest half is dropped.
const MAX_CLIENTS: usize = 20_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Query {
    Network(String),
    /// disco#info of a full JID, at the caps node when it sent caps.
    Client {
        jid: String,
        caps: Option<CapsRef>,
    },
    Software(String),
}

impl Query {
    /// Whom the query went to.
    pub(super) fn target(&self) -> &str {
        match self {
            Query::Network(j) | Query::Client { jid: j, .. } | Query::Software(j) => j,
        }
    }
}

#[derive(Default)]
pub(super) struct Cache {
    pub(super) asked: HashMap<String, (Query, i64)>,
    /// Domain → what its disco#info said (None: it did not answer) and when.
    pub(super) networks: HashMap<String, (Option<NetworkInfo>, i64)>,
    /// Caps key → the verified client it stands for.
    pub(super) caps: HashMap<String, ClientInfo>,
    /// Full JID → its client, and the caps status (`verified`/`mismatch`).
    pub(super) clients: HashMap<String, (ClientInfo, Option<&'static str>, i64)>,
    pub(super) software: HashMap<String, (Software, i64)>,
    /// Full JID → the caps its last presence announced.
    pub(super) presence_caps: HashMap<String, CapsRef>,
}

impl Cache {
    pub(super) fn trim(&mut self, now: i64) {
        self.asked.retain(|_, (_, at)| now - *at < ASKED_TTL_MS);
        self.networks
            .retain(|_, (_, at)| now - *at < NETWORK_TTL_MS);
        for map_len in [self.clients.len(), self.software.len()] {
            if map_len > MAX_CLIENTS {
                let cut = now - ASKED_TTL_MS * 60;
                self.clients.retain(|_, (_, _, at)| *at > cut);
                self.software.retain(|_, (_, at)| *at > cut);
            }
        }
    }

    /// Drops what is known of `bare`'s resources that are not in `online`.
    pub(super) fn forget_resources_of(&mut self, bare: &str, online: &[String]) {
        let prefix = format!("{bare}/");
        let gone = |k: &String| k.starts_with(&prefix) && !online.contains(k);
        self.presence_caps.retain(|k, _| !gone(k));
        self.clients.retain(|k, _| !gone(k));
    }

    /// The client behind a full JID: from its own answer, else from the
    /// verified caps its presence announced.
    pub(super) fn client_of(&self, full: &str) -> Option<(ClientInfo, Option<&'static str>)> {
        if let Some((c, status, _)) = self.clients.get(full) {
            return Some((c.clone(), *status));
        }
        let caps = self.presence_caps.get(full)?;
        self.caps
            .get(&caps.key())
            .map(|c| (c.clone(), Some("verified")))
    }
}
