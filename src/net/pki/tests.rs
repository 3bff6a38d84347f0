use std::time::Duration;

use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose as Eku, IsCa, KeyPair, KeyUsagePurpose,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;
use crate::net::{certs, tls, Transport};

struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        // Distinct names: webpki finds issuers by name.
        dn.push(DnType::CommonName, name);
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Ca { cert, key }
    }

    fn der(&self) -> CertificateDer<'static> {
        self.cert.der().clone()
    }

    fn intermediate(&self, name: &str) -> Ca {
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, name);
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        Ca { cert, key }
    }

    fn issue(&self, names: &[&str], ekus: &[Eku]) -> CertificateDer<'static> {
        self.issue_with(names, ekus, |_| {})
    }

    fn issue_with(
        &self,
        names: &[&str],
        ekus: &[Eku],
        tweak: impl FnOnce(&mut CertificateParams),
    ) -> CertificateDer<'static> {
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        params.extended_key_usages = ekus.to_vec();
        tweak(&mut params);
        let key = KeyPair::generate().unwrap();
        params
            .signed_by(&key, &self.cert, &self.key)
            .unwrap()
            .der()
            .clone()
    }
}

const BOTH: &[Eku] = &[Eku::ServerAuth, Eku::ClientAuth];

fn store(ca: &Ca) -> TrustStore {
    TrustStore::from_roots(&[ca.der()]).unwrap()
}

#[test]
fn trusted_chain_with_the_right_name_passes() {
    let ca = Ca::new("Test CA");
    let cert = ca.issue(&["customer.test"], BOTH);
    assert_eq!(
        store(&ca).verify_peer(std::slice::from_ref(&cert), "customer.test"),
        Ok(())
    );
    // Domains compare case-insensitively, and an FQDN's final dot is fine.
    assert_eq!(store(&ca).verify_peer(&[cert], "Customer.TEST."), Ok(()));
}

#[test]
fn wrong_name_is_reported_with_what_the_certificate_names() {
    let ca = Ca::new("Test CA");
    let cert = ca.issue(&["customer.test"], BOTH);
    let err = store(&ca).verify_peer(&[cert], "other.test").unwrap_err();
    assert_eq!(
        err,
        CertProblem::WrongName {
            domain: "other.test".into(),
            presented: vec!["customer.test".into()],
        }
    );
    assert_eq!(
        err.to_string(),
        "certificate is not valid for other.test (it names customer.test)"
    );
}

#[test]
fn wildcards_cover_one_label() {
    let ca = Ca::new("Test CA");
    let cert = ca.issue(&["*.customer.test"], BOTH);
    let s = store(&ca);
    assert_eq!(
        s.verify_peer(std::slice::from_ref(&cert), "conf.customer.test"),
        Ok(())
    );
    assert!(matches!(
        s.verify_peer(std::slice::from_ref(&cert), "a.b.customer.test"),
        Err(CertProblem::WrongName { .. })
    ));
    assert!(matches!(
        s.verify_peer(&[cert], "customer.test"),
        Err(CertProblem::WrongName { .. })
    ));
}

#[test]
fn another_cas_certificate_is_not_trusted() {
    let ours = Ca::new("Our CA");
    let theirs = Ca::new("Their CA");
    let cert = theirs.issue(&["customer.test"], BOTH);
    let err = store(&ours)
        .verify_peer(&[cert], "customer.test")
        .unwrap_err();
    assert_eq!(err, CertProblem::NotTrusted("UnknownIssuer".into()));
    assert_eq!(err.to_string(), "certificate is not trusted: UnknownIssuer");
}

#[test]
fn either_server_or_client_auth_usage_is_accepted() {
    let ca = Ca::new("Test CA");
    let s = store(&ca);
    for ekus in [&[Eku::ServerAuth][..], &[Eku::ClientAuth], &[]] {
        let cert = ca.issue(&["customer.test"], ekus);
        assert_eq!(s.verify_peer(&[cert], "customer.test"), Ok(()), "{ekus:?}");
    }
    let cert = ca.issue(&["customer.test"], &[Eku::CodeSigning]);
    let err = s.verify_peer(&[cert], "customer.test").unwrap_err();
    assert_eq!(err, CertProblem::WrongUsage);
}

