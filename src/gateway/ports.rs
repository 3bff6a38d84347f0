//! What the gateway needs of the rest of the server, and nothing more: a
//! way out for stanzas, the agent domain's rosters and sessions, and the
//! time. The server hands it the router ([`Outbox`] is implemented for
//! it below); the in-process tests hand it a recording outbox and a
//! manual clock, so that every decision, time-outs included, can be driven
//! without sockets, peers or sleeping.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use jid::{BareJid, FullJid};
use tokio::sync::watch;

use crate::router::Router;
use crate::store::RosterItem;
use crate::xml::Stanza;

/// A send in progress. Boxed so the outbox can be a trait object: one
/// small allocation per stanza, next to the stanza's own bytes.
pub type Sending<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// Where the gateway's stanzas go, and what it asks of the agent domain.
pub trait Outbox: Send + Sync + 'static {
    /// Routes a stanza the gateway wrote (or relays). Waits while the
    /// receiver's queue is full: the gateway slows down rather than
    /// buffering without limit.
    fn route(&self, s: Stanza) -> Sending<'_>;
    /// Stores a work-list contact in a local agent's roster and pushes it
    /// to their interested resources.
    fn roster_set<'a>(&'a self, owner: &'a BareJid, item: &'a RosterItem) -> Sending<'a>;
    /// Removes a work-list contact from a local agent's roster.
    fn roster_remove<'a>(&'a self, owner: &'a BareJid, contact: &'a str) -> Sending<'a>;
    /// The connected resources of a local account, with their presence.
    fn resources(&self, bare: &BareJid) -> Vec<Resource>;
}

/// One connected resource of a local account, as presence left it.
pub struct Resource {
    pub jid: FullJid,
    /// Sent available presence and not yet unavailable.
    pub available: bool,
    /// The last presence it broadcast.
    pub presence: Option<Stanza>,
}

impl Outbox for Router {
    fn route(&self, s: Stanza) -> Sending<'_> {
        Box::pin(Router::route(self, s))
    }

    fn roster_set<'a>(&'a self, owner: &'a BareJid, item: &'a RosterItem) -> Sending<'a> {
        Box::pin(Router::roster_set(self, owner, item))
    }

    fn roster_remove<'a>(&'a self, owner: &'a BareJid, contact: &'a str) -> Sending<'a> {
        Box::pin(Router::roster_remove(self, owner, contact))
    }

    fn resources(&self, bare: &BareJid) -> Vec<Resource> {
        self.table
            .sessions(bare)
            .iter()
            .map(|s| {
                let st = s.state();
                Resource {
                    jid: s.jid.clone(),
                    available: st.available,
                    presence: st.last.clone(),
                }
            })
            .collect()
    }
}

/// The gateway's time: the system's in production; in tests a manual
/// clock that moves only when told, and wakes the actor's timers when it
/// does. Every reading of "now" in the gateway goes through it, so a test
/// of an offer time-out or an idle close is exact and instant.
#[derive(Clone, Default)]
pub struct Clock {
    manual: Option<Arc<Manual>>,
}

struct Manual {
    now_ms: AtomicI64,
    moved: watch::Sender<i64>,
}

impl Clock {
    pub fn system() -> Clock {
        Clock { manual: None }
    }

    /// A clock that reads `start_ms` until [`Clock::advance`] moves it.
    pub fn manual(start_ms: i64) -> Clock {
        Clock {
            manual: Some(Arc::new(Manual {
                now_ms: AtomicI64::new(start_ms),
                moved: watch::Sender::new(start_ms),
            })),
        }
    }

    /// Moves a manual clock forward; timers that fall due fire.
    pub fn advance(&self, by: Duration) {
        if let Some(m) = &self.manual {
            let now =
                m.now_ms.fetch_add(by.as_millis() as i64, Ordering::SeqCst) + by.as_millis() as i64;
            m.moved.send_replace(now);
        }
    }

    /// Milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> i64 {
        match &self.manual {
            None => crate::util::now_ms(),
            Some(m) => m.now_ms.load(Ordering::SeqCst),
        }
    }

    /// The same instant, for calendars.
    pub fn timestamp(&self) -> jiff::Timestamp {
        jiff::Timestamp::from_millisecond(self.now_ms()).unwrap_or_else(|_| jiff::Timestamp::now())
    }

    /// Completes once the clock reads `due_ms` or later.
    pub async fn until(&self, due_ms: i64) {
        match &self.manual {
            None => {
                let wait = (due_ms - crate::util::now_ms()).max(0) as u64;
                tokio::time::sleep(Duration::from_millis(wait)).await;
            }
            Some(m) => {
                let mut moved = m.moved.subscribe();
                // Only fails if the clock is dropped, which it is not while
                // `self` holds it.
                let _ = moved.wait_for(|now| *now >= due_ms).await;
            }
        }
    }
}
