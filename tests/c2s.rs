//! Agents' clients against the real server: slixmpp (a third-party client)
//! logs in over STARTTLS and direct TLS with each SASL mechanism and
//! exchanges messages, presence and roster changes.

mod common;

use common::{on_both_stores, Client, ClientOpts, Db, ServerOpts, TestServer, Tls};
use serde_json::json;

const ALICE: &str = "alice@agents.support.test";
const BOB: &str = "bob@agents.support.test";
const PW: &str = "correct horse";

fn server(db: Db) -> TestServer {
    TestServer::start(
        ServerOpts::default()
            .db(db)
            .account(ALICE, PW)
            .account(BOB, PW),
    )
}

// Every scenario runs on SQLite and on PostgreSQL: the store is under
// everything a client does.
on_both_stores!(
    login_with_each_mechanism_over_starttls_and_direct_tls,
    wrong_password_is_not_authorized,
    messages_to_full_and_bare_jids_and_offline,
    messages_to_an_absent_resource,
    presence_subscription_and_roster_push,
    disco_version_ping_and_iq_errors,
);

async fn login_with_each_mechanism_over_starttls_and_direct_tls(db: Db) {
    let s = server(db);
    for (mech, tls) in [
        ("SCRAM-SHA-256", Tls::StartTls),
        ("SCRAM-SHA-1", Tls::StartTls),
        ("PLAIN", Tls::StartTls),
        ("SCRAM-SHA-256", Tls::Direct),
    ] {
        let mut c = Client::login(&s, ALICE, PW, ClientOpts::default().tls(tls).mech(mech)).await;
        let auth = c.expect_event("auth_success").await;
        assert_eq!(auth["mechanism"], mech);
        c.disconnect().await;
    }
}

async fn wrong_password_is_not_authorized(db: Db) {
    let s = server(db);
    let mut c = Client::connect(
        &s,
        ALICE,
        "wrong",
        ClientOpts::default().mech("SCRAM-SHA-256"),
    );
    let failed = c.expect_event("auth_failed").await;
    assert!(failed.to_string().contains("not-authorized"), "{failed}");
    let mut c = Client::connect(
        &s,
        "nobody@agents.support.test",
        PW,
        ClientOpts::default().mech("PLAIN"),
    );
    let failed = c.expect_event("auth_failed").await;
    assert!(failed.to_string().contains("not-authorized"), "{failed}");
}

async fn messages_to_full_and_bare_jids_and_offline(db: Db) {
    let s = server(db);
    let mut alice = Client::login(&s, ALICE, PW, ClientOpts::default().resource("desk")).await;
    let mut bob = Client::login(&s, BOB, PW, ClientOpts::default()).await;
    bob.message(&format!("{ALICE}/desk"), "to your desk").await;
    alice.expect_message(BOB, "to your desk").await;
    bob.message(ALICE, "to you").await;
    alice.expect_message(BOB, "to you").await;
    alice.message(BOB, "back").await;
    bob.expect_message(ALICE, "back").await;
    bob.disconnect().await;
    alice.message(BOB, "while you were away").await;
    let mut bob = Client::login(&s, BOB, PW, ClientOpts::default()).await;
    let m = bob.expect_message(ALICE, "while you were away").await;
    assert!(
        !m["delay"].is_null(),
        "offline message carries a delay stamp: {m}"
    );
}

/// RFC 6121 §8.5.3.2.1: a chat message to a resource that is not online is
/// handled as if sent to the bare JID; an IQ gets `service-unavailable`.
async fn messages_to_an_absent_resource(db: Db) {
    let s = server(db);
    let mut alice = Client::login(&s, ALICE, PW, ClientOpts::default().resource("desk")).await;
    let mut bob = Client::login(&s, BOB, PW, ClientOpts::default()).await;
    bob.message(&format!("{ALICE}/phone"), "to a phone that is off")
        .await;
    // Delivered to the desk; `to` keeps the address the sender used.
    alice.expect_message(BOB, "to a phone that is off").await;
    alice.disconnect().await;
    bob.message(&format!("{ALICE}/desk"), "to a desk that left")
        .await;
    let mut alice = Client::login(&s, ALICE, PW, ClientOpts::default().resource("laptop")).await;
    let m = alice.expect_message(BOB, "to a desk that left").await;
    assert!(!m["delay"].is_null(), "stored offline: {m}");
}

