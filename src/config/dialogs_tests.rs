//! dialogs.toml: what its questions accept, what its handoff rules match,
//! and every problem with its file and line (the routing rules that test
//! unknown questions at theirs in routing.toml).

use std::collections::BTreeMap;
use std::path::Path;

use crate::config::rules::tests::{AGENTS, BASE};
use crate::config::{
    ConfigError, DialogsConfig, GatewayConfig, HandoffFacts, LangText, Refusal, Settings, Then,
};

fn load(rules: &str, dialogs: &str) -> Result<GatewayConfig, ConfigError> {
    GatewayConfig::from_strs_with_dialogs(
        "support.test",
        (Path::new("/etc/sb/agents.toml"), AGENTS),
        (
            Path::new("/etc/sb/routing.toml"),
            &format!("{BASE}\n{rules}"),
        ),
        (Path::new("/etc/sb/dialogs.toml"), dialogs),
    )
}

fn dialogs(text: &str) -> DialogsConfig {
    load("", text).unwrap().dialogs
}

fn problems(rules: &str, dialogs: &str) -> Vec<String> {
    match load(rules, dialogs) {
        Err(ConfigError::Invalid(p)) => p.iter().map(ToString::to_string).collect(),
        other => panic!("expected problems, got {other:?}"),
    }
}

const QUESTIONS: &str = r#"
[[question]]
name = "topic"
ask = { en = "What about?", fr = "À quel sujet ?" }
choices = [
    { value = "billing", label = { en = "Billing and invoices", fr = "Facturation" } },
    { value = "delivery", label = "Delivery" },
]

[[question]]
name = "account"
ask = "Your customer number?"
pattern = '^AC-\d{6}$'
example = "AC-123456"
optional = true
remember = true
identifier = "account"
max_length = 20
"#;

#[test]
fn a_choice_is_taken_by_number_value_label_or_a_word_of_one_label() {
    let d = dialogs(&format!(
        "{QUESTIONS}\n[[dialog]]\nname = \"d\"\nquestions = [\"topic\"]\n"
    ));
    let q = d.question("topic").unwrap();
    let take = |t: &str| q.accept(t, Some("en"), "en");
    assert_eq!(take("2").as_deref(), Ok("delivery"));
    assert_eq!(take(" 1. ").as_deref(), Ok("billing"));
    assert_eq!(take("BILLING").as_deref(), Ok("billing"));
    assert_eq!(take("billing and invoices").as_deref(), Ok("billing"));
    assert_eq!(take("invoices").as_deref(), Ok("billing"));
    assert_eq!(
        q.accept("facturation", Some("fr-CA"), "en").as_deref(),
        Ok("billing")
    );
    assert_eq!(take("3"), Err(Refusal::NotAChoice(2)));
    assert_eq!(take("0"), Err(Refusal::NotAChoice(2)));
    assert_eq!(take("the weather"), Err(Refusal::NotAChoice(2)));
    assert_eq!(take("   "), Err(Refusal::Empty));
    let menu = q.prompt(Some("fr"), "en");
    assert_eq!(menu, "À quel sujet ?\n1. Facturation\n2. Delivery");
    assert!(!q.is_skip("skip"), "the topic is not optional");
}

#[test]
fn a_free_answer_must_match_its_pattern_and_length() {
    let d = dialogs(&format!(
        "{QUESTIONS}\n[[dialog]]\nname = \"d\"\nquestions = [\"account\"]\n"
    ));
    let q = d.question("account").unwrap();
    let take = |t: &str| q.accept(t, None, "en");
    assert_eq!(take(" ac-123456 ").as_deref(), Ok("ac-123456"));
    assert_eq!(take("AC-12345"), Err(Refusal::NoMatch));
    assert_eq!(take("no AC-123456"), Err(Refusal::NoMatch));
    assert_eq!(take(&"x".repeat(21)), Err(Refusal::TooLong(20)));
    assert!(q.is_skip("Skip") && q.is_skip("passer"));
    assert!(q.remember);
    assert_eq!(q.identifier.as_deref(), Some("account"));
    let ex = q.example.as_ref().unwrap();
    assert_eq!(ex.get(Some("fr"), "en"), "AC-123456");
}

