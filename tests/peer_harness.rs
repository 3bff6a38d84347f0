//! The peer-server harness from the Rust side, without Switchboard: a real
//! ejabberd serves slixmpp clients, and federates with a real Prosody.
//! (`tests/peers/selftest_federation.py` covers federation in more depth:
//! SASL EXTERNAL with one shared CA, dialback with two.)

mod common;

use common::{Client, ClientOpts, Ejabberd, EjabberdOpts, Prosody, ProsodyOpts, TIMEOUT};
use serde_json::json;

#[tokio::test]
async fn ejabberd_peer_serves_clients() {
    let e = Ejabberd::start(EjabberdOpts::default().user("bob@other.test", "pw"));
    e.register("carol@other.test", "pw2");
    let mut bob = Client::login(
        &e,
        "bob@other.test",
        "pw",
        ClientOpts::default().resource("b"),
    )
    .await;
    let mut carol = Client::login(&e, "carol@other.test", "pw2", ClientOpts::default()).await;
    carol.message("bob@other.test/b", "hello bob").await;
    bob.expect_message("carol@other.test/", "hello bob").await;
    let version = bob
        .request(json!({"cmd": "version", "to": "other.test"}))
        .await;
    assert_eq!(version["name"], "ejabberd", "{version}");
    bob.disconnect().await;
    carol.disconnect().await;
}

#[tokio::test]
async fn prosody_and_ejabberd_federate() {
    // Own addresses, so that both can use the standard s2s port 5269.
    let ips = common::loopback_ips(2);
    let (p_ip, e_ip) = (ips[0].as_str(), ips[1].as_str());
    let prosody = Prosody::start(
        ProsodyOpts::default()
            .domain("customer.test")
            .user("alice@customer.test", "pw")
            .ip(p_ip)
            .arg("--s2s-port")
            .arg("5269")
            .arg("--host")
            .arg(&format!("other.test={e_ip}")),
    );
    let ca_key = prosody.path().join("ca.key");
    let ejabberd = Ejabberd::start(
        EjabberdOpts::default()
            .user("bob@other.test", "pw")
            .ip(e_ip)
            .arg("--s2s-port")
            .arg("5269")
            .arg("--host")
            .arg(&format!("customer.test={p_ip}"))
            .arg("--ca-cert")
            .arg(prosody.ca_file.to_str().unwrap())
            .arg("--ca-key")
            .arg(ca_key.to_str().unwrap()),
    );
    let mut alice =
        Client::login(&prosody, "alice@customer.test", "pw", ClientOpts::default()).await;
    let mut bob = Client::login(&ejabberd, "bob@other.test", "pw", ClientOpts::default()).await;
    alice.message("bob@other.test", "over s2s").await;
    bob.expect_message("alice@customer.test/", "over s2s").await;
    bob.message("alice@customer.test", "and back").await;
    alice.expect_message("bob@other.test/", "and back").await;
    for line in [
        "Accepted inbound s2s EXTERNAL authentication customer.test -> other.test",
        "Accepted outbound s2s EXTERNAL authentication other.test -> customer.test",
    ] {
        ejabberd.wait_log(line, TIMEOUT);
    }
    alice.disconnect().await;
    bob.disconnect().await;
}