#[test]
fn expired_and_not_yet_valid_certificates_fail() {
    let ca = Ca::new("Test CA");
    let s = store(&ca);
    let old = ca.issue_with(&["customer.test"], BOTH, |p| {
        p.not_before = date_time_ymd(2000, 1, 1);
        p.not_after = date_time_ymd(2001, 1, 1);
    });
    let err = s.verify_peer(&[old], "customer.test").unwrap_err();
    assert!(matches!(err, CertProblem::Expired { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "certificate expired at 2001-01-01T00:00:00Z"
    );
    let future = ca.issue_with(&["customer.test"], BOTH, |p| {
        p.not_before = date_time_ymd(2099, 1, 1);
        p.not_after = date_time_ymd(2100, 1, 1);
    });
    let err = s.verify_peer(&[future], "customer.test").unwrap_err();
    assert!(matches!(err, CertProblem::NotYetValid { .. }), "{err:?}");
}

#[test]
fn intermediates_come_from_the_presented_chain() {
    let root = Ca::new("Root CA");
    let issuing = root.intermediate("Issuing CA");
    let cert = issuing.issue(&["customer.test"], &[Eku::ServerAuth]);
    let s = store(&root);
    assert_eq!(
        s.verify_peer(&[cert.clone(), issuing.der()], "customer.test"),
        Ok(())
    );
    assert_eq!(
        s.verify_peer(&[cert], "customer.test"),
        Err(CertProblem::NotTrusted("UnknownIssuer".into()))
    );
}

#[test]
fn empty_chains_and_garbage_are_refused() {
    let ca = Ca::new("Test CA");
    let s = store(&ca);
    assert_eq!(
        s.verify_peer(&[], "customer.test"),
        Err(CertProblem::NoCertificate)
    );
    let garbage = CertificateDer::from(vec![0x30, 0x03, 1, 2, 3]);
    assert!(matches!(
        s.verify_peer(&[garbage], "customer.test"),
        Err(CertProblem::Malformed(_))
    ));
    let cert = ca.issue(&["customer.test"], BOTH);
    assert!(matches!(
        s.verify_peer(&[cert], "not a domain"),
        Err(CertProblem::InvalidDomain(_))
    ));
}

#[test]
fn utc_renders_dates() {
    assert_eq!(
        utc(&UnixTime::since_unix_epoch(Duration::ZERO)),
        "1970-01-01T00:00:00Z"
    );
    assert_eq!(
        utc(&UnixTime::since_unix_epoch(Duration::from_secs(
            951_782_400
        ))),
        "2000-02-29T00:00:00Z"
    );
    assert_eq!(
        utc(&UnixTime::since_unix_epoch(Duration::from_secs(
            4_102_444_799
        ))),
        "2099-12-31T23:59:59Z"
    );
}

#[test]
fn load_reads_the_ca_file_and_refuses_a_file_without_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (Ca::new("CA A"), Ca::new("CA B"));
    let both = dir.path().join("cas.pem");
    std::fs::write(&both, a.cert.pem() + &b.cert.pem()).unwrap();
    let s = TrustStore::load(Some(&both)).unwrap();
    let without = TrustStore::load(None).unwrap();
    assert_eq!(s.root_count(), without.root_count() + 2);
    let cert = b.issue(&["customer.test"], BOTH);
    assert_eq!(s.verify_peer(&[cert], "customer.test"), Ok(()));

    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "nothing here\n").unwrap();
    assert!(matches!(
        TrustStore::load(Some(&empty)),
        Err(TlsError::NoCertificate(_))
    ));
    assert!(matches!(
        TrustStore::load(Some(&dir.path().join("missing.pem"))),
        Err(TlsError::Io { .. })
    ));
}

/// Both ends of one s2s TLS handshake over loopback: what each side saw of
/// the other's chain, and the server's SNI.
struct Handshake {
    server_saw: Option<Vec<CertificateDer<'static>>>,
    client_saw: Option<Vec<CertificateDer<'static>>>,
    sni: Option<String>,
}

async fn handshake(
    store: &TrustStore,
    server_certs: Arc<CertResolver>,
    client_cert: Option<Arc<CertifiedKey>>,
    remote: &str,
) -> Handshake {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server_config = store.s2s_server_config(server_certs).unwrap();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut t = Transport::Plain(tcp).into_tls(server_config).await.unwrap();
        let mut buf = [0u8; 4];
        t.read_exact(&mut buf).await.unwrap();
        t.write_all(b"pong").await.unwrap();
        t.flush().await.unwrap();
        assert_eq!(&buf, b"ping");
        (t.peer_certificates(), t.sni())
    });
    let tcp = TcpStream::connect(addr).await.unwrap();
    let mut t = Transport::Plain(tcp)
        .into_tls_client(store.s2s_client_config(client_cert), remote)
        .await
        .unwrap();
    assert!(t.is_tls());
    t.write_all(b"ping").await.unwrap();
    t.flush().await.unwrap();
    let mut buf = [0u8; 4];
    t.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"pong");
    let (server_saw, sni) = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap();
    Handshake {
        server_saw,
        client_saw: t.peer_certificates(),
        sni,
    }
}

