//! Federation with real servers: a Prosody hosting `customer.test` and
//! Switchboard exchange messages, presence and queries over s2s, each on
//! loopback addresses of its own with port 5269, as peers find each other
//! on the Internet. Certificates come from Switchboard's dev CA (trusted on
//! both sides: SASL EXTERNAL) or from a CA of Prosody's own (untrusted:
//! dialback, when `secure_auth` is off on both sides).

mod common;

use common::{
    loopback_ips, Client, ClientOpts, Dnsmasq, Ejabberd, EjabberdOpts, Endpoint, Prosody,
    ProsodyOpts, ServerOpts, TestServer, TIMEOUT,
};
use serde_json::json;

const ALICE: &str = "alice@agents.support.test";
const PW: &str = "pw";

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Prosody,
    Ejabberd,
}

impl Kind {
    fn domain(self) -> &'static str {
        match self {
            Kind::Prosody => "customer.test",
            Kind::Ejabberd => "other.test",
        }
    }

    /// The customer on that server.
    fn user(self) -> &'static str {
        match self {
            Kind::Prosody => "juliet@customer.test",
            Kind::Ejabberd => "romeo@other.test",
        }
    }
}

enum Peer {
    Prosody(Prosody),
    Ejabberd(Ejabberd),
}

impl Peer {
    fn endpoint(&self) -> &dyn EndpointRef {
        match self {
            Peer::Prosody(p) => p,
            Peer::Ejabberd(e) => e,
        }
    }
}

/// `Client::connect` takes `impl Endpoint`; this lets one test body serve
/// both peers.
trait EndpointRef {
    fn addr(&self) -> std::net::SocketAddr;
    fn ca_path(&self) -> &std::path::Path;
}

impl<T: Endpoint> EndpointRef for T {
    fn addr(&self) -> std::net::SocketAddr {
        self.c2s_addr(common::Tls::StartTls)
    }
    fn ca_path(&self) -> &std::path::Path {
        self.ca()
    }
}

/// Switchboard and one peer server federating. `trusted`: the peer's
/// certificate is signed by Switchboard's CA and each trusts the other;
/// otherwise each has its own CA and `secure_auth` (on both sides) decides.
struct Federation {
    sb: TestServer,
    peer: Peer,
    kind: Kind,
}

fn federation(kind: Kind, trusted: bool, secure_auth: bool) -> Federation {
    federation_with(kind, trusted, secure_auth, &[])
}

fn federation_with(kind: Kind, trusted: bool, secure_auth: bool, s2s_toml: &[&str]) -> Federation {
    let ips = loopback_ips(2);
    let (sb_ip, p_ip) = (&ips[0], &ips[1]);
    let mut opts = ServerOpts::default()
        .account(ALICE, PW)
        .s2s_listen(&format!("{sb_ip}:5269"))
        .s2s_host(kind.domain(), &format!("{p_ip}:5269"))
        .s2s_toml(&format!("secure_auth = {secure_auth}"));
    if trusted {
        opts = opts.ca_file("certs/ca.crt");
    }
    for line in s2s_toml {
        opts = opts.s2s_toml(line);
    }
    let sb = TestServer::start(opts);
    let mut args: Vec<String> = vec!["--s2s-port".into(), "5269".into()];
    for d in ["support.test", "agents.support.test"] {
        args.push("--host".into());
        args.push(format!("{d}={sb_ip}"));
    }
    if trusted {
        let certs = sb.path().join("certs");
        for (flag, file) in [("--ca-cert", "ca.crt"), ("--ca-key", "ca.key")] {
            args.push(flag.into());
            args.push(certs.join(file).to_str().unwrap().into());
        }
    }
    if !secure_auth {
        args.push("--insecure-s2s".into());
    }
    let peer = match kind {
        Kind::Prosody => {
            let mut o = ProsodyOpts::default().user(kind.user(), PW).ip(p_ip);
            o.args = args;
            Peer::Prosody(Prosody::start(o))
        }
        Kind::Ejabberd => {
            let mut o = EjabberdOpts::default().user(kind.user(), PW).ip(p_ip);
            o.args = args;
            Peer::Ejabberd(Ejabberd::start(o))
        }
    };
    Federation { sb, peer, kind }
}

async fn clients(f: &Federation) -> (Client, Client) {
    let alice = Client::login(&f.sb, ALICE, PW, ClientOpts::default()).await;
    let ep = f.peer.endpoint();
    let mut customer = Client::connect_to(
        ep.addr(),
        Some(ep.ca_path()),
        f.kind.user(),
        PW,
        ClientOpts::default(),
    );
    customer.wait_session_start().await;
    (alice, customer)
}

