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
    assert_eq!(r.rules().len(), 12);
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
    s.answers.insert("topic".into(), "Billing".into());
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

    // The mood: last, and the first rule it holds for when nothing else
    // matches; tried on its own too (see `tests_mood`).
    s.frustration = 0.7;
    let angry = r.first_match(&s.facts()).unwrap();
    assert_eq!(angry.name, "angry-customer");
    assert!(angry.tests_mood() && angry.actions.alert);
    assert_eq!(angry.actions.priority, Some(50));
    s.frustration = 0.3;
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
        r.protocol_override("irc.transport.example")
            .unwrap()
            .protocol,
        "irc"
    );
}

/// Every domain the shipped files name is under `.example` (RFC 2606: it
/// resolves nowhere), so a fresh `serve` on them dials no one.
#[test]
fn the_shipped_files_name_only_domains_that_resolve_nowhere() {
    let conf = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf");
    let mut checked = 0;
    for file in ["switchboard.toml", "agents.toml", "routing.toml"] {
        let text = std::fs::read_to_string(conf.join(file)).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split(" #").next().unwrap_or_default();
            if code.trim_start().starts_with('#') {
                continue;
            }
            for quoted in code.split('"').skip(1).step_by(2) {
                let domain = match quoted.split_once('@') {
                    Some((_, d)) => d.split('/').next().unwrap_or_default(),
                    None if looks_like_a_domain(quoted) => quoted,
                    None => continue,
                };
                checked += 1;
                assert!(
                    domain == "example" || domain.ends_with(".example"),
                    "conf/{file}:{}: {quoted} is not under .example",
                    n + 1
                );
            }
        }
    }
    assert!(
        checked > 5,
        "only {checked} domains found: is the scan broken?"
    );
}

fn looks_like_a_domain(s: &str) -> bool {
    let labels: Vec<&str> = s.trim_start_matches("*.").split('.').collect();
    labels.len() > 1
        && labels
            .iter()
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        && labels
            .last()
            .unwrap()
            .chars()
            .all(|c| c.is_ascii_alphabetic())
        && !["toml", "db", "pem", "crt", "key", "log"].contains(labels.last().unwrap())
}
