//! Server-to-server streams (RFC 6120, XEP-0178, XEP-0220): one state
//! machine per file.
//!
//! - [`inbound`]: a peer connects to us: STARTTLS, then SASL EXTERNAL or
//!   dialback, then its stanzas go to the router.
//! - [`outbound`]: we connect to a peer for one (local, remote) domain pair,
//!   authenticate, then write what the router's pool queues.
//! - [`verify`]: the one-shot dialback connection that asks a peer's
//!   authoritative server whether a key is genuine.
//! - [`dialback`]: keys (XEP-0185) and `db:` elements.

pub mod dialback;
pub mod inbound;
pub mod outbound;
pub mod verify;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::config::Settings;
use crate::net::pki::{CertProblem, TrustStore};
use crate::net::resolve::{ResolveError, S2sResolver};
use crate::net::tls::CertResolver;
use crate::net::Transport;
use crate::xml::escape_attr;

/// What every s2s stream needs, built once at start-up.
pub struct S2sContext {
    pub settings: Arc<Settings>,
    pub trust: TrustStore,
    pub resolver: S2sResolver,
    pub certs: Arc<CertResolver>,
    /// Inbound TLS: asks peers for a certificate without requiring one.
    /// For direct TLS (no stream header yet): chosen by SNI.
    pub server_tls: Arc<rustls::ServerConfig>,
    /// For STARTTLS, per local domain named in the stream header, for peers
    /// that send no SNI.
    server_tls_for: HashMap<String, Arc<rustls::ServerConfig>>,
    client_tls: Mutex<HashMap<String, Arc<rustls::ClientConfig>>>,
    pub keys: dialback::Keys,
}

impl S2sContext {
    pub fn new(
        settings: Arc<Settings>,
        trust: TrustStore,
        certs: Arc<CertResolver>,
        resolver: S2sResolver,
    ) -> Result<S2sContext, crate::net::tls::TlsError> {
        let server_tls = trust.s2s_server_config(certs.clone())?;
        let mut server_tls_for = HashMap::new();
        for d in settings.domains() {
            let resolver = Arc::new(certs.defaulting_to(d));
            server_tls_for.insert(d.to_string(), trust.s2s_server_config(resolver)?);
        }
        let keys = dialback::Keys::new(settings.s2s.dialback_secret.as_deref());
        Ok(S2sContext {
            settings,
            trust,
            resolver,
            certs,
            server_tls,
            server_tls_for,
            client_tls: Mutex::new(HashMap::new()),
            keys,
        })
    }

    /// Inbound STARTTLS on a stream addressed to `local`.
    pub fn server_tls_for(&self, local: &str) -> Arc<rustls::ServerConfig> {
        self.server_tls_for
            .get(local)
            .cloned()
            .unwrap_or_else(|| self.server_tls.clone())
    }

    /// Outbound TLS presenting our certificate for `local` as client
    /// certificate, for peers that authenticate us with SASL EXTERNAL.
    pub fn client_tls(&self, local: &str) -> Arc<rustls::ClientConfig> {
        let mut cache = self.client_tls.lock().expect("client TLS cache");
        cache
            .entry(local.to_string())
            .or_insert_with(|| self.trust.s2s_client_config(self.certs.for_domain(local)))
            .clone()
    }

    /// Whether the peer on `transport` proved `domain` with its certificate.
    pub fn peer_proves(&self, transport: &Transport, domain: &str) -> Result<(), CertProblem> {
        let chain = transport.peer_certificates().unwrap_or_default();
        self.trust.verify_peer(&chain, domain)
    }

    pub fn is_local(&self, domain: &str) -> bool {
        self.settings.domains().contains(&domain)
    }
}

/// Our stream header on an s2s stream. `xmlns:db` is always declared:
/// dialback peers look for it (XEP-0220 §2.1), and it costs nothing.
pub fn header(from: &str, to: &str, id: Option<&str>) -> String {
    let id = id
        .map(|i| format!(" id='{}'", escape_attr(i)))
        .unwrap_or_default();
    format!(
        "<?xml version='1.0'?><stream:stream xmlns='jabber:server' \
         xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' \
         from='{}' to='{}'{id} version='1.0'>",
        escape_attr(from),
        escape_attr(to)
    )
}

/// Why an outbound stream or a dialback verification failed; each maps to
/// the stanza error the senders of waiting stanzas get.
#[derive(Debug, thiserror::Error)]
pub enum S2sError {
    #[error("{0}")]
    Resolve(#[from] ResolveError),
    #[error("{0}")]
    Stream(#[from] crate::xml::StreamError),
    #[error("TLS: {0}")]
    Tls(std::io::Error),
    #[error("the peer offers no TLS and encryption is required")]
    NoTls,
    #[error("the peer's certificate does not prove its domain: {0}")]
    Untrusted(CertProblem),
    #[error("the peer refused our authentication: {0}")]
    Refused(String),
    #[error("the peer offers no authentication we can use")]
    NoAuth,
    #[error("the peer broke the protocol: {0}")]
    Protocol(String),
    #[error("timed out")]
    Timeout,
}

impl S2sError {
    /// The stanza error for stanzas that could not be sent (RFC 6120 §8.3.3).
    pub fn condition(&self) -> crate::xml::Condition {
        use crate::xml::Condition;
        match self {
            S2sError::Timeout => Condition::RemoteServerTimeout,
            S2sError::Resolve(e) if e.is_timeout() => Condition::RemoteServerTimeout,
            _ => Condition::RemoteServerNotFound,
        }
    }
}