async fn exchange_both_ways(f: &Federation, alice: &mut Client, customer: &mut Client) {
    let user = f.kind.user();
    alice.message(user, "hello from the agent").await;
    customer.expect_message(ALICE, "hello from the agent").await;
    customer.message(ALICE, "hello from the customer").await;
    alice.expect_message(user, "hello from the customer").await;
}

fn assert_logged(f: &Federation, what: &str) {
    let log = f.sb.log();
    for dir in ["s2s_in", "s2s_out"] {
        assert!(
            log.lines().any(|l| l.contains(dir) && l.contains(what)),
            "{dir}: no {what:?} in the log:\n{}",
            common::tail(&log, 60)
        );
    }
}

async fn messages_with_sasl_external(kind: Kind) {
    let f = federation(kind, true, true);
    let (mut alice, mut customer) = clients(&f).await;
    exchange_both_ways(&f, &mut alice, &mut customer).await;
    assert_logged(&f, "authenticated with SASL EXTERNAL");
    // XEP-0092 and disco#info across the federation, both ways.
    let v = alice
        .request(json!({"cmd": "version", "to": kind.domain()}))
        .await;
    let expected = if kind == Kind::Prosody {
        "Prosody"
    } else {
        "ejabberd"
    };
    assert_eq!(v["name"], expected, "{v}");
    let v = customer
        .request(json!({"cmd": "version", "to": "agents.support.test"}))
        .await;
    assert_eq!(v["name"], "Switchboard", "{v}");
    let info = customer
        .request(json!({"cmd": "disco_info", "to": "agents.support.test"}))
        .await;
    assert_eq!(info["identities"][0][0], "server", "{info}");
}

async fn messages_with_dialback(kind: Kind) {
    let f = federation(kind, false, false);
    let (mut alice, mut customer) = clients(&f).await;
    exchange_both_ways(&f, &mut alice, &mut customer).await;
    assert_logged(&f, "authenticated with dialback");
}

async fn untrusted_refused_with_secure_auth(kind: Kind) {
    let f = federation(kind, false, true);
    let (mut alice, mut customer) = clients(&f).await;
    let user = kind.user();
    alice.message(user, "will not arrive").await;
    let e = alice
        .expect_what(
            "an error for the message",
            |e| e["event"] == "message" && e["type"] == "error",
            TIMEOUT,
        )
        .await;
    assert_eq!(e["condition"], "remote-server-not-found", "{e}");
    assert_eq!(e["from"], user, "{e}");
    customer.message(ALICE, "will not arrive either").await;
    let e = customer
        .expect_what(
            "an error for the message",
            |e| e["event"] == "message" && e["type"] == "error",
            TIMEOUT,
        )
        .await;
    assert_eq!(e["from"], ALICE, "{e}");
    assert!(!e["condition"].is_null(), "{e}");
    assert!(
        !alice
            .seen()
            .iter()
            .any(|e| e["body"] == "will not arrive either"),
        "delivered over an untrusted stream"
    );
}

macro_rules! both_peers {
    ($($name:ident),* $(,)?) => {
        mod prosody {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::Kind::Prosody).await
                }
            )*
        }
        mod ejabberd {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::Kind::Ejabberd).await
                }
            )*
        }
    };
}

both_peers!(
    messages_with_sasl_external,
    messages_with_dialback,
    untrusted_refused_with_secure_auth,
);

#[tokio::test]
async fn prosody_subscription_round_trip_and_queries() {
    const JULIET: &str = "juliet@customer.test";
    let f = federation(Kind::Prosody, true, true);
    let (mut alice, mut juliet) = clients(&f).await;
    // Juliet asks to see Alice; Alice approves and asks back.
    juliet
        .request_ok(json!({"cmd": "subscribe", "to": ALICE}))
        .await;
    alice.expect_presence(JULIET, "subscribe").await;
    alice
        .request_ok(json!({"cmd": "subscribed", "to": JULIET}))
        .await;
    juliet.expect_presence(ALICE, "subscribed").await;
    juliet.expect_presence(ALICE, "available").await;
    alice
        .request_ok(json!({"cmd": "subscribe", "to": JULIET}))
        .await;
    juliet.expect_presence(ALICE, "subscribe").await;
    juliet
        .request_ok(json!({"cmd": "subscribed", "to": ALICE}))
        .await;
    alice.expect_presence(JULIET, "subscribed").await;
    alice.expect_presence(JULIET, "available").await;
    let roster = alice.request(json!({"cmd": "roster_get"})).await;
    assert_eq!(roster["items"][0]["jid"], JULIET, "{roster}");
    assert_eq!(roster["items"][0]["subscription"], "both", "{roster}");
    // Presence changes and departures cross too.
    juliet
        .request_ok(json!({"cmd": "presence", "show": "away", "status": "brb"}))
        .await;
    let p = alice.expect_presence(JULIET, "available").await;
    assert_eq!(p["show"], "away", "{p}");

    // disco#info and XEP-0092 across the federation, both ways.
    let info = juliet
        .request(json!({"cmd": "disco_info", "to": "agents.support.test"}))
        .await;
    assert_eq!(info["identities"][0][0], "server", "{info}");
    let v = juliet
        .request(json!({"cmd": "version", "to": "agents.support.test"}))
        .await;
    assert_eq!(v["name"], "Switchboard", "{v}");
    let v = alice
        .request(json!({"cmd": "version", "to": "customer.test"}))
        .await;
    assert_eq!(v["name"], "Prosody", "{v}");

    juliet.disconnect().await;
    alice.expect_presence(JULIET, "unavailable").await;
}

