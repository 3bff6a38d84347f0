//! Peer certificates on server-to-server links (RFC 6120 §13.7.2, XEP-0178).
//!
//! TLS on s2s completes whatever the peer presents: with `secure_auth` off
//! an untrusted peer still gets an encrypted stream and then proves itself
//! with dialback. So the rustls verifiers here only check the handshake
//! signatures, and whether a chain is trusted for a domain is decided
//! afterwards by [`TrustStore::verify_peer`], once the stream says which
//! domain the peer claims to be.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::ResolvesClientCert;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, TrustAnchor, UnixTime};
use webpki::{EndEntityCert, KeyUsage};

use super::tls::{CertResolver, TlsError};

/// The ALPN protocol of XEP-0368 direct TLS for s2s. We offer it on every
/// outbound connection (servers without ALPN ignore it) and accept it
/// inbound, so direct TLS and STARTTLS share one configuration.
pub const S2S_ALPN: &[u8] = b"xmpp-server";

/// Why a peer's certificate does not authenticate the domain it claims.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertProblem {
    #[error("the peer presented no certificate")]
    NoCertificate,
    #[error("{0:?} is not a domain name a certificate can name")]
    InvalidDomain(String),
    #[error("certificate is not trusted: {0}")]
    NotTrusted(String),
    #[error("certificate is not valid for {domain} (it names {})", names(.presented))]
    WrongName {
        domain: String,
        /// The DNS names and IP addresses in the certificate, for the log.
        presented: Vec<String>,
    },
    #[error("certificate expired at {}", utc(.not_after))]
    Expired { not_after: UnixTime },
    #[error("certificate is not valid before {}", utc(.not_before))]
    NotYetValid { not_before: UnixTime },
    #[error("certificate is for neither server nor client authentication")]
    WrongUsage,
    #[error("certificate is malformed: {0}")]
    Malformed(String),
}

fn names(presented: &[String]) -> String {
    if presented.is_empty() {
        "no DNS name".to_string()
    } else {
        presented.join(", ")
    }
}

