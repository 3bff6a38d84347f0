//! TLS for every listener: certificates loaded from `tls.cert_dir` and
//! chosen by SNI, so one process serves the support and agent domains.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::server::{ClientHello, ResolvesServerCert, ResolvesServerCertUsingSni};
use rustls::sign::CertifiedKey;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}: no PEM certificate in the file")]
    NoCertificate(PathBuf),
    #[error("{0}: no PEM private key in the file")]
    NoKey(PathBuf),
    #[error("{path}: {source}")]
    BadKey {
        path: PathBuf,
        #[source]
        source: rustls::Error,
    },
    #[error("no certificate in {dir} covers {domain}")]
    Uncovered { dir: PathBuf, domain: String },
    #[error("{path}: certificate {index} is not a usable trust anchor: {reason}")]
    BadTrustAnchor {
        path: PathBuf,
        index: usize,
        reason: String,
    },
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Picks the certificate for the SNI name; clients that send none get the
/// first configured domain's certificate.
pub struct CertResolver {
    by_name: HashMap<String, Arc<CertifiedKey>>,
    default: Arc<CertifiedKey>,
}

impl fmt::Debug for CertResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertResolver")
            .field("names", &self.by_name.keys())
            .finish()
    }
}

impl CertResolver {
    /// Our certificate and key for one of the served domains (or a
    /// subdomain the resolver was built for); what s2s presents as its TLS
    /// client certificate when it connects out for that domain.
    pub fn for_domain(&self, domain: &str) -> Option<Arc<CertifiedKey>> {
        self.by_name.get(&domain.to_ascii_lowercase()).cloned()
    }

    /// The same certificates, with `domain`'s as the one for peers that send
    /// no SNI: after STARTTLS the stream header already named the domain
    /// (Prosody's s2s connections send no SNI).
    pub fn defaulting_to(&self, domain: &str) -> CertResolver {
        CertResolver {
            by_name: self.by_name.clone(),
            default: self
                .for_domain(domain)
                .unwrap_or_else(|| self.default.clone()),
        }
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        super::server_tls::note_sni(hello.server_name());
        let name = hello.server_name().map(str::to_ascii_lowercase);
        Some(
            name.and_then(|n| self.by_name.get(&n).cloned())
                .unwrap_or_else(|| self.default.clone()),
        )
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn load_pair(crt: &Path, key: &Path) -> Result<CertifiedKey, TlsError> {
    let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut &read(crt)?[..])
        .collect::<Result<_, _>>()
        .map_err(|source| TlsError::Io {
            path: crt.to_path_buf(),
            source,
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(crt.to_path_buf()));
    }
    let key_der: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut &read(key)?[..])
        .map_err(|source| TlsError::Io {
            path: key.to_path_buf(),
            source,
        })?
        .ok_or_else(|| TlsError::NoKey(key.to_path_buf()))?;
    let signing = rustls::crypto::ring::sign::any_supported_type(&key_der).map_err(|source| {
        TlsError::BadKey {
            path: key.to_path_buf(),
            source,
        }
    })?;
    Ok(CertifiedKey::new(certs, signing))
}

/// Every `<name>.crt` with a matching `<name>.key` in `dir` (the dev CA has
/// no usable key pair for serving and is skipped).
fn candidates(dir: &Path) -> Vec<(PathBuf, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(PathBuf, PathBuf)> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "crt"))
        .filter(|p| p.file_stem().is_some_and(|s| s != "ca"))
        .map(|crt| (crt.clone(), crt.with_extension("key")))
        .filter(|(_, key)| key.exists())
        .collect();
    out.sort();
    out
}

/// Which of `domains` have no certificate in `dir` that covers them.
pub fn uncovered_domains(dir: &Path, domains: &[&str]) -> Vec<String> {
    match resolver(dir, domains) {
        Ok(_) => Vec::new(),
        Err(_) => domains
            .iter()
            .filter(|d| resolver(dir, &[d]).is_err())
            .map(|d| d.to_string())
            .collect(),
    }
}