#[tokio::test]
async fn s2s_tls_completes_with_untrusted_peers_and_judges_them_after() {
    let dir = tempfile::tempdir().unwrap();
    let (server_dir, client_dir) = (dir.path().join("s"), dir.path().join("c"));
    // Two dev CAs: each side's certificate is from a CA the other may or
    // may not trust.
    certs::write_dev_certs(&server_dir, &["server.test"]).unwrap();
    certs::write_dev_certs(&client_dir, &["client.test"]).unwrap();
    let server_certs = Arc::new(tls::resolver(&server_dir, &["server.test"]).unwrap());
    let client_certs = tls::resolver(&client_dir, &["client.test"]).unwrap();
    let client_cert = client_certs.for_domain("client.test");
    assert!(client_cert.is_some());
    assert!(client_certs.for_domain("server.test").is_none());

    let untrusting = store(&Ca::new("Unrelated CA"));
    let h = handshake(
        &untrusting,
        server_certs.clone(),
        client_cert.clone(),
        "server.test",
    )
    .await;
    assert_eq!(h.sni.as_deref(), Some("server.test"));
    let from_client = h.server_saw.expect("the server sees the client's chain");
    let from_server = h.client_saw.expect("the client sees the server's chain");
    assert_eq!(
        untrusting.verify_peer(&from_client, "client.test"),
        Err(CertProblem::NotTrusted("UnknownIssuer".into()))
    );
    assert_eq!(
        untrusting.verify_peer(&from_server, "server.test"),
        Err(CertProblem::NotTrusted("UnknownIssuer".into()))
    );

    let cas = dir.path().join("cas.pem");
    let pem = std::fs::read_to_string(server_dir.join("ca.crt")).unwrap()
        + &std::fs::read_to_string(client_dir.join("ca.crt")).unwrap();
    std::fs::write(&cas, pem).unwrap();
    let trusting = TrustStore::load(Some(&cas)).unwrap();
    let h = handshake(&trusting, server_certs.clone(), client_cert, "server.test").await;
    let (from_client, from_server) = (h.server_saw.unwrap(), h.client_saw.unwrap());
    assert_eq!(trusting.verify_peer(&from_client, "client.test"), Ok(()));
    assert_eq!(trusting.verify_peer(&from_server, "server.test"), Ok(()));
    // The right chain still has to name the claimed domain.
    assert!(matches!(
        trusting.verify_peer(&from_client, "server.test"),
        Err(CertProblem::WrongName { .. })
    ));

    // Without a certificate of ours the handshake still completes; the
    // peer then has only dialback to go on.
    let h = handshake(&trusting, server_certs, None, "server.test").await;
    assert_eq!(h.server_saw, None);
    assert!(h.client_saw.is_some());
}

#[tokio::test]
async fn a_client_certificate_without_its_key_fails_the_handshake() {
    // Accepting any chain must not mean accepting any signature: a peer
    // replaying someone else's certificate cannot sign for it.
    let dir = tempfile::tempdir().unwrap();
    certs::write_dev_certs(dir.path(), &["server.test", "client.test"]).unwrap();
    let certs = Arc::new(tls::resolver(dir.path(), &["server.test", "client.test"]).unwrap());
    let real = certs.for_domain("client.test").unwrap();
    let other_key = KeyPair::generate().unwrap();
    let der = rustls_pki_types::PrivateKeyDer::Pkcs8(other_key.serialize_der().into());
    let stolen = Arc::new(CertifiedKey::new(
        real.cert.clone(),
        rustls::crypto::ring::sign::any_supported_type(&der).unwrap(),
    ));
    let s = TrustStore::load(Some(&dir.path().join("ca.crt"))).unwrap();

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server_config = s.s2s_server_config(certs).unwrap();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        Transport::Plain(tcp).into_tls(server_config).await.err()
    });
    let tcp = TcpStream::connect(addr).await.unwrap();
    // TLS 1.3 clients finish before the server has checked their
    // signature; the refusal arrives as an alert on the next read.
    if let Ok(mut t) = Transport::Plain(tcp)
        .into_tls_client(s.s2s_client_config(Some(stolen)), "server.test")
        .await
    {
        let mut buf = [0u8; 1];
        assert!(!matches!(t.read(&mut buf).await, Ok(1)));
    }
    let err = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap()
        .expect("the server refuses the handshake");
    assert!(err.to_string().contains("ignature"), "{err}");
}