async fn presence_subscription_and_roster_push(db: Db) {
    let s = server(db);
    let mut alice = Client::login(&s, ALICE, PW, ClientOpts::default()).await;
    let mut bob = Client::login(&s, BOB, PW, ClientOpts::default()).await;
    alice
        .request_ok(json!({"cmd": "roster_set", "jid": BOB, "name": "Bob", "groups": ["Team"]}))
        .await;
    let push = alice.expect_event("roster_push").await;
    assert_eq!(push["items"][0]["jid"], BOB, "{push}");
    assert_eq!(push["items"][0]["groups"], json!(["Team"]), "{push}");
    alice
        .request_ok(json!({"cmd": "subscribe", "to": BOB}))
        .await;
    bob.expect_presence(ALICE, "subscribe").await;
    bob.request_ok(json!({"cmd": "subscribed", "to": ALICE}))
        .await;
    alice.expect_presence(BOB, "subscribed").await;
    // Now subscribed: alice sees bob's presence.
    alice.expect_presence(BOB, "available").await;
    bob.request_ok(json!({"cmd": "presence", "show": "away", "status": "lunch"}))
        .await;
    let p = alice.expect_presence(BOB, "available").await;
    let _ = p;
    let roster = alice.request(json!({"cmd": "roster_get"})).await;
    let item = &roster["items"][0];
    assert_eq!(item["subscription"], "to", "{roster}");
    bob.disconnect().await;
    alice.expect_presence(BOB, "unavailable").await;
}

async fn disco_version_ping_and_iq_errors(db: Db) {
    let s = server(db);
    let mut alice = Client::login(&s, ALICE, PW, ClientOpts::default()).await;
    let info = alice
        .request(json!({"cmd": "disco_info", "to": "agents.support.test"}))
        .await;
    assert_eq!(
        info["identities"][0],
        json!(["server", "im", "Switchboard"]),
        "{info}"
    );
    let features = info["features"].to_string();
    for f in ["urn:xmpp:ping", "jabber:iq:version", "urn:xmpp:carbons:2"] {
        assert!(features.contains(f), "{f} missing: {info}");
    }
    let v = alice
        .request(json!({"cmd": "version", "to": "agents.support.test"}))
        .await;
    assert_eq!(v["name"], "Switchboard");
    let p = alice
        .request(json!({"cmd": "ping", "to": "agents.support.test"}))
        .await;
    assert_eq!(p["type"], "result", "{p}");
    // An IQ nobody answers: service-unavailable.
    let e = alice
        .request(json!({"cmd": "iq", "type": "get", "to": "agents.support.test", "xml": "<query xmlns='urn:example:nothing'/>"}))
        .await;
    assert_eq!(e["condition"], "service-unavailable", "{e}");
    // An IQ to an offline resource: service-unavailable.
    let e = alice
        .request(json!({"cmd": "iq", "type": "get", "to": format!("{BOB}/nowhere"), "xml": "<ping xmlns='urn:xmpp:ping'/>"}))
        .await;
    assert_eq!(e["condition"], "service-unavailable", "{e}");
    // A known feature asked to do what it does not do.
    let e = alice
        .request(json!({"cmd": "iq", "type": "set", "to": "agents.support.test", "xml": "<query xmlns='jabber:iq:version'/>"}))
        .await;
    assert_eq!(e["condition"], "feature-not-implemented", "{e}");
    // A disco node that does not exist.
    let e = alice
        .request(json!({"cmd": "iq", "type": "get", "to": "agents.support.test", "xml": "<query xmlns='http://jabber.org/protocol/disco#info' node='urn:example:none'/>"}))
        .await;
    assert_eq!(e["condition"], "item-not-found", "{e}");
    // Removing a roster item that was never there.
    let e = alice
        .request(json!({"cmd": "iq", "type": "set", "xml": "<query xmlns='jabber:iq:roster'><item jid='nobody@agents.support.test' subscription='remove'/></query>"}))
        .await;
    assert_eq!(e["condition"], "item-not-found", "{e}");
}