/// `2001-01-01T00:00:00Z`: readable in a log without a date crate
/// (civil-from-days, as in Howard Hinnant's date algorithms).
fn utc(t: &UnixTime) -> String {
    let secs = t.as_secs();
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// webpki reports presented names as `DnsName("a.example")`; the log
/// wants `a.example`.
fn plain_name(presented: &str) -> String {
    presented
        .strip_prefix("DnsName(\"")
        .and_then(|n| n.strip_suffix("\")"))
        .unwrap_or(presented)
        .to_string()
}

fn problem(err: webpki::Error) -> CertProblem {
    use webpki::Error as E;
    #[allow(deprecated)] // the context-free variants may still be returned
    match err {
        E::CertExpired { not_after, .. } => CertProblem::Expired { not_after },
        E::CertNotValidYet { not_before, .. } => CertProblem::NotYetValid { not_before },
        E::RequiredEkuNotFound | E::RequiredEkuNotFoundContext(_) | E::EmptyEkuExtension => {
            CertProblem::WrongUsage
        }
        E::BadDer
        | E::BadDerTime
        | E::TrailingData(_)
        | E::MalformedExtensions
        | E::ExtensionValueInvalid
        | E::InvalidCertValidity
        | E::UnsupportedCertVersion => CertProblem::Malformed(err.to_string()),
        other => CertProblem::NotTrusted(other.to_string()),
    }
}

fn is_usage_error(err: &webpki::Error) -> bool {
    #[allow(deprecated)]
    let usage = matches!(
        err,
        webpki::Error::RequiredEkuNotFound | webpki::Error::RequiredEkuNotFoundContext(_)
    );
    usage
}

/// The roots we trust for s2s peers: the system's plus the configured CA
/// file (private federations, tests).
#[derive(Debug, Clone)]
pub struct TrustStore {
    anchors: Vec<TrustAnchor<'static>>,
    provider: Arc<CryptoProvider>,
    /// Outbound configuration without a client certificate; the per-domain
    /// ones are clones of it, which cannot fail once this was built.
    client_base: Arc<rustls::ClientConfig>,
}

impl TrustStore {
    /// System roots (none is fine: a private federation brings its own) and
    /// every certificate in the PEM `ca_file`, which must parse.
    pub fn load(ca_file: Option<&Path>) -> Result<TrustStore, TlsError> {
        let system = rustls_native_certs::load_native_certs();
        for err in &system.errors {
            tracing::debug!(error = %err, "loading system root certificates");
        }
        let mut anchors: Vec<TrustAnchor<'static>> = system
            .certs
            .iter()
            // Roots the parser rejects (e.g. X.509 v1) cannot anchor a
            // chain anyway.
            .filter_map(|c| webpki::anchor_from_trusted_cert(c).ok())
            .map(|a| a.to_owned())
            .collect();
        let system_count = anchors.len();
        if let Some(path) = ca_file {
            let pem = std::fs::read(path).map_err(|source| TlsError::Io {
                path: path.to_path_buf(),
                source,
            })?;
            let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut &pem[..])
                .collect::<Result<_, _>>()
                .map_err(|source| TlsError::Io {
                    path: path.to_path_buf(),
                    source,
                })?;
            if certs.is_empty() {
                return Err(TlsError::NoCertificate(path.to_path_buf()));
            }
            for (index, cert) in certs.iter().enumerate() {
                let anchor = webpki::anchor_from_trusted_cert(cert).map_err(|e| {
                    TlsError::BadTrustAnchor {
                        path: path.to_path_buf(),
                        index,
                        reason: e.to_string(),
                    }
                })?;
                anchors.push(anchor.to_owned());
            }
        }
        tracing::debug!(
            system = system_count,
            configured = anchors.len() - system_count,
            "s2s trust anchors"
        );
        Self::with_anchors(anchors)
    }

    /// Exactly these roots, without the system's (tests, tools).
    pub fn from_roots(roots: &[CertificateDer<'_>]) -> Result<TrustStore, TlsError> {
        let anchors = roots
            .iter()
            .enumerate()
            .map(|(i, c)| {
                webpki::anchor_from_trusted_cert(c)
                    .map(|a| a.to_owned())
                    .map_err(|e| rustls::Error::General(format!("root {i}: {e}")))
            })
            .collect::<Result<_, _>>()?;
        Self::with_anchors(anchors)
    }

    fn with_anchors(anchors: Vec<TrustAnchor<'static>>) -> Result<TrustStore, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut client = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyChain::new(&provider)))
            .with_no_client_auth();
        client.alpn_protocols = vec![S2S_ALPN.to_vec()];
        Ok(TrustStore {
            anchors,
            provider,
            client_base: Arc::new(client),
        })
    }

    /// How many roots we trust.
    pub fn root_count(&self) -> usize {
        self.anchors.len()
    }

    /// Whether `chain` (end entity first, as TLS sends it) chains to one of
    /// our roots now and names `domain`. Public CAs now issue serverAuth-only
    /// certificates and peers present those as client certificates too, so
    /// either extended key usage authenticates a server.
    pub fn verify_peer(
        &self,
        chain: &[CertificateDer<'_>],
        domain: &str,
    ) -> Result<(), CertProblem> {
        self.verify_peer_at(chain, domain, UnixTime::now())
    }

    /// [`verify_peer`](Self::verify_peer) at a given time.
    pub fn verify_peer_at(
        &self,
        chain: &[CertificateDer<'_>],
        domain: &str,
        now: UnixTime,
    ) -> Result<(), CertProblem> {
        let Some((end_entity, intermediates)) = chain.split_first() else {
            return Err(CertProblem::NoCertificate);
        };
        let name = ServerName::try_from(domain.trim_end_matches('.'))
            .map_err(|_| CertProblem::InvalidDomain(domain.to_string()))?;
        let cert = EndEntityCert::try_from(end_entity).map_err(problem)?;
        let algs = self.provider.signature_verification_algorithms.all;
        let verify = |usage: KeyUsage| {
            cert.verify_for_usage(algs, &self.anchors, intermediates, now, usage, None, None)
                .map(|_| ())
        };
        match verify(KeyUsage::server_auth()) {
            Ok(()) => {}
            Err(e) if is_usage_error(&e) => verify(KeyUsage::client_auth()).map_err(problem)?,
            Err(e) => return Err(problem(e)),
        }
        cert.verify_is_valid_for_subject_name(&name)
            .map_err(|e| match e {
                webpki::Error::CertNotValidForName(ctx) => CertProblem::WrongName {
                    domain: domain.to_string(),
                    presented: ctx.presented.iter().map(|n| plain_name(n)).collect(),
                },
                other => problem(other),
            })
    }

    /// For inbound s2s: our certificate chosen by SNI, and the peer's
    /// certificate requested but not required, and not judged here.
    pub fn s2s_server_config(
        &self,
        resolver: Arc<CertResolver>,
    ) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let mut config = rustls::ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(Arc::new(AnyChain::new(&self.provider)))
            .with_cert_resolver(resolver);
        config.alpn_protocols = vec![S2S_ALPN.to_vec()];
        Ok(Arc::new(config))
    }

    /// For outbound s2s: presents `our_cert` (the local domain's, see
    /// [`CertResolver::for_domain`]) as the TLS client certificate so the
    /// peer can use SASL EXTERNAL, and completes the handshake whatever the
    /// peer presents; judge it after with `verify_peer(chain, remote)`.
    /// The SNI name is given when connecting
    /// ([`Transport::into_tls_client`](super::Transport::into_tls_client)).
    pub fn s2s_client_config(
        &self,
        our_cert: Option<Arc<CertifiedKey>>,
    ) -> Arc<rustls::ClientConfig> {
        match our_cert {
            None => self.client_base.clone(),
            Some(cert) => {
                let mut config = (*self.client_base).clone();
                config.client_auth_cert_resolver = Arc::new(OurCert(cert));
                Arc::new(config)
            }
        }
    }
}

/// Always presents the one certificate of the local domain the connection
/// is for.
#[derive(Debug)]
struct OurCert(Arc<CertifiedKey>);

impl ResolvesClientCert for OurCert {
    fn resolve(&self, _hints: &[&[u8]], _schemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// Takes any chain at handshake time (trust is decided per claimed domain
/// afterwards) but really checks the handshake signature, which proves the
/// peer holds the key of the certificate it showed.
#[derive(Debug)]
struct AnyChain {
    algs: WebPkiSupportedAlgorithms,
}

impl AnyChain {
    fn new(provider: &CryptoProvider) -> Self {
        AnyChain {
            algs: provider.signature_verification_algorithms,
        }
    }
}

impl ServerCertVerifier for AnyChain {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

impl ClientCertVerifier for AnyChain {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

#[cfg(test)]
mod tests;