/// Builds the resolver: for each domain, `<domain>.crt` if present, else any
/// certificate in the directory whose names cover it.
pub fn resolver(dir: &Path, domains: &[&str]) -> Result<CertResolver, TlsError> {
    let pairs = candidates(dir);
    let mut loaded: Vec<(PathBuf, Arc<CertifiedKey>)> = Vec::new();
    for (crt, key) in &pairs {
        loaded.push((crt.clone(), Arc::new(load_pair(crt, key)?)));
    }
    let mut by_name = HashMap::new();
    for domain in domains {
        let preferred = dir.join(format!("{domain}.crt"));
        let mut order: Vec<&(PathBuf, Arc<CertifiedKey>)> = loaded.iter().collect();
        order.sort_by_key(|(p, _)| *p != preferred);
        // rustls checks the name against the certificate's SANs for us.
        let found = order.into_iter().find(|(_, ck)| {
            ResolvesServerCertUsingSni::new()
                .add(domain, (**ck).clone())
                .is_ok()
        });
        let Some((_, ck)) = found else {
            return Err(TlsError::Uncovered {
                dir: dir.to_path_buf(),
                domain: domain.to_string(),
            });
        };
        by_name.insert(domain.to_ascii_lowercase(), ck.clone());
    }
    let default = by_name
        .get(&domains[0].to_ascii_lowercase())
        .cloned()
        .ok_or_else(|| TlsError::Uncovered {
            dir: dir.to_path_buf(),
            domain: domains[0].to_string(),
        })?;
    Ok(CertResolver { by_name, default })
}

/// The acceptor shared by every c2s listener.
pub fn server_config(dir: &Path, domains: &[&str]) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    server_config_with(Arc::new(resolver(dir, domains)?))
}

/// The c2s acceptor over an already built resolver, so c2s and s2s share
/// one set of loaded certificates.
pub fn server_config_with(
    resolver: Arc<CertResolver>,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(c2s_provider()))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    // Our order, not the client's: most clients list AES-256 first.
    config.ignore_client_order = true;
    Ok(Arc::new(config))
}

/// ring's suites with AES-128-GCM first. Clients mostly ask for AES-256 with
/// SHA-384 first; its TLS 1.3 key schedule runs on SHA-384, which has no
/// instructions of its own on x86 where SHA-256 has: it was 7% of a login's
/// CPU (perf, login storm). AES-128-GCM is as safe for this use, and every
/// client has it.
fn c2s_provider() -> rustls::crypto::CryptoProvider {
    let mut provider = rustls::crypto::ring::default_provider();
    provider.cipher_suites.sort_by_key(|s| {
        !matches!(
            s.suite(),
            rustls::CipherSuite::TLS13_AES_128_GCM_SHA256
                | rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
                | rustls::CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
        )
    });
    provider
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_certs_cover_their_domains_and_subdomains() {
        let dir = tempfile::tempdir().unwrap();
        let domains = ["support.test", "agents.example"];
        assert_eq!(uncovered_domains(dir.path(), &domains).len(), 2);
        crate::net::certs::write_dev_certs(dir.path(), &domains[..1]).unwrap();
        assert_eq!(
            uncovered_domains(dir.path(), &domains),
            vec!["agents.example"]
        );
        // A certificate for support.test also covers *.support.test.
        assert!(resolver(dir.path(), &["x.support.test"]).is_ok());
        crate::net::certs::write_dev_certs(dir.path(), &domains).unwrap();
        assert!(server_config(dir.path(), &domains).is_ok());
    }

    #[test]
    fn aes_128_comes_first_and_no_suite_is_lost() {
        let ours = c2s_provider().cipher_suites;
        let all = rustls::crypto::ring::default_provider().cipher_suites;
        assert_eq!(ours.len(), all.len());
        assert_eq!(
            ours[0].suite(),
            rustls::CipherSuite::TLS13_AES_128_GCM_SHA256
        );
    }
}
