//! What a session reaches: the few settings it reads, the tasks and the
//! shutdown it joins, the store (the writer deletes delivered offline
//! messages), and the router as traits, so that the session names nothing
//! above it.

use jid::FullJid;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::SessionHandle;
use crate::config::Settings;
use crate::store::Store;
use crate::xml::Stanza;

/// The router's session table, as a session and the negotiation resuming
/// one reach it. Calls are rare (bind, resume, end) and not async, so a
/// trait object serves.
pub trait SessionTable: Send + Sync {
    /// Adds a session; returns the one it replaces (same full JID), which
    /// the caller closes with `<conflict/>` (RFC 6120 §7.7.2.2).
    fn insert(&self, session: Arc<SessionHandle>) -> Option<Arc<SessionHandle>>;
    /// Removes exactly this session (a replacement with the same JID stays).
    fn remove(&self, session: &SessionHandle);
    /// XEP-0198: `id` may resume `session`.
    fn set_resumable(&self, id: &str, session: Arc<SessionHandle>);
    fn resumable(&self, id: &str) -> Option<Arc<SessionHandle>>;
    fn forget_resumable(&self, id: &str);
    /// Sessions of `jid`'s account bound to another resource: what a new
    /// binding is counted against (`[limits] sessions_per_account`).
    fn others(&self, jid: &FullJid) -> usize;
}

/// What a session hands the router. Sessions take it as a type parameter,
/// not a trait object: an async call through `dyn` boxes a future, and
/// this one is made for every stanza a client sends.
pub trait SessionRouter: SessionTable + 'static {
    /// A stanza the client sent, its `from` stamped: the router routes it
    /// and copies it to the sender's other resources if carbons say so.
    fn route_from_client(
        &self,
        session: &SessionHandle,
        stanza: Stanza,
    ) -> impl Future<Output = ()> + Send;
    /// A stanza the session gives back: messages it could not deliver
    /// before it ended, addressed again.
    fn route(&self, stanza: Stanza) -> impl Future<Output = ()> + Send;
    /// The session ended: it goes unavailable for everyone who saw it.
    fn session_gone(&self, session: &SessionHandle) -> impl Future<Output = ()> + Send;
}

/// Shared by every session of a server.
pub struct SessionContext<R> {
    pub router: Arc<R>,
    /// The server's JID, `from` of the idle pings.
    pub agent_domain: String,
    /// Room in a session's queue of stanzas for its client.
    pub queue: usize,
    /// Unacknowledged stanzas (XEP-0198) before the session is closed.
    pub max_unacked: usize,
    /// Silence after which the client is pinged, and how long it has to
    /// answer.
    pub idle_timeout: Duration,
    pub ping_timeout: Duration,
    /// How long a session with a lost connection waits to be resumed.
    pub resume_timeout: Duration,
    /// How long the client may take nothing of what is written to it
    /// before its connection counts as lost.
    pub send_timeout: Duration,
    pub store: Store,
    pub tasks: TaskTracker,
    pub shutdown: CancellationToken,
}

impl<R> SessionContext<R> {
    pub fn new(
        router: Arc<R>,
        settings: &Settings,
        store: Store,
        tasks: TaskTracker,
        shutdown: CancellationToken,
    ) -> SessionContext<R> {
        SessionContext {
            router,
            agent_domain: settings.agent_domain.clone(),
            queue: settings.limits.session_queue,
            max_unacked: settings.limits.max_unacked,
            idle_timeout: settings.c2s.idle_timeout,
            ping_timeout: settings.c2s.ping_timeout,
            resume_timeout: settings.c2s.resume_timeout,
            send_timeout: settings.limits.send_timeout,
            store,
            tasks,
            shutdown,
        }
    }
}