#[test]
fn texts_fall_back_from_region_to_language_to_default() {
    let mut t = LangText::default();
    t.0.insert("en".into(), "hello".into());
    t.0.insert("fr".into(), "bonjour".into());
    assert_eq!(t.get(Some("fr-CA"), "en"), "bonjour");
    assert_eq!(t.get(Some("de"), "en"), "hello");
    assert_eq!(t.get(None, "fr"), "bonjour");
    assert_eq!(LangText::plain("hi").get(Some("fr"), "en"), "hi");
}

#[test]
fn the_first_dialog_that_selects_a_session_applies() {
    let d = dialogs(&format!(
        "{QUESTIONS}
[[dialog]]
name = \"billing\"
queue = \"billing\"
questions = [\"account\"]

[[dialog]]
name = \"help\"
entry = \"help@support.test\"
questions = [\"topic\", \"account\"]
"
    ));
    let pick = |e: &str, q: &str| d.dialog_for(e, q, None).map(|d| d.name.clone());
    assert_eq!(
        pick("help@support.test", "general").as_deref(),
        Some("help")
    );
    assert_eq!(
        pick("help@support.test", "billing").as_deref(),
        Some("billing")
    );
    assert_eq!(pick("other@support.test", "general"), None);
}

#[test]
fn handoff_rules_match_in_order_and_default_without_any() {
    std::fs::create_dir_all(std::env::temp_dir().join("sb-kb-empty/en")).unwrap();
    let kb = std::env::temp_dir().join("sb-kb-empty");
    let with = |handoff: &str| {
        dialogs(&format!(
            "[self_service]\nknowledge_base = {kb:?}\n{handoff}\n[[dialog]]\nname = \"d\"\nself_service = true\n"
        ))
    };
    let calendars = load("", "").unwrap().routing.calendars().to_vec();
    let facts = |text, asks, unhelpful, no_match| HandoffFacts {
        text,
        asks_for_agent: asks,
        unhelpful,
        no_match,
        domain: "customer.example",
        frustration: 0.0,
        now: "2026-07-06T08:00:00Z".parse().unwrap(),
    };
    let d = with("");
    let then = |d: &DialogsConfig, f| d.handoff(&f, &calendars).map(|h| (h.name.clone(), h.then));
    assert_eq!(
        then(&d, facts("agent please", true, 0, 0)),
        Some(("asks-for-agent".into(), Then::Connect))
    );
    assert_eq!(
        then(&d, facts("no", false, 2, 0)),
        Some(("unhelpful".into(), Then::Invite))
    );
    assert_eq!(then(&d, facts("hm", false, 1, 1)), None);
    assert!(d
        .self_service()
        .unwrap()
        .asks_for_agent("Can I talk to a real person?"));
    assert!(d
        .self_service()
        .unwrap()
        .asks_for_agent("je veux un conseiller"));
    assert!(!d.self_service().unwrap().asks_for_agent("my agenda app"));

    let d = with(
        "[[handoff]]\nname = \"night\"\nasks_for_agent = true\nclosed = \"office\"\nthen = \"stay\"\nmessage = \"closed\"\n\
         [[handoff]]\nname = \"vip\"\ndomain = \"*.customer.example\"\n\
         [[handoff]]\nname = \"legal\"\nkeywords = [\"lawyer\", \"small claims\"]\nthen = \"invite\"\n",
    );
    // 08:00 UTC on a Monday is open in Paris; 20:00 is not.
    assert_eq!(then(&d, facts("x", true, 0, 0)).unwrap().0, "vip");
    let mut f = facts("I will take this to SMALL claims court", false, 0, 0);
    f.domain = "elsewhere.example";
    assert_eq!(then(&d, f).unwrap(), ("legal".into(), Then::Invite));
    f.asks_for_agent = true;
    f.now = "2026-07-06T19:00:00Z".parse().unwrap();
    assert_eq!(then(&d, f).unwrap(), ("night".into(), Then::Stay));
}

#[test]
fn canned_answers_fill_their_placeholders() {
    let d = dialogs(&format!(
        "{QUESTIONS}
[[dialog]]
name = \"d\"
questions = [\"account\"]

[[canned]]
name = \"Invoice\"
description = \"where invoices are\"
text = {{ en = \"Hi {{customer}}, {{agent}} here: invoices for {{answers.account}} are online.\", fr = \"Bonjour {{customer}}\" }}
"
    ));
    let c = d.canned_answer("INVOICE").unwrap();
    let values = BTreeMap::from([
        ("customer".to_string(), "Romeo".to_string()),
        ("agent".to_string(), "Alice".to_string()),
    ]);
    assert_eq!(
        c.render(Some("en-GB"), "en", &values),
        "Hi Romeo, Alice here: invoices for  are online."
    );
    assert_eq!(c.render(Some("fr"), "en", &values), "Bonjour Romeo");
}

#[test]
fn every_problem_is_reported_at_its_line() {
    let dialogs = r#"[defaults]
answer_timeout_secs = 5

[[question]]
name = "Topic"
ask = "?"

[[question]]
name = "both"
ask = "?"
pattern = "a"
choices = [{ value = "a" }, { value = "b" }]

[[question]]
name = "bad"
ask = "?"
pattern = "(unclosed"

[[question]]
name = "noask"

[[question]]
name = "id"
ask = { en = "?", de = "?" }
identifier = "account"

[[dialog]]
name = "d"
entry = "nobody@support.test"
queue = ["general", "nope"]
rule = "missing"
questions = ["topic", "id", "id"]
self_service = true

[[canned]]
name = "c"
text = "{customer} {answers.nothing} {weather}"

[[handoff]]
name = "h"
open = "never"
"#;
    let rules = "[[rule]]\nname = \"r\"\nanswers = { topic = \"billing\" }\nqueue = \"billing\"\n";
    assert_eq!(
        problems(rules, dialogs),
        [
            "/etc/sb/routing.toml:15: r: answers.topic: no question in dialogs.toml is called 'topic'",
            "/etc/sb/dialogs.toml:2: answer_timeout_secs must be between 10 and 3600",
            "/etc/sb/dialogs.toml:5: question name 'Topic' must be lowercase letters, digits, '_' or '-'",
            "/etc/sb/dialogs.toml:11: a question has a pattern or choices, not both",
            "/etc/sb/dialogs.toml:17: bad pattern '(unclosed': unclosed group",
            "/etc/sb/dialogs.toml:20: question 'noask' has no ask: write what the customer is asked",
            "/etc/sb/dialogs.toml:23: question 'id' is an identifier: give it a pattern, so that only a well-formed one links identities",
            "/etc/sb/dialogs.toml:24: ask.de: no such language (Switchboard has texts in en, fr)",
            "/etc/sb/dialogs.toml:28: self_service = true needs a [self_service] table with the knowledge base",
            "/etc/sb/dialogs.toml:29: unknown entry 'nobody@support.test': no [[queue]] in routing.toml has it",
            "/etc/sb/dialogs.toml:30: unknown queue 'nope': no [[queue]] in routing.toml has that name",
            "/etc/sb/dialogs.toml:31: unknown rule 'missing': no [[rule]] in routing.toml has that name",
            "/etc/sb/dialogs.toml:32: unknown question 'topic': no [[question]] has that name",
            "/etc/sb/dialogs.toml:32: question 'id' is asked twice",
            "/etc/sb/dialogs.toml:37: canned answer 'c': {answers.nothing} is not known: use {customer}, {agent}, {session} or {answers.QUESTION}",
            "/etc/sb/dialogs.toml:39: h: no trigger: give asks_for_agent, unhelpful, no_match, keywords, domain or frustration_above",
            "/etc/sb/dialogs.toml:41: unknown calendar 'never': no [[calendar]] has that name",
        ]
    );
}

#[test]
fn a_rule_may_only_test_a_choice_s_values_and_a_dialog_only_rules_without_answers() {
    let rules = "[[rule]]\nname = \"r\"\nanswers = { topic = [\"billing\", \"invoice\"] }\nqueue = \"billing\"\n";
    let dialogs =
        format!("{QUESTIONS}\n[[dialog]]\nname = \"d\"\nrule = \"r\"\nquestions = [\"topic\"]\n");
    assert_eq!(
        problems(rules, &dialogs),
        [
            "/etc/sb/routing.toml:15: r: answers.topic = \"invoice\" is not one of the question's choices (billing, delivery)",
            "/etc/sb/dialogs.toml:22: rule 'r' tests answers, which are not known before the dialog asks its questions",
        ]
    );
}

#[test]
fn a_missing_knowledge_base_folder_is_a_problem_at_its_key() {
    let p = problems("", "[self_service]\nknowledge_base = \"no-such-kb\"\n");
    assert_eq!(
        p,
        ["/etc/sb/dialogs.toml:2: knowledge_base: /etc/sb/no-such-kb is not a folder"]
    );
}

#[test]
fn the_shipped_dialogs_are_valid_and_ask_the_help_desk_s_questions() {
    let conf = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf");
    let settings = Settings::load(&conf.join("switchboard.toml")).unwrap();
    let g = GatewayConfig::load(&settings).unwrap_or_else(|e| panic!("{e}"));
    let d = &g.dialogs;
    let help = d
        .dialog_for("help@support.example", "general", None)
        .unwrap();
    assert_eq!(help.questions, ["topic", "account"]);
    assert!(help.self_service);
    assert_eq!(
        d.dialog_for("billing@support.example", "billing", None)
            .unwrap()
            .name,
        "billing"
    );
    let ss = d.self_service().unwrap();
    assert!(
        ss.kb.len() >= 60,
        "30 articles in two languages: {}",
        ss.kb.len()
    );
    assert_eq!(d.canned().len(), 3);
}

#[test]
fn a_rule_s_answer_pattern_must_name_a_question_and_compile() {
    let rules = "[[rule]]\nname = \"gold\"\nanswer_patterns = { account = '^AC-9', tier = 'x' }\npriority = 50\n\n\
                 [[rule]]\nname = \"bad\"\nanswer_patterns = { account = '(' }\npriority = 5\n";
    let dialogs = format!("{QUESTIONS}\n[[dialog]]\nname = \"d\"\nquestions = [\"account\"]\n");
    assert_eq!(
        problems(rules, &dialogs),
        [
            "/etc/sb/routing.toml:15: gold: answer_patterns.tier: no question in dialogs.toml is called 'tier'",
            "/etc/sb/routing.toml:22: answer_patterns.account: bad regex '(': unclosed group",
        ]
    );
}

#[test]
fn a_handoff_rule_on_the_mood_puts_an_angry_customer_through() {
    std::fs::create_dir_all(std::env::temp_dir().join("sb-kb-empty/en")).unwrap();
    let kb = std::env::temp_dir().join("sb-kb-empty");
    let d = dialogs(&format!(
        "[self_service]\nknowledge_base = {kb:?}\n\n[[handoff]]\nname = \"angry\"\n\
         frustration_above = 0.5\n\n[[dialog]]\nname = \"d\"\nself_service = true\n"
    ));
    let calendars = load("", "").unwrap().routing.calendars().to_vec();
    let facts = |frustration| HandoffFacts {
        text: "why is this so slow",
        asks_for_agent: false,
        unhelpful: 0,
        no_match: 0,
        domain: "customer.example",
        frustration,
        now: "2026-07-06T08:00:00Z".parse().unwrap(),
    };
    let name = |f| d.handoff(&facts(f), &calendars).map(|h| h.name.clone());
    assert_eq!(name(0.7).as_deref(), Some("angry"));
    assert_eq!(name(0.3), None);
}
