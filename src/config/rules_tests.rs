//! Rules: what each condition matches, what the actions read as, and
//! every problem with its line.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::config::{
    Actions, AgentProtocol, ConfigError, Facts, GatewayConfig, RoutingConfig, FEATURES,
};

pub(crate) const AGENTS: &str = "\
[[agent]]
jid = \"alice@agents.support.test\"
name = \"Alice\"
skills = [\"billing\", \"en\"]
protocols = [\"xmpp\", \"web\"]
max_live = 1

[[agent]]
jid = \"bob@agents.support.test\"
name = \"Bob\"
skills = [\"fr\"]
protocols = [\"sms\", \"xmpp\"]
max_live = 1
";

/// 13 lines: the rules appended to it start at line 15.
pub(crate) const BASE: &str = "\
[[calendar]]
name = \"office\"
timezone = \"Europe/Paris\"
open = [\"mon-fri 09:00-18:00\"]

[[queue]]
name = \"general\"
entry = [\"help@support.test\"]

[[queue]]
name = \"billing\"
entry = [\"billing@support.test\"]
skills = [\"billing\"]
";

pub(super) fn load(rules: &str) -> Result<GatewayConfig, ConfigError> {
    GatewayConfig::from_strs(
        "support.test",
        (Path::new("/etc/sb/agents.toml"), AGENTS),
        (
            Path::new("/etc/sb/routing.toml"),
            &format!("{BASE}\n{rules}"),
        ),
    )
}

pub(super) fn problems(rules: &str) -> Vec<String> {
    match load(rules) {
        Err(ConfigError::Invalid(p)) => p.iter().map(ToString::to_string).collect(),
        other => panic!("expected problems, got {other:?}"),
    }
}

fn routing(rules: &str) -> RoutingConfig {
    match load(rules) {
        Ok(g) => g.routing,
        Err(e) => panic!("{e}"),
    }
}

/// The facts of a session, owned, with everything unknown or empty.
pub(super) struct Session {
    pub(super) entry: &'static str,
    pub(super) channel: &'static str,
    pub(super) client: Option<&'static str>,
    pub(super) features: BTreeSet<String>,
    pub(super) domain: &'static str,
    pub(super) text: &'static str,
    pub(super) answers: BTreeMap<String, String>,
    pub(super) lang: Option<&'static str>,
    pub(super) frustration: f64,
    pub(super) now: jiff::Timestamp,
}

impl Session {
    pub(super) fn new() -> Self {
        Session {
            entry: "help@support.test",
            channel: "xmpp",
            client: None,
            features: BTreeSet::new(),
            domain: "customer.test",
            text: "",
            answers: BTreeMap::new(),
            lang: None,
            frustration: 0.0,
            // A Monday, 10:00 in Paris: the office is open.
            now: "2026-07-06T08:00:00Z".parse().unwrap(),
        }
    }

    pub(super) fn facts(&self) -> Facts<'_> {
        Facts {
            entry: self.entry,
            channel: self.channel,
            client: self.client,
            features: &self.features,
            domain: self.domain,
            text: self.text,
            answers: &self.answers,
            lang: self.lang,
            frustration: self.frustration,
            now: self.now,
        }
    }
}

/// Whether the one rule `conditions` (given an action) matches `s`.
fn matches(conditions: &str, s: &Session) -> bool {
    let r = routing(&format!("[[rule]]\n{conditions}\npriority = 1\n"));
    r.rules()[0].matches(&s.facts(), r.calendars())
}

#[test]
fn each_condition_matches_what_it_says() {
    let mut s = Session::new();
    assert!(matches("", &s), "no condition: everything");

    assert!(matches("entry = \"help@support.test\"", &s));
    assert!(!matches("entry = [\"billing@support.test\"]", &s));
    s.entry = "Billing@Support.test";
    assert!(matches("entry = [\"BILLING@support.test\"]", &s));

    assert!(matches("channel = [\"sms\", \"xmpp\"]", &s));
    assert!(!matches("channel = \"sms\"", &s));

    assert!(!matches("client = \"Gajim\"", &s), "unknown client");
    s.client = Some("gajim");
    assert!(matches("client = [\"Conversations\", \"Gajim\"]", &s));
    assert!(!matches("client = [\"Gajim Nightly\"]", &s));

    s.features = ["receipts".to_string(), "oob".into()].into();
    assert!(matches("features = [\"receipts\", \"oob\"]", &s));
    assert!(!matches("features = [\"receipts\", \"xhtml-im\"]", &s));
    assert!(matches("lacks = [\"xhtml-im\", \"corrections\"]", &s));
    assert!(!matches("lacks = [\"xhtml-im\", \"oob\"]", &s));

    assert!(matches("domain = \"Customer.test\"", &s));
    assert!(
        matches("domain = \"*.customer.test\"", &s),
        "the domain itself"
    );
    s.domain = "eu.Customer.test";
    assert!(matches("domain = \"*.customer.test\"", &s));
    assert!(!matches("domain = \"customer.test\"", &s));
    s.domain = "notcustomer.test";
    assert!(!matches("domain = \"*.customer.test\"", &s));

    assert!(!matches("lang = \"fr\"", &s), "no xml:lang");
    s.lang = Some("fr-CA");
    assert!(matches("lang = [\"de\", \"fr\"]", &s));
    assert!(matches("lang = \"FR-ca\"", &s));
    assert!(!matches("lang = \"fr-fr\"", &s));
    s.lang = Some("fra");
    assert!(!matches("lang = \"fr\"", &s));

    s.answers.insert("topic".into(), " Billing ".into());
    assert!(matches("answers = { topic = \"billing\" }", &s));
    assert!(matches(
        "answers = { topic = [\"sales\", \"BILLING\"] }",
        &s
    ));
    assert!(!matches("answers = { topic = \"sales\" }", &s));
    s.answers.insert("account".into(), " AC-912345 ".into());
    assert!(matches(
        "answer_patterns = { account = '^ac-9\\d{5}$' }",
        &s
    ));
    assert!(!matches("answer_patterns = { account = '^AC-8' }", &s));
    assert!(!matches("answer_patterns = { missing = '.' }", &s));
    assert!(!matches(
        "answers = { topic = \"billing\", account = \"gold\" }",
        &s
    ));
}

#[test]
fn keywords_are_whole_words_and_regexes_ignore_case() {
    let mut s = Session::new();
    s.text = "Bonjour, je voudrais un REMBOURSEMENT de l'abonnement (commande #A-17) !";
    assert!(matches("keywords = [\"facture\", \"remboursement\"]", &s));
    assert!(
        matches("keywords = \"abonnement\"", &s),
        "after an apostrophe"
    );
    assert!(
        !matches("keywords = \"rembourse\"", &s),
        "not a part of a word"
    );
    assert!(matches("keywords = \"voudrais un\"", &s), "a phrase");
    assert!(!matches("keywords = \"voudrais de\"", &s));
    assert!(matches("regex = 'commande #[a-z]-[0-9]+'", &s));
    assert!(!matches("regex = '(?-i)commande #[a-z]-[0-9]+'", &s));
    s.text = "";
    assert!(!matches("keywords = \"remboursement\"", &s));
}

#[test]
fn calendars_open_and_closed() {
    let mut s = Session::new();
    assert!(matches("open = \"office\"", &s));
    assert!(!matches("closed = \"office\"", &s));
    // Monday 20:00 in Paris.
    s.now = "2026-07-06T18:00:00Z".parse().unwrap();
    assert!(!matches("open = \"office\"", &s));
    assert!(matches("closed = \"office\"", &s));
}

#[test]
fn the_first_matching_rule_applies() {
    let r = routing(
        "[[rule]]\nname = \"sms-fr\"\nchannel = \"sms\"\nlang = \"fr\"\npriority = 3\n\
         [[rule]]\nname = \"sms\"\nchannel = \"sms\"\nmessage = \"Hi\"\n\
         [[rule]]\nname = \"fr\"\nlang = \"fr\"\nskills = \"fr\"\n",
    );
    let mut s = Session::new();
    assert!(r.first_match(&s.facts()).is_none());
    s.lang = Some("fr");
    assert_eq!(r.first_match(&s.facts()).unwrap().name, "fr");
    s.channel = "sms";
    assert_eq!(r.first_match(&s.facts()).unwrap().name, "sms-fr");
    s.lang = Some("de");
    assert_eq!(r.first_match(&s.facts()).unwrap().name, "sms");
    assert_eq!(r.rules().len(), 3);
    assert_eq!(r.rules()[2].line, 24);
}

#[test]
fn actions_read_as_written() {
    let r = routing(
        "[[rule]]
channel = \"sms\"
queue = \"billing\"
skills = [\"fr\"]
priority = -20
agent_protocol = \"sms\"
agent_features = [\"oob\", \"receipts\"]
message = \"  An SMS agent will answer.  \"
fallback = \"general\"

[[rule]]
name = \"any\"
channel = \"web\"
agent_protocol = \"any\"

[[rule]]
name = \"no-german\"
lang = \"de\"
reject = \"Sorry, we answer in French and English only.\"
",
    );
    let [a, b, c] = r.rules() else {
        panic!("{:?}", r.rules())
    };
    assert_eq!((a.name.as_str(), a.line), ("rule at line 15", 15));
    assert_eq!(
        a.actions,
        Actions {
            queue: Some("billing".into()),
            skills: ["fr".to_string()].into(),
            priority: Some(-20),
            agent_protocol: AgentProtocol::Named("sms".into()),
            agent_features: ["oob".to_string(), "receipts".into()].into(),
            message: Some("An SMS agent will answer.".into()),
            reject: None,
            fallback: Some("general".into()),
            language: None,
            alert: false,
            offer_callback: false,
        }
    );
    assert_eq!((b.name.as_str(), b.line), ("any", 25));
    assert_eq!(b.actions.agent_protocol, AgentProtocol::Any);
    assert_eq!(b.actions.queue, None);
    assert_eq!(c.actions.agent_protocol, AgentProtocol::Channel);
    assert_eq!(
        c.actions.reject.as_deref(),
        Some("Sorry, we answer in French and English only.")
    );
}

#[test]
fn every_rule_problem_is_reported_with_its_line() {
    let rules = "\
[[rule]]
name = \"Bad Name\"
entry = [\"nobody@support.test\", \"help@support.test/web\"]
channel = [\"sms\", \"icq\"]
client = [\"\"]
features = [\"xhtml\", \"receipts\"]
lacks = [\"receipts\"]
domain = [\"*\", \"ex*ample.com\", \"a b.com\"]
keywords = [\"\", \"!!!\"]
regex = \"order #?[0-9+\"
answers = { \"Topic\" = \"billing\", area = [] }
lang = [\"fr_CA\"]
open = \"shop\"
closed = \"office\"
queue = \"sales\"
skills = [\"german\", \"Bad\"]
priority = 2000
agent_protocol = \"icq\"
agent_features = [\"html\"]
message = \" \"
fallback = \"nowhere\"

[[rule]]
name = \"polite\"
channel = []
reject = \"Sorry.\"
queue = \"general\"
priority = 5

[[rule]]
name = \"polite\"
open = \"office\"
closed = \"office\"

[[rule]]
keywords = \"refund\"
agent_protocol = \"telegram\"
";
    let f = |line: usize, msg: &str| format!("/etc/sb/routing.toml:{line}: {msg}");
    let features = FEATURES.join(", ");
    let protocols = crate::config::PROTOCOLS.join(", ");
    let actions = "has no action: give it queue, skills, priority, agent_protocol, \
                   agent_features, message, reject, fallback, alert or offer_callback";
    assert_eq!(
        problems(rules),
        vec![
            f(
                16,
                "rule name 'Bad Name' must be lowercase letters, digits, '_' or '-'"
            ),
            f(
                17,
                "entry 'nobody@support.test' is not the entry JID of any queue"
            ),
            f(
                17,
                "entry 'help@support.test/web' has a resource: write the bare JID, user@domain"
            ),
            f(18, &format!("unknown channel 'icq': use {protocols}")),
            f(19, "empty client name"),
            f(20, &format!("unknown feature 'xhtml': use {features}")),
            f(
                21,
                "feature 'receipts' is both required and lacking: the rule could never match"
            ),
            f(
                22,
                "domain '*': a wildcard may only start it, as in *.example.com"
            ),
            f(
                22,
                "domain 'ex*ample.com': a wildcard may only start it, as in *.example.com"
            ),
            f(22, "domain 'a b.com' is not a valid domain"),
            f(23, "empty keyword"),
            f(
                23,
                "keyword '!!!' has no letter or digit: it could never match"
            ),
            f(24, "bad regex 'order #?[0-9+': unclosed character class"),
            f(
                25,
                "answers: question 'Topic' must be lowercase letters, digits, '_' or '-'"
            ),
            f(
                25,
                "answers.area is an empty list: the rule could never match"
            ),
            f(26, "lang 'fr_CA' is not a language tag like fr or fr-CA"),
            f(27, "unknown calendar 'shop': no [[calendar]] has that name"),
            f(29, "unknown queue 'sales': no [[queue]] has that name"),
            f(
                30,
                "skill 'Bad' must be lowercase letters, digits, '_' or '-'"
            ),
            f(30, "no agent has skill 'german'"),
            f(31, "priority must be between -1000 and 1000"),
            f(
                32,
                &format!("unknown agent_protocol 'icq': use channel, any, or one of {protocols}")
            ),
            f(33, &format!("unknown feature 'html': use {features}")),
            f(34, "message is empty"),
            f(35, "unknown queue 'nowhere': no [[queue]] has that name"),
            f(39, "channel is an empty list: the rule could never match"),
            f(
                40,
                "reject closes the session: it cannot be combined with queue, priority"
            ),
            f(44, &format!("rule 'polite' {actions}")),
            f(45, "rule 'polite' is declared twice (first at line 38)"),
            f(
                47,
                "open and closed both name 'office': the rule could never match"
            ),
            f(51, "no agent serves protocol 'telegram'"),
        ]
    );
}

#[test]
fn a_rule_needs_an_action_and_known_keys() {
    assert_eq!(
        problems("[[rule]]\nchannel = \"sms\"\n"),
        vec![
            "/etc/sb/routing.toml:15: this rule has no action: give it queue, skills, priority, \
             agent_protocol, agent_features, message, reject, fallback, alert or offer_callback"
        ]
    );
    let p = problems("[[rule]]\nchannel = \"sms\"\nqueues = \"general\"\n");
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].starts_with("/etc/sb/routing.toml:17: unknown field `queues`, expected one of"),
        "{p:?}"
    );
    assert_eq!(
        problems("[[rule]]\nchannel = 3\nqueue = \"general\"\n"),
        vec!["/etc/sb/routing.toml:16: invalid type: integer `3`, expected a string or a list of strings"]
    );
}

#[test]
fn a_rule_on_the_customer_s_mood_matches_above_its_threshold() {
    let r = routing(
        "[[rule]]\nname = \"angry\"\nfrustration_above = 0.5\npriority = 9\nalert = true\n",
    );
    let mut s = Session::new();
    s.frustration = 0.4;
    assert!(r.first_match(&s.facts()).is_none());
    s.frustration = 0.7;
    let rule = r.first_match(&s.facts()).expect("matches");
    assert_eq!(rule.name, "angry");
    assert!(rule.tests_mood());
    assert!(rule.actions.alert);
    assert_eq!(rule.actions.priority, Some(9));
    assert_eq!(
        problems("[[rule]]\nfrustration_above = 1.5\npriority = 2\n"),
        vec!["/etc/sb/routing.toml:16: frustration_above = 1.5: give a score from 0 to 1 (0.5 reads as frustrated)"]
    );
}
