//! Rules an earlier rule shadows, and `[protocols]`.

use super::tests::{load, problems};
use crate::config::ProtocolOverride;

/// The problems of `rules`, or none.
fn shadows(rules: &str) -> Vec<String> {
    match load(rules) {
        Ok(_) => Vec::new(),
        Err(_) => problems(rules),
    }
}

/// Two named rules, `a` then `b`, with these conditions: whether `b` is
/// reported as shadowed by `a`.
fn shadowed(a: &str, b: &str) -> bool {
    let p = shadows(&format!(
        "[[rule]]\nname = \"a\"\n{a}\npriority = 1\n\n[[rule]]\nname = \"b\"\n{b}\npriority = 2\n"
    ));
    match p.as_slice() {
        [] => false,
        [one] => {
            let b_line = 19 + a.lines().count().max(1);
            assert_eq!(
                one,
                &format!(
                    "/etc/sb/routing.toml:{b_line}: rule 'b' can never match: rule 'a' (line 15) \
                     matches everything it matches"
                )
            );
            true
        }
        more => panic!("{more:?}"),
    }
}

#[test]
fn a_catch_all_rule_shadows_every_later_one() {
    let rules = "\
[[rule]]
name = \"sms\"
channel = \"sms\"
message = \"Hello\"

[[rule]]
priority = 5

[[rule]]
name = \"late\"
closed = \"office\"
message = \"We are closed\"

[[rule]]
keywords = \"refund\"
message = \"Refunds take a week\"
";
    assert_eq!(
        problems(rules),
        vec![
            "/etc/sb/routing.toml:23: rule 'late' can never match: the rule at line 20 matches everything it matches",
            "/etc/sb/routing.toml:28: this rule can never match: the rule at line 20 matches everything it matches",
        ]
    );
    assert!(shadowed("", "channel = \"sms\""));
}

#[test]
fn any_of_lists_shadow_their_subsets() {
    assert!(shadowed(
        "channel = [\"sms\", \"irc\"]",
        "channel = \"sms\""
    ));
    assert!(!shadowed(
        "channel = \"sms\"",
        "channel = [\"sms\", \"irc\"]"
    ));
    assert!(shadowed(
        "entry = [\"help@support.test\", \"billing@support.test\"]",
        "entry = \"BILLING@support.test\""
    ));
    assert!(shadowed("client = \"Gajim\"", "client = \"gajim\""));
    assert!(!shadowed("client = \"Gajim\"", "client = \"Dino\""));
    // A condition the later rule does not have makes the earlier narrower.
    assert!(!shadowed("channel = \"sms\"", "lang = \"fr\""));
    assert!(shadowed(
        "channel = \"sms\"",
        "channel = \"sms\"\nlang = \"fr\""
    ));
}

#[test]
fn keywords_shadow_the_phrases_that_contain_them() {
    assert!(shadowed(
        "keywords = [\"invoice\", \"refund\"]",
        "keywords = \"Refund\""
    ));
    assert!(!shadowed(
        "keywords = \"refund\"",
        "keywords = [\"refund\", \"bill\"]"
    ));
    assert!(shadowed(
        "keywords = \"refund\"",
        "keywords = \"refund request\""
    ));
    assert!(!shadowed(
        "keywords = \"refund request\"",
        "keywords = \"refund\""
    ));
}

#[test]
fn domain_wildcards_cover_subdomains() {
    assert!(shadowed(
        "domain = \"*.example.com\"",
        "domain = [\"example.com\", \"eu.example.com\", \"*.eu.example.com\"]"
    ));
    assert!(!shadowed(
        "domain = \"*.example.com\"",
        "domain = [\"eu.example.com\", \"example.org\"]"
    ));
    assert!(!shadowed(
        "domain = \"example.com\"",
        "domain = \"*.example.com\""
    ));
    assert!(!shadowed(
        "domain = \"*.eu.example.com\"",
        "domain = \"example.com\""
    ));
}

