//! The commented `conf/routing.toml` does what its comments say.

use std::path::Path;

use super::tests::Session;
use crate::config::{AgentProtocol, GatewayConfig, RoutingConfig, Settings};

fn example() -> RoutingConfig {
    let conf = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf");
    let settings = Settings::load(&conf.join("switchboard.toml")).unwrap();
    GatewayConfig::load(&settings).unwrap().routing
}

/// The name of the rule `s` meets first, if any.
fn rule(r: &RoutingConfig, s: &Session) -> Option<String> {
    r.first_match(&s.facts()).map(|m| m.name.clone())
}

fn at(s: &str) -> jiff::Timestamp {
    s.parse().unwrap()
}

#[test]
fn the_example_rules_route_as_their_comments_say() {
    let r = example();
    assert_eq!(r.rules().len(), 11);
    // Monday 2026-07-06, 10:00 in Paris: open.
    let mut s = Session::new();
    s.entry = "help@support.example";
    assert_eq!(rule(&r, &s), None);

    s.lang = Some("de-AT");
    assert_eq!(rule(&r, &s).as_deref(), Some("languages-we-do-not-speak"));
    let reject = r.first_match(&s.facts()).unwrap().actions.reject.clone();
    assert!(reject.unwrap().starts_with("Sorry, we can only help"));

    s.lang = Some("fr");
    s.domain = "eu.bigcorp.example";
    let vip = r.first_match(&s.facts()).unwrap();
    assert_eq!(
        (vip.name.as_str(), vip.actions.priority),
        ("vip", Some(100))
    );

    s.domain = "customer.example";
    assert_eq!(rule(&r, &s).as_deref(), Some("french"));
    s.text = "Bonjour, ma FACTURE de juin est fausse.";
    let billing = r.first_match(&s.facts()).unwrap();
    assert_eq!(billing.name, "french-billing");
    assert_eq!(billing.actions.queue.as_deref(), Some("billing"));
    s.text = "";
    // Monday 20:00 in Paris, then Christmas at 10:00.
    s.now = at("2026-07-06T18:00:00Z");
    assert_eq!(rule(&r, &s).as_deref(), Some("french-after-hours"));
    s.lang = None;
    assert_eq!(rule(&r, &s).as_deref(), Some("after-hours"));
    s.now = at("2026-12-25T09:00:00Z");
    assert_eq!(rule(&r, &s).as_deref(), Some("after-hours"));
    s.entry = "billing@support.example";
    assert_eq!(rule(&r, &s), None, "after-hours is for help@ only");
    s.now = Session::new().now;

    s.text = "Where is my order # 123456?";
    assert_eq!(rule(&r, &s).as_deref(), Some("order-number"));
    s.text = "";
    s.answers.insert("topic".into(), "Invoice".into());
    assert_eq!(rule(&r, &s).as_deref(), Some("topic-billing"));
    s.answers.clear();

    s.channel = "sms";
    let sms = r.first_match(&s.facts()).unwrap();
    assert_eq!(sms.name, "sms");
    assert_eq!(
        sms.actions.agent_protocol,
        AgentProtocol::Named("sms".into())
    );
    assert_eq!(sms.actions.fallback.as_deref(), Some("general"));
    s.channel = "telegram";
    let apps = r.first_match(&s.facts()).unwrap();
    assert_eq!(apps.actions.agent_protocol, AgentProtocol::Any);
    s.channel = "xmpp";

    s.client = Some("conversations");
    s.features = ["oob".to_string(), "receipts".into()].into();
    assert_eq!(rule(&r, &s).as_deref(), Some("file-links"));
    s.features.insert("http-upload".into());
    assert_eq!(rule(&r, &s), None);
}

#[test]
fn the_example_calendar_queue_and_protocols() {
    let r = example();
    // A reload of the same files must read as unchanged.
    assert_eq!(r, example());
    let office = r.calendar("office").unwrap();
    assert_eq!(office.timezone, "Europe/Paris");
    assert!(office.is_open(at("2026-07-04T08:30:00Z")), "Saturday 10:30");
    assert!(!office.is_open(at("2026-07-06T10:45:00Z")), "lunch");
    assert!(!office.is_open(at("2027-07-14T08:00:00Z")), "every 14 July");
    assert_eq!(
        r.queue("general").unwrap().calendar.as_deref(),
        Some("office")
    );
    assert_eq!(r.queue("billing").unwrap().calendar, None);
    let sms = r.protocol_override("sms.support.example").unwrap();
    assert_eq!((sms.protocol.as_str(), sms.max_length), ("sms", Some(160)));
    assert_eq!(
        r.protocol_override("irc.example.org").unwrap().protocol,
        "irc"
    );
}
