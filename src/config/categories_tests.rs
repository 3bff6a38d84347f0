//! categories.toml: what it holds once valid, every problem at its line,
//! and agents' `categories` and `role` checked against it.

use std::path::Path;

use crate::classify::Side;
use crate::config::{ConfigError, GatewayConfig, Settings};

const AGENTS: &str = "/etc/sb/agents.toml";
const ROUTING: &str = "/etc/sb/routing.toml";
const CATEGORIES: &str = "/etc/sb/categories.toml";

const TEAM: &str = "\
[[agent]]
jid = \"alice@agents.support.test\"
name = \"Alice\"
skills = [\"billing\"]
protocols = [\"xmpp\"]
max_live = 1

[[agent]]
jid = \"bob@agents.support.test\"
name = \"Bob\"
tier = 2
skills = [\"logistics\"]
categories = [\"delivery\"]
role = \"supervisor\"
protocols = [\"xmpp\"]
max_live = 1
";

const QUEUES: &str = "\
[[queue]]
name = \"general\"
entry = [\"help@support.test\"]
tier = 1

[[queue]]
name = \"billing\"
entry = [\"billing@support.test\"]

[[queue]]
name = \"l2\"
entry = [\"experts@support.test\"]
tier = 2
";

const VALID: &str = "\
[[category]]
name = \"billing\"
description = { en = \"Money\", fr = \"Argent\" }
queue = \"billing\"
[category.examples]
en = [\"I was charged twice\", \"where is my refund\"]
fr = [\"j'ai été débité deux fois\"]

[[category]]
name = \"delivery\"
description = \"Parcels\"
queue = \"l2\"
skill = \"logistics\"
[category.keywords]
en = [\"parcel\", \"courier\"]
fr = [\"colis\"]

[[example]]
category = \"delivery\"
lang = \"fr-CA\"
text = \"mon colis est perdu\"
";

fn load(agents: &str, categories: Option<&str>) -> Result<GatewayConfig, ConfigError> {
    let (a, r) = ((Path::new(AGENTS), agents), (Path::new(ROUTING), QUEUES));
    match categories {
        Some(c) => GatewayConfig::from_strs_with_categories(
            "support.test",
            a,
            r,
            (Path::new(CATEGORIES), c),
        ),
        None => GatewayConfig::from_strs("support.test", a, r),
    }
}

fn problems(agents: &str, categories: Option<&str>) -> Vec<String> {
    match load(agents, categories) {
        Err(ConfigError::Invalid(p)) => p.iter().map(ToString::to_string).collect(),
        other => panic!("expected problems, got {other:?}"),
    }
}

/// Problems of categories.toml alone, without its path.
fn of(categories: &str) -> Vec<String> {
    let prefix = format!("{CATEGORIES}:");
    problems(TEAM, Some(categories))
        .into_iter()
        .map(|p| p.strip_prefix(&prefix).unwrap_or(&p).to_string())
        .collect()
}

#[test]
fn a_valid_file_holds_its_categories_in_order_and_a_trained_classifier() {
    let g = load(TEAM, Some(VALID)).unwrap();
    let c = &g.categories;
    assert_eq!(c.len(), 2);
    let names: Vec<&str> = c.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["billing", "delivery"]);
    let delivery = c.get("delivery").unwrap();
    assert_eq!(
        (delivery.queue.as_deref(), delivery.skill.as_deref()),
        (Some("l2"), Some("logistics"))
    );
    // The [[example]] joined its category, under its base language.
    assert_eq!(delivery.examples["fr"], ["mon colis est perdu"]);
    assert_eq!(delivery.keywords["en"], ["parcel", "courier"]);
    assert_eq!(
        c.get("billing").unwrap().description.get(Some("fr"), "en"),
        "Argent"
    );
    assert_eq!(c.languages(), ["en", "fr"]);
    assert_eq!(c.example_count(), 4);
    assert_eq!(c.file(), Some(Path::new(CATEGORIES)));
    let best = c
        .classifier()
        .classify(&[(Side::Customer, "the courier lost my parcel")], "en");
    assert_eq!(best[0].category, "delivery");
    let bob = &g.agents.agents()[1];
    assert!(bob.supervisor && bob.categories.contains("delivery"));
    assert!(!g.agents.agents()[0].supervisor);
    // Equal files are equal configurations (the classifier is not compared).
    assert_eq!(g, load(TEAM, Some(VALID)).unwrap());
    assert_ne!(
        g,
        load(TEAM, Some(&VALID.replace("Parcels", "Packages"))).unwrap()
    );
    // Without a file: empty, and classifying finds nothing.
    let none = load(&TEAM.replace("categories = [\"delivery\"]\n", ""), None).unwrap();
    assert!(none.categories.is_empty());
    assert!(none
        .categories
        .classifier()
        .classify(&[(Side::Customer, "parcel")], "en")
        .is_empty());
}

#[test]
fn names_descriptions_and_destinations_are_required() {
    let text = "[[category]]\nname = \"Billing\"\nkeywords = { en = [\"refund\"] }\n";
    assert_eq!(
        of(text),
        [
            "2: category name 'Billing' must be lowercase letters, digits, '_' or '-'",
            "2: category 'Billing' has no description: agents are shown it",
            "2: category 'Billing' has neither a queue nor a skill: its escalations would go nowhere in particular",
        ]
    );
}

#[test]
fn queues_and_skills_are_checked_against_routing_and_agents() {
    let text = "\
[[category]]
name = \"a\"
description = \"A\"
queue = \"nowhere\"
skill = \"cooking\"
keywords = { en = [\"x\"] }

[[category]]
name = \"b\"
description = \"B\"
queue = \"general\"
skill = \"Bad Skill\"
keywords = { en = [\"y\"] }
";
    assert_eq!(
        of(text),
        [
            "4: unknown queue 'nowhere': not in routing.toml",
            "5: no agent of agents.toml has skill 'cooking': its escalations could never be taken",
            "11: queue 'general' is for tier 1 agents: escalations go to the second level",
            "12: skill 'Bad Skill' must be lowercase letters, digits, '_' or '-'",
        ]
    );
}

#[test]
fn examples_languages_and_duplicates_are_checked_at_their_lines() {
    let text = "\
[[category]]
name = \"a\"
description = { en = \"\" }
skill = \"logistics\"
examples = { en = [\"fine\", \" \"], e = [\"bad lang\"] }

[[category]]
name = \"a\"
description = \"again\"
skill = \"logistics\"

[[category]]
name = \"b\"
description = \"B\"
skill = \"logistics\"
keywords = { fr = [\"colis\"] }

[[category]]
name = \"c\"
description = \"C\"
skill = \"logistics\"
";
    assert_eq!(
        of(text),
        [
            "2: category 'a' has no examples or keywords in fr, which other categories have: \
             chats in that language could never be classified there",
            "3: description is empty",
            "5: 'e' is not a language tag: write en, fr, pt-br...",
            "5: examples.en: empty text",
            "8: category 'a' is declared twice (first at line 2)",
            "13: category 'b' has no examples or keywords in en, which other categories have: \
             chats in that language could never be classified there",
            "19: category 'c' has no examples or keywords: it could never be chosen",
        ]
    );
}

#[test]
fn extra_examples_must_name_a_category_a_language_and_a_text() {
    let text = "\
[[category]]
name = \"a\"
description = \"A\"
skill = \"logistics\"
keywords = { en = [\"parcel\"] }

[[example]]
category = \"a\"
lang = \"fr-CA\"
text = \"mon colis\"

[[example]]
category = \"zzz\"
lang = \"en\"
text = \"x\"

[[example]]
category = \"a\"
lang = \"english\"
text = \"x\"

[[example]]
category = \"a\"
lang = \"en\"
text = \"\"
";
    assert_eq!(
        of(text),
        [
            "13: unknown category 'zzz': not a [[category]] of this file",
            "19: 'english' is not a language tag: write en, fr, pt-br...",
            "25: text: empty text",
        ]
    );
}

#[test]
fn an_empty_file_an_unknown_key_and_bad_toml_are_problems() {
    assert_eq!(
        of("# nothing yet\n"),
        ["1: no [[category]]: name the file in [gateway] only once it has categories"]
    );
    let unknown = of("[[category]]\nname = \"a\"\ncolour = \"red\"\n");
    assert_eq!(unknown.len(), 1);
    assert!(
        unknown[0].starts_with("3: unknown field `colour`"),
        "{unknown:?}"
    );
    let broken = of("[[category]]\nname = \"a\n");
    assert!(broken[0].starts_with("2: "), "{broken:?}");
}

#[test]
fn agents_categories_and_roles_are_checked() {
    let agents = "\
[[agent]]
jid = \"alice@agents.support.test\"
name = \"Alice\"
protocols = [\"xmpp\"]
max_live = 1
categories = [\"billing\", \"cooking\"]
role = \"boss\"

[[agent]]
jid = \"bob@agents.support.test\"
name = \"Bob\"
tier = 2
skills = [\"logistics\"]
protocols = [\"xmpp\"]
max_live = 1
categories = [\"Not A Token\"]
role = \"agent\"
";
    assert_eq!(
        problems(agents, Some(VALID)),
        [
            "/etc/sb/agents.toml:6: unknown category 'cooking': not in categories.toml",
            "/etc/sb/agents.toml:7: unknown role 'boss': use agent, supervisor",
            "/etc/sb/agents.toml:16: category 'Not A Token' must be lowercase letters, digits, '_' or '-'",
        ]
    );
    // Without a categories file, naming any is a mistake.
    let agents = agents
        .replace("\"Not A Token\"", "\"delivery\"")
        .replace("\"boss\"", "\"supervisor\"");
    assert_eq!(
        problems(&agents, None),
        [
            "/etc/sb/agents.toml:6: category 'billing': switchboard.toml's [gateway] names no categories file",
            "/etc/sb/agents.toml:6: category 'cooking': switchboard.toml's [gateway] names no categories file",
            "/etc/sb/agents.toml:16: category 'delivery': switchboard.toml's [gateway] names no categories file",
        ]
    );
    // A broken categories file is reported for itself, not as every
    // agent's unknown category.
    assert_eq!(problems(&agents, Some("[[category]]\nname = 1\n")).len(), 1);
}

#[test]
fn the_categories_file_is_named_in_gateway_and_must_be_its_own() {
    let base =
        "[server]\nsupport_domain = \"support.test\"\nagent_domain = \"agents.support.test\"\n";
    let sb = Path::new("/etc/sb/switchboard.toml");
    let s = Settings::from_str(sb, base).unwrap();
    assert_eq!(s.gateway.categories_file, None);
    let text = format!("{base}[gateway]\ncategories = \"cc/categories.toml\"\n");
    let s = Settings::from_str(sb, &text).unwrap();
    assert_eq!(
        s.gateway.categories_file.as_deref(),
        Some(Path::new("/etc/sb/cc/categories.toml"))
    );
    for (value, message) in [
        ("agents.toml", "categories must be a file of its own"),
        ("", "the file name is empty"),
    ] {
        let text = format!("{base}[gateway]\ncategories = \"{value}\"\n");
        match Settings::from_str(sb, &text) {
            Err(ConfigError::Invalid(p)) => {
                let all: Vec<String> = p.iter().map(ToString::to_string).collect();
                assert!(
                    all.contains(&format!("/etc/sb/switchboard.toml:5: {message}")),
                    "{all:?}"
                );
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn the_shipped_categories_are_valid_and_lead_to_the_second_level() {
    let conf = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf");
    let settings = Settings::load(&conf.join("switchboard.toml")).unwrap();
    let g = GatewayConfig::load(&settings).unwrap_or_else(|e| panic!("{e}"));
    let c = &g.categories;
    let names: Vec<&str> = c.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "billing",
            "delivery",
            "returns",
            "account",
            "technical",
            "orders"
        ]
    );
    assert_eq!(c.languages(), ["en", "fr"]);
    assert!(c.example_count() >= 84, "{}", c.example_count());
    for d in c.iter() {
        for lang in ["en", "fr"] {
            assert!(d.examples[lang].len() >= 8, "{} {lang}", d.name);
            assert!(d.keywords[lang].len() >= 5, "{} {lang}", d.name);
        }
        if let Some(q) = &d.queue {
            assert_eq!(g.routing.queue(q).unwrap().tier, Some(2), "{q}");
        }
        // Some second-level agent takes each category.
        assert!(
            g.agents
                .agents()
                .iter()
                .any(|a| a.tier == 2 && a.categories.contains(&d.name)),
            "{}",
            d.name
        );
    }
}
