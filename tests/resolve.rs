//! `S2sResolver` against a real DNS server: dnsmasq on loopback, serving
//! SRV and address records for `.test` domains.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::Dnsmasq;

use switchboard::net::resolve::{ResolveError, S2sResolver, Target, DEFAULT_PORT};
use tokio::net::{TcpListener, TcpSocket, UdpSocket};

const TIMEOUT: Duration = Duration::from_secs(5);

fn resolver_of(dns: &Dnsmasq) -> S2sResolver {
    S2sResolver::new(BTreeMap::new(), vec![dns.addr]).unwrap()
}

fn target(host: &str, port: u16, direct_tls: bool) -> Target {
    Target {
        host: host.to_string(),
        port,
        direct_tls,
    }
}

async fn listen(ip: &str) -> (TcpListener, u16) {
    let l = TcpListener::bind((ip, 0)).await.unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

/// Connects and checks which listener took the connection.
async fn connects_to(resolver: &S2sResolver, t: &Target, listener: &TcpListener) {
    let tcp = resolver.connect(t, TIMEOUT).await.unwrap();
    let (accepted, from) = tokio::time::timeout(TIMEOUT, listener.accept())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(from, tcp.local_addr().unwrap());
    assert_eq!(accepted.local_addr().unwrap(), tcp.peer_addr().unwrap());
}

#[tokio::test]
async fn srv_records_of_both_services_are_merged_by_priority() {
    let (one, p1) = listen("127.0.0.21").await;
    let (two, p2) = listen("127.0.0.22").await;
    let dns = Dnsmasq::start(&[
        format!("--srv-host=_xmpp-server._tcp.customer.test,xmpp1.customer.test,{p1},10,5"),
        format!("--srv-host=_xmpp-server._tcp.customer.test,xmpp2.customer.test,{p2},20,0"),
        "--srv-host=_xmpps-server._tcp.customer.test,xmpp1.customer.test,5270,5,0".into(),
        "--host-record=xmpp1.customer.test,127.0.0.21".into(),
        "--host-record=xmpp2.customer.test,127.0.0.22".into(),
    ])
    .await;
    let r = resolver_of(&dns);
    let targets = r.targets("customer.test").await.unwrap();
    assert_eq!(
        targets,
        [
            target("xmpp1.customer.test", 5270, true),
            target("xmpp1.customer.test", p1, false),
            target("xmpp2.customer.test", p2, false),
        ]
    );
    // Names are compared as DNS does: case and a final dot do not matter.
    assert_eq!(r.targets("Customer.Test.").await.unwrap(), targets);
    connects_to(&r, &targets[1], &one).await;
    connects_to(&r, &targets[2], &two).await;
}

#[tokio::test]
async fn without_srv_the_domain_itself_is_tried_and_dot_means_no_service() {
    let (nosrv, port) = listen("127.0.0.23").await;
    let dns = Dnsmasq::start(&[
        "--host-record=nosrv.test,127.0.0.23".into(),
        // No target: dnsmasq answers with the "." record.
        "--srv-host=_xmpp-server._tcp.closed.test".into(),
        "--host-record=closed.test,127.0.0.23".into(),
        // "." for STARTTLS, but a direct TLS record: that one is used.
        "--srv-host=_xmpp-server._tcp.tlsonly.test".into(),
        "--srv-host=_xmpps-server._tcp.tlsonly.test,xmpp.tlsonly.test,5270,0,0".into(),
    ])
    .await;
    let r = resolver_of(&dns);
    assert_eq!(
        r.targets("nosrv.test").await.unwrap(),
        [target("nosrv.test", DEFAULT_PORT, false)]
    );
    // The fallback host resolves like any other (here on a port we chose).
    connects_to(&r, &target("nosrv.test", port, false), &nosrv).await;

    let err = r.targets("closed.test").await.unwrap_err();
    assert!(matches!(err, ResolveError::NoService { .. }), "{err:?}");
    assert!(!err.is_timeout());
    assert_eq!(
        r.targets("tlsonly.test").await.unwrap(),
        [target("xmpp.tlsonly.test", 5270, true)]
    );

    // A domain that does not exist still gets the fallback target (its SRV
    // names do not exist either); finding no address for it is the error.
    let fallback = r.targets("nowhere.test").await.unwrap();
    assert_eq!(fallback, [target("nowhere.test", DEFAULT_PORT, false)]);
    let err = r.connect(&fallback[0], TIMEOUT).await.unwrap_err();
    assert!(matches!(err, ResolveError::NoAddress { .. }), "{err:?}");
    assert!(!err.is_timeout());
}

#[tokio::test]
async fn every_address_is_tried_in_turn() {
    // Nothing listens on 127.0.0.24; the same port on .25 does.
    let (listener, port) = listen("127.0.0.25").await;
    let dns = Dnsmasq::start(&[
        "--host-record=multi.test,127.0.0.24".into(),
        "--host-record=multi.test,127.0.0.25".into(),
    ])
    .await;
    connects_to(
        &resolver_of(&dns),
        &target("multi.test", port, false),
        &listener,
    )
    .await;
    // A literal address needs no DNS.
    connects_to(
        &resolver_of(&dns),
        &target("127.0.0.25", port, false),
        &listener,
    )
    .await;
}

#[tokio::test]
async fn static_hosts_win_over_dns() {
    let (listener, port) = listen("127.0.0.21").await;
    let dns = Dnsmasq::start(&[
        "--srv-host=_xmpps-server._tcp.customer.test,elsewhere.test,5270,0,0".into(),
        "--host-record=customer.test,127.0.0.99".into(),
    ])
    .await;
    let hosts = BTreeMap::from([(
        "Customer.test".to_string(),
        SocketAddr::from(([127, 0, 0, 21], port)),
    )]);
    let r = S2sResolver::new(hosts, vec![dns.addr]).unwrap();
    let targets = r.targets("customer.test").await.unwrap();
    assert_eq!(targets, [target("customer.test", port, false)]);
    connects_to(&r, &targets[0], &listener).await;
    // Other domains still go to DNS.
    assert_eq!(
        r.targets("other.test").await.unwrap(),
        [target("other.test", DEFAULT_PORT, false)]
    );
}

#[tokio::test]
async fn silence_is_a_timeout() {
    // A "name server" that takes queries over UDP and TCP and never answers.
    let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = udp.local_addr().unwrap();
    let _tcp = TcpListener::bind(addr).await.unwrap();
    let r = S2sResolver::with_dns_timeout(
        BTreeMap::new(),
        vec![addr],
        Some(Duration::from_millis(200)),
    )
    .unwrap();
    let err = r.targets("customer.test").await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");

    // A listener whose backlog is full never completes a handshake.
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let full = socket.listen(0).unwrap();
    let port = full.local_addr().unwrap().port();
    let mut queued = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    let err = loop {
        match r
            .connect(
                &target("127.0.0.1", port, false),
                Duration::from_millis(200),
            )
            .await
        {
            Ok(tcp) => queued.push(tcp),
            Err(e) => break e,
        }
        assert!(Instant::now() < deadline && queued.len() < 64);
    };
    assert!(err.is_timeout(), "{err:?}");
}
