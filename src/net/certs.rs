//! Development certificates: a local CA and one certificate per served
//! domain, so a fresh checkout can run over TLS with no setup. Never for
//! production: the CA key sits next to the certificates.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("generating a certificate: {0}")]
    Generate(#[from] rcgen::Error),
}

fn write(path: &Path, data: &str) -> Result<(), CertError> {
    std::fs::write(path, data).map_err(|source| CertError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "Switchboard development CA");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params
}

/// Writes `ca.crt`/`ca.key` (kept if present, so certificates issued before
/// stay trusted) and `<domain>.crt`/`<domain>.key` for each domain, each
/// valid for the domain and its subdomains. Returns the files written.
pub fn write_dev_certs(dir: &Path, domains: &[&str]) -> Result<Vec<PathBuf>, CertError> {
    std::fs::create_dir_all(dir).map_err(|source| CertError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut written = Vec::new();
    let ca_key_path = dir.join("ca.key");
    let ca_key = match std::fs::read_to_string(&ca_key_path) {
        Ok(pem) => KeyPair::from_pem(&pem)?,
        Err(_) => {
            let key = KeyPair::generate()?;
            write(&ca_key_path, &key.serialize_pem())?;
            written.push(ca_key_path.clone());
            let cert = ca_params().self_signed(&key)?;
            write(&dir.join("ca.crt"), &cert.pem())?;
            written.push(dir.join("ca.crt"));
            key
        }
    };
    // Same subject and key as the stored CA certificate, so what it signs
    // chains to that file.
    let ca = ca_params().self_signed(&ca_key)?;
    for domain in domains {
        let mut params = CertificateParams::new(vec![domain.to_string(), format!("*.{domain}")])?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, *domain);
        params.distinguished_name = dn;
        // Both usages: the same certificate serves c2s and authenticates
        // us to peers in s2s (XEP-0178).
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &ca, &ca_key)?;
        let crt = dir.join(format!("{domain}.crt"));
        let keyf = dir.join(format!("{domain}.key"));
        write(&crt, &cert.pem())?;
        write(&keyf, &key.serialize_pem())?;
        written.extend([crt, keyf]);
    }
    Ok(written)
}
