//! The pool of outbound s2s links, one per (local domain, remote domain):
//! the first stanza for a pair starts a link; stanzas wait in its bounded
//! queue while it is set up; a link that fails bounces what waited, and an
//! idle one detaches itself so the next stanza starts afresh.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::mpsc::{self, error::TrySendError};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::Router;
use crate::stream::s2s::{outbound, S2sContext};
use crate::xml::Condition;
use crate::xml::Stanza;

type Pair = (String, String);

pub struct Pool {
    /// Senders are only used under this lock (and never awaited on), so a
    /// link can check "empty, then detach" without a stanza slipping in.
    links: Mutex<HashMap<Pair, mpsc::Sender<Stanza>>>,
    ctx: Arc<S2sContext>,
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
            links: Mutex::new(HashMap::new()),
            ctx,
            router,
            shutdown,
            tasks,
        }
    }

    pub fn context(&self) -> &Arc<S2sContext> {
        &self.ctx
    }

    /// Queues `stanza` for `remote`, starting a link if none is up. A full
    /// queue gives the stanza back with `resource-constraint` (boxed: the
    /// rare path should not widen the common one).
    pub fn send(
        &self,
        local: &str,
        remote: &str,
        stanza: Stanza,
    ) -> Result<(), Box<(Stanza, Condition)>> {
        let key = (local.to_string(), remote.to_string());
        let mut links = self.links.lock().expect("s2s pool");
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

    fn spawn(&self, key: Pair, rx: mpsc::Receiver<Stanza>) {
        let ctx = self.ctx.clone();
        let weak = self.router.clone();
        let shutdown = self.shutdown.clone();
        self.tasks.spawn(async move {
            let (local, remote) = key.clone();
            let idle_key = key.clone();
            let idle_weak = weak.clone();
            let idle_close = move |q: &mut mpsc::Receiver<Stanza>| {
                idle_weak
                    .upgrade()
                    .is_none_or(|r| r.s2s.detach_if_empty(&idle_key, q))
            };
            let (left, error) = outbound::run(ctx, local, remote, rx, shutdown, idle_close).await;
            let Some(router) = weak.upgrade() else {
                return;
            };
            router.s2s.forget(&key);
            match error {
                Some(e) => {
                    let text = e.to_string();
                    for s in left {
                        router.bounce(&s, e.condition(), Some(&text)).await;
                    }
                }
                // A clean close with stanzas still queued: a new link.
                None => {
                    for s in left {
                        router.route(s).await;
                    }
                }
            }
        });
    }

    fn detach_if_empty(&self, key: &Pair, queue: &mut mpsc::Receiver<Stanza>) -> bool {
        let mut links = self.links.lock().expect("s2s pool");
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
        let mut links = self.links.lock().expect("s2s pool");
        if links.get(key).is_some_and(|tx| tx.is_closed()) {
            links.remove(key);
        }
    }
}