/// An outbound link with nothing to carry closes; the next stanza opens a
/// new one and nothing is lost in between.
#[tokio::test]
async fn idle_links_close_and_the_next_message_reopens_one() {
    let f = federation_with(Kind::Prosody, true, true, &["idle_timeout_secs = 1"]);
    let (mut alice, mut juliet) = clients(&f).await;
    let user = Kind::Prosody.user();
    alice.message(user, "before the pause").await;
    juliet.expect_message(ALICE, "before the pause").await;
    f.sb.wait_for_log("closing an idle stream", std::time::Duration::from_secs(10))
        .await;
    alice.message(user, "after the pause").await;
    juliet.expect_message(ALICE, "after the pause").await;
    let log = f.sb.log();
    let links = log
        .lines()
        .filter(|l| l.contains("s2s_out") && l.contains("authenticated with SASL EXTERNAL"))
        .count();
    assert!(
        links >= 2,
        "expected a second outbound link:\n{}",
        common::tail(&log, 40)
    );
}

/// Two Switchboards federate, each finding the other through SRV records on
/// a real DNS server (dnsmasq): B publishes only `_xmpps-server` (XEP-0368
/// direct TLS), A only `_xmpp-server` (STARTTLS).
#[tokio::test]
async fn two_switchboards_find_each_other_by_srv_one_over_direct_tls() {
    const BOB: &str = "bob@agents.support2.test";
    let dns_port = common::free_udp_port().await;
    let ns = format!("nameservers = [\"127.0.0.1:{dns_port}\"]");
    let a = TestServer::start(
        ServerOpts::default()
            .account(ALICE, PW)
            .ca_file("certs/ca.crt")
            .s2s_toml(&ns),
    );
    let b = TestServer::start(
        ServerOpts::default()
            .domains("support2.test", "agents.support2.test")
            .account(BOB, PW)
            .dev_ca_from(&a.path().join("certs"))
            .ca_file("certs/ca.crt")
            .s2s_direct_tls("127.0.0.1:0")
            .s2s_toml(&ns),
    );
    let _dns = Dnsmasq::start_on(
        Some(dns_port),
        &[
            format!(
                "--srv-host=_xmpp-server._tcp.agents.support.test,a.host.test,{},0,0",
                a.addr("s2s").port()
            ),
            format!(
                "--srv-host=_xmpps-server._tcp.agents.support2.test,b.host.test,{},0,0",
                b.addr("s2s_direct_tls").port()
            ),
            "--host-record=a.host.test,127.0.0.1".into(),
            "--host-record=b.host.test,127.0.0.1".into(),
        ],
    )
    .await;
    let mut alice = Client::login(&a, ALICE, PW, ClientOpts::default()).await;
    let mut bob = Client::login(&b, BOB, PW, ClientOpts::default()).await;
    alice.message(BOB, "across by direct TLS").await;
    bob.expect_message(ALICE, "across by direct TLS").await;
    bob.message(ALICE, "back by STARTTLS").await;
    alice.expect_message(BOB, "back by STARTTLS").await;
    let b_log = b.log();
    assert!(
        b_log.lines().any(|l| l.contains("s2s_in")
            && l.contains("direct_tls=true")
            && l.contains("authenticated with SASL EXTERNAL")),
        "B did not accept A over direct TLS:\n{}",
        common::tail(&b_log, 40)
    );
    let a_log = a.log();
    assert!(
        a_log.lines().any(|l| l.contains("s2s_in")
            && l.contains("direct_tls=false")
            && l.contains("authenticated with SASL EXTERNAL")),
        "A did not accept B over STARTTLS:\n{}",
        common::tail(&a_log, 40)
    );
}
