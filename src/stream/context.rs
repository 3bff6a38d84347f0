//! What the negotiations reach: the listeners' TLS, the settings, the
//! credentials in the store, the s2s context, the shutdown and the tasks
//! they join, and the router as a trait, so that a stream names nothing
//! above it.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::s2s::S2sContext;
use super::web_login::WebKeys;
use crate::config::Settings;
use crate::limit::{Doorman, LoginGuard};
use crate::receipt::Receipt;
use crate::store::Store;
use crate::xml::Stanza;

/// Shared by every stream of a server.
pub struct StreamContext {
    pub settings: Arc<Settings>,
    /// c2s TLS, STARTTLS and direct.
    pub tls: Arc<rustls::ServerConfig>,
    /// Where SASL finds the accounts' stored keys.
    pub store: Store,
    pub s2s: Arc<S2sContext>,
    /// How web visitors log in; None without a web domain.
    pub web: Option<Arc<WebKeys>>,
    /// Connections per address, on every listener (`[limits]`).
    pub doorman: Doorman,
    /// Failed logins per address and account (`[limits]`).
    pub logins: LoginGuard,
    pub shutdown: CancellationToken,
    pub tasks: TaskTracker,
}

/// What an inbound s2s stream and a component hand the router. Taken as a
/// type parameter, not a trait object: an async call through `dyn` boxes
/// a future, and this one is made for every stanza.
pub trait StreamRouter: Send + Sync + 'static {
    /// A stanza whose addresses the stream has checked.
    fn route(&self, stanza: Stanza) -> impl Future<Output = ()> + Send;
    /// The same, for a stream that acknowledges the stanza (XEP-0198) once
    /// `receipt` is dropped: when it is stored, delivered or answered.
    fn route_received(&self, stanza: Stanza, receipt: Receipt) -> impl Future<Output = ()> + Send;
    /// Stanzas for `domain` go to `queue` from now on, replacing an older
    /// connection's (whose queue then closes, ending it).
    fn attach_component(&self, domain: &str, queue: mpsc::Sender<Stanza>);
    /// Forgets `domain`'s connection if `queue` is still the registered one.
    fn detach_component(&self, domain: &str, queue: &mpsc::Sender<Stanza>);
}
