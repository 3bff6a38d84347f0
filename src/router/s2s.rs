//! The pool of outbound s2s links, one per (local domain, remote domain):
//! the first stanza for a pair starts a link; stanzas wait in its bounded
//! queue while it is set up; a link that cannot be set up bounces what
//! waited, and an idle one detaches itself so the next stanza starts
//! afresh. What a link that was up leaves unacknowledged (XEP-0198) or
//! unsent goes out again on a new one; twice in a row without the peer
//! acknowledging anything, and it is bounced: a peer that drops every link
//! does not get the same stanzas forever.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::mpsc::{self, error::TrySendError};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::Router;
use crate::stream::s2s::{outbound, S2sContext};
use crate::xml::Condition;
use crate::xml::Stanza;

/// Where the router sends what goes to other servers. A trait, so that a
/// router can be built without TLS and a resolver behind it.
pub trait S2sLinks: Send + Sync {
    /// Queues `stanza` from `local` for `remote`, without waiting. A
    /// refusal gives the stanza back with the condition to bounce it with
    /// (boxed: the rare path should not widen the common one).
    fn send(
        &self,
        local: &str,
        remote: &str,
        stanza: Stanza,
    ) -> Result<(), Box<(Stanza, Condition)>>;
}

type Pair = (String, String);

/// The queues of the links that are up, shared with the links' tasks.
/// Senders are only used under this lock (and never awaited on), so a link
/// can check "empty, then detach" without a stanza slipping in.
#[derive(Default)]
struct Links(Mutex<HashMap<Pair, mpsc::Sender<Stanza>>>);

/// Per pair, the links in a row that died without the peer acknowledging
/// anything.
#[derive(Default)]
struct Failures(Mutex<HashMap<Pair, u32>>);

pub struct Pool {
    links: Arc<Links>,
    failures: Arc<Failures>,
    ctx: Arc<S2sContext>,
    /// What a failed link bounces through; weak, as the router owns the pool.
    router: Weak<Router>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
}

impl Pool {
    pub fn new(
        ctx: Arc<S2sContext>,
        router: Weak<Router>,
        shutdown: CancellationToken,
        tasks: TaskTracker,
    ) -> Pool {
        Pool {
            links: Arc::default(),
            failures: Arc::default(),
            ctx,
            router,
            shutdown,
            tasks,
        }
    }

    fn spawn(&self, key: Pair, rx: mpsc::Receiver<Stanza>) {
        let ctx = self.ctx.clone();
        let weak = self.router.clone();
        let links = self.links.clone();
        let failures = self.failures.clone();
        let shutdown = self.shutdown.clone();
        self.tasks.spawn(async move {
            let (local, remote) = key.clone();
            let idle_key = key.clone();
            let idle_links = links.clone();
            let idle_weak = weak.clone();
            let idle_close = move |q: &mut mpsc::Receiver<Stanza>| {
                idle_weak.strong_count() == 0 || idle_links.detach_if_empty(&idle_key, q)
            };
            let ended = outbound::run(ctx, local, remote, rx, shutdown, idle_close).await;
            let Some(router) = weak.upgrade() else {
                return;
            };
            links.forget(&key);
            let again = failures.again(&key, &ended);
            let left = ended.unacked.into_iter().chain(ended.unsent);
            match ended.error {
                Some(e) if !again => {
                    let text = e.to_string();
                    for s in left {
                        router.bounce(&s, e.condition(), Some(&text)).await;
                    }
                }
                // A clean close with stanzas still queued, or a link that
                // died: a new link.
                _ => {
                    for s in left {
                        router.route(s).await;
                    }
                }
            }
        });
    }
}

impl S2sLinks for Pool {
    fn send(
        &self,
        local: &str,
        remote: &str,
        stanza: Stanza,
    ) -> Result<(), Box<(Stanza, Condition)>> {
        let key = (local.to_string(), remote.to_string());
        let mut links = self.links.lock();
        let stanza = match links.get(&key) {
            Some(tx) => match tx.try_send(stanza) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Full(s)) => {
                    return Err(Box::new((s, Condition::ResourceConstraint)))
                }
                // The link is ending: a new one takes over.
                Err(TrySendError::Closed(s)) => s,
            },
            None => stanza,
        };
        let (tx, rx) = mpsc::channel(self.ctx.settings.s2s.queue);
        let _ = tx.try_send(stanza);
        links.insert(key.clone(), tx);
        drop(links);
        self.spawn(key, rx);
        Ok(())
    }
}

impl Failures {
    /// Whether what `ended` left goes out again rather than back to its
    /// senders.
    fn again(&self, key: &Pair, ended: &outbound::Ended) -> bool {
        let mut map = self.0.lock().expect("s2s failures");
        if ended.error.is_none() || ended.progressed {
            map.remove(key);
            return ended.error.is_none() || ended.established;
        }
        if !ended.established {
            map.remove(key);
            return false;
        }
        let n = map.entry(key.clone()).or_insert(0);
        *n += 1;
        if *n >= 2 {
            map.remove(key);
            return false;
        }
        true
    }
}

impl Links {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Pair, mpsc::Sender<Stanza>>> {
        self.0.lock().expect("s2s pool")
    }

    fn detach_if_empty(&self, key: &Pair, queue: &mut mpsc::Receiver<Stanza>) -> bool {
        let mut links = self.lock();
        if !queue.is_empty() {
            return false;
        }
        queue.close();
        if links.get(key).is_some_and(|tx| tx.is_closed()) {
            links.remove(key);
        }
        true
    }

    /// Drops the entry of a link whose queue is closed (its task ended).
    fn forget(&self, key: &Pair) {
        let mut links = self.lock();
        if links.get(key).is_some_and(|tx| tx.is_closed()) {
            links.remove(key);
        }
    }
}
