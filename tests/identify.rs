//! Identification and adaptation end to end: customers come through a
//! transport component (slixmpp, `tests/clients/transport.py`, announcing
//! `gateway/sms` and a 160-character limit) or from a federated Prosody
//! with a slixmpp client of a chosen name and caps; agents are slixmpp
//! clients on Switchboard. What the agent is shown is checked line by line.

mod center;
mod common;

use center::*;
use common::{on_both_stores, Client, ClientOpts, Db, TIMEOUT};
use serde_json::json;

on_both_stores!(
    an_sms_customer_reaches_an_sms_agent_and_replies_are_split_and_flattened,
    a_federated_customer_is_identified_by_version_and_caps,
);

async fn an_sms_customer_reaches_an_sms_agent_and_replies_are_split_and_flattened(db: Db) {
    let c = center(db, ROUTING, false);
    // Alice logs in first, so longest-idle would pick her: only the
    // protocol keeps the SMS customer from her.
    let mut alice = agent(&c, ALICE).await;
    let mut bob = agent(&c, BOB).await;
    let mut sms = transport(
        &c,
        &["--max-length", "160", "--feature", "urn:xmpp:receipts"],
    )
    .await;
    sms.send(json!({"cmd": "message", "from": "+15551234", "to": HELP,
        "body": "my parcel is late"}));

    let ctx = line_containing(&mut bob, "Channel:").await;
    let text = body(&ctx);
    assert!(
        text.contains(
            "Channel: sms via sms.support.test [gateway/sms, max 160 characters per message]"
        ),
        "{text}"
    );
    assert!(text.contains("Features: receipts"), "{text}");
    assert!(
        text.contains("Routed by entry (no rule matched); agent protocol sms"),
        "{text}"
    );
    let first = line_containing(&mut bob, "my parcel is late").await;
    let proxy = first["from"].as_str().unwrap().to_string();
    alice
        .expect_none(
            |e| e["event"] == "message" && e["body"] == "my parcel is late",
            std::time::Duration::from_millis(300),
        )
        .await;

    // A long, rich reply: three plain parts of at most 160 characters.
    let words = "tracking ".repeat(40);
    let long = words.trim_end();
    bob.send(json!({"cmd": "message", "to": proxy, "body": long,
        "payload": format!("<html xmlns='http://jabber.org/protocol/xhtml-im'>\
            <body xmlns='http://www.w3.org/1999/xhtml'><p>{long}</p></body></html>")}));
    let mut parts = Vec::new();
    while parts.join(" ").len() < long.len() {
        let m = sms
            .expect_what(
                "a part of the reply",
                |e| {
                    e["event"] == "message"
                        && e["to"] == "+15551234@sms.support.test"
                        && body(e).starts_with("tracking")
                },
                TIMEOUT,
            )
            .await;
        assert!(!m["xml"].as_str().unwrap().contains("xhtml-im"), "{m}");
        assert_eq!(m["from"], HELP, "{m}");
        parts.push(body(&m).to_string());
    }
    assert_eq!(parts.len(), 3, "{parts:?}");
    assert!(parts.iter().all(|p| p.chars().count() <= 160), "{parts:?}");
    assert_eq!(parts.join(" "), long);

    // A file link, which SMS cannot carry as OOB: written into the body.
    bob.send(
        json!({"cmd": "message", "to": proxy, "body": "Here is the label",
        "payload": "<x xmlns='jabber:x:oob'><url>https://files.example/label.pdf</url></x>"}),
    );
    let m = line_containing(&mut sms, "Here is the label").await;
    assert_eq!(
        body(&m),
        "Here is the label\nhttps://files.example/label.pdf",
        "{m}"
    );
    assert!(!m["xml"].as_str().unwrap().contains("jabber:x:oob"), "{m}");

    // The agent can ask again at any time.
    bob.message(&proxy, "/info").await;
    let info = line_containing(&mut bob, "Session s-").await;
    assert!(
        body(&info).contains("Channel: sms via sms.support.test"),
        "{info}"
    );
}

async fn a_federated_customer_is_identified_by_version_and_caps(db: Db) {
    let c = center(db, ROUTING, true);
    let mut alice = agent(&c, ALICE).await;
    let mut opts = ClientOpts::default()
        .software("Pigeon", "2.7")
        .caps_node("https://pigeon.example/caps");
    opts.args.extend(
        [
            "--software-os",
            "Plan 9",
            "--client-type",
            "phone",
            "--feature",
            "urn:xmpp:receipts",
            "--feature",
            "http://jabber.org/protocol/chatstates",
            "--feature",
            "http://jabber.org/protocol/xhtml-im",
        ]
        .map(String::from),
    );
    let prosody = c.prosody.as_ref().unwrap();
    let mut juliet = Client::login(prosody, JULIET, PW, opts).await;
    juliet
        .request_ok(json!({"cmd": "subscribe", "to": HELP}))
        .await;
    // The entry asks back, so her presence (and its caps) reach it.
    juliet
        .expect_what(
            "the entry's subscription request",
            |e| e["event"] == "presence" && e["type"] == "subscribe" && e["from"] == HELP,
            TIMEOUT,
        )
        .await;
    juliet
        .request_ok(json!({"cmd": "subscribed", "to": HELP}))
        .await;
    juliet.send(json!({"cmd": "message", "to": HELP, "body": "Bonjour, ma facture",
        "lang": "fr",
        "payload": "<html xmlns='http://jabber.org/protocol/xhtml-im'><body xmlns='http://www.w3.org/1999/xhtml'>\
            <p>Bonjour, ma <em>facture</em></p></body></html>"}));

    let ctx = line_containing(&mut alice, "Channel:").await;
    let text = body(&ctx);
    for line in [
        "Channel: xmpp (customer.test) [server/im]",
        "Client: Pigeon 2.7 (Plan 9, phone, caps verified)",
        "Features: chat-states, receipts, xhtml-im",
        "Language: fr",
        "Routed by entry (no rule matched); agent protocol xmpp",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    // Alice's client (slixmpp without XHTML-IM) gets the text alone.
    let m = line_containing(&mut alice, "Bonjour, ma facture").await;
    assert!(!m["xml"].as_str().unwrap().contains("xhtml-im"), "{m}");

    // The same through the ad-hoc command "info".
    let proxy = m["from"].as_str().unwrap().to_string();
    let id = proxy.split('@').next().unwrap();
    let submit = format!(
        "<command xmlns='http://jabber.org/protocol/commands' node='info' sessionid='i1'>\
         <x xmlns='jabber:x:data' type='submit'><field var='session'><value>{id}</value></field></x></command>"
    );
    let done = alice
        .request(json!({"cmd": "iq", "type": "set", "to": "support.test", "xml": submit}))
        .await;
    let xml = done["xml"].as_str().unwrap();
    assert!(
        xml.contains("Client: Pigeon 2.7 (Plan 9, phone, caps verified)"),
        "{done}"
    );
}
