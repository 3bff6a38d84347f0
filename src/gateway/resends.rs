//! Messages a customer's server sends again after our crash. XEP-0198 on
//! its s2s link keeps what we did not acknowledge, and `mod_smacks` with
//! `smacks_s2s_resend` sends it again on the next link: including what we
//! had stored, but died before acknowledging. Stored twice, it would reach
//! the agent twice. So, for a while after start, a message is checked
//! against the last ones stored before it, by sender, id and body: the
//! same message, not a new one with the same words.
//!
//! Only rows stored before the start count, and only briefly: a client
//! that reuses ids (some count from 1 on every connection) could write
//! the same short line under an old id, and dropping that would lose it.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use jid::Jid;
use tracing::error;

use crate::store::Store;
use crate::xml::Stanza;

/// Rows looked at: more than a peer keeps unacknowledged (`mod_smacks`
/// holds up to 500 per link) over the few links a crash cuts.
const LAST_ROWS: i64 = 4096;
/// How long after the start a resend is expected: the peer's next link,
/// which it opens within seconds of the first failed write.
const WINDOW_MS: i64 = 120_000;

#[derive(Default)]
pub(super) struct Resends {
    stored: HashSet<u64>,
    until_ms: i64,
}

fn key(sender: &str, id: &str, body: &str) -> u64 {
    let mut h = DefaultHasher::new();
    (sender, id, body).hash(&mut h);
    h.finish()
}

impl Resends {
    /// The last customers' lines stored before `now_ms`, the start.
    pub async fn load(store: &Store, now_ms: i64) -> Resends {
        let rows = match store.messages_last_in(LAST_ROWS).await {
            Ok(rows) => rows,
            Err(e) => {
                // Then a resend is stored twice: a duplicate, not a loss.
                error!(error = %e, "loading the last stored messages failed");
                return Resends::default();
            }
        };
        let stored = rows
            .into_iter()
            .filter_map(|(sender, stanza, body)| {
                let s = Stanza::parse(stanza.into_bytes().into()).ok()?;
                Some(key(&sender, s.id()?, body.as_deref()?))
            })
            .collect();
        Resends {
            stored,
            until_ms: now_ms + WINDOW_MS,
        }
    }

    /// Whether `s`, from `from`, is a line stored before the start, sent
    /// again.
    pub fn is_resend(&self, from: &Jid, s: &Stanza, now_ms: i64) -> bool {
        if now_ms > self.until_ms || self.stored.is_empty() {
            return false;
        }
        match (s.id(), s.body()) {
            (Some(id), Some(body)) => self.stored.contains(&key(&from.to_string(), id, &body)),
            _ => false,
        }
    }
}