#[test]
fn all_of_lists_and_the_other_conditions() {
    assert!(shadowed(
        "features = \"receipts\"",
        "features = [\"receipts\", \"oob\"]"
    ));
    assert!(!shadowed(
        "features = [\"receipts\", \"oob\"]",
        "features = \"receipts\""
    ));
    assert!(shadowed(
        "lacks = \"oob\"",
        "lacks = [\"oob\", \"receipts\"]"
    ));
    assert!(!shadowed(
        "lacks = [\"oob\", \"receipts\"]",
        "lacks = \"oob\""
    ));
    assert!(shadowed("lang = \"fr\"", "lang = [\"fr-CA\", \"fr-BE\"]"));
    assert!(!shadowed("lang = \"fr-CA\"", "lang = \"fr\""));
    assert!(shadowed("regex = 'order [0-9]+'", "regex = 'order [0-9]+'"));
    assert!(!shadowed(
        "regex = 'order [0-9]+'",
        "regex = 'order [0-9]*'"
    ));
    assert!(shadowed(
        "answers = { topic = [\"billing\", \"sales\"] }",
        "answers = { topic = \"billing\", account = \"gold\" }"
    ));
    assert!(!shadowed(
        "answers = { topic = \"billing\", account = \"gold\" }",
        "answers = { topic = \"billing\" }"
    ));
    assert!(shadowed(
        "open = \"office\"",
        "open = \"office\"\nchannel = \"sms\""
    ));
    assert!(!shadowed("open = \"office\"", "closed = \"office\""));
    assert!(shadowed("closed = \"office\"", "closed = \"office\""));
}

#[test]
fn a_rule_with_a_bad_condition_is_not_compared() {
    // The unknown channel is left out of the first rule; what is left
    // would otherwise shadow the second.
    assert_eq!(
        problems(
            "[[rule]]\nchannel = [\"icq\"]\nlang = \"fr\"\npriority = 1\n\
             [[rule]]\nlang = \"fr\"\nchannel = \"sms\"\npriority = 2\n"
        ),
        vec![format!(
            "/etc/sb/routing.toml:16: unknown channel 'icq': use {}",
            crate::config::PROTOCOLS.join(", ")
        )]
    );
}

#[test]
fn protocols_map_domains_to_networks() {
    let g = load(
        "[protocols]\n\"SMS.example.net\" = \"sms\"\n\
         \"irc.example.org\" = { protocol = \"irc\", max_length = 400 }\n",
    )
    .unwrap();
    let sms = ProtocolOverride {
        protocol: "sms".into(),
        max_length: None,
    };
    assert_eq!(g.routing.protocol_override("sms.example.NET"), Some(&sms));
    let irc = g.routing.protocol_override("irc.example.org").unwrap();
    assert_eq!((irc.protocol.as_str(), irc.max_length), ("irc", Some(400)));
    assert!(g.routing.protocol_override("example.org").is_none());
}

#[test]
fn every_protocols_problem_is_reported_with_its_line() {
    let rules = "\
[protocols]
\"sms.example.net\" = \"icq\"
\"bad domain\" = \"sms\"
\"support.test\" = \"xmpp\"
\"irc.example.org\" = { protocol = \"irc\", max_length = 0 }
\"tg.example.org\" = { protocol = \"telegram\", limit = 10 }
";
    let protocols = crate::config::PROTOCOLS.join(", ");
    assert_eq!(
        problems(rules),
        vec![
            "/etc/sb/routing.toml:20: unknown field `limit`, expected `protocol` or `max_length`"
                .to_string()
        ]
    );
    let rules = rules.replace(", limit = 10", "");
    assert_eq!(
        problems(&rules),
        vec![
            format!("/etc/sb/routing.toml:16: [protocols] \"sms.example.net\": unknown protocol 'icq': use {protocols}"),
            "/etc/sb/routing.toml:17: [protocols]: 'bad domain' is not a valid domain".into(),
            "/etc/sb/routing.toml:18: [protocols]: 'support.test' is the support domain, not a customer's".into(),
            "/etc/sb/routing.toml:19: max_length must be between 1 and 100000".into(),
        ]
    );
}
