//! agents.toml and routing.toml: parsing, every problem with its line, and
//! the checks of one file against the other.

use super::*;
use crate::config::{AssignMode, Strategy};
use jid::BareJid;
use std::time::Duration;

const AGENTS: &str = "/etc/sb/agents.toml";
const ROUTING: &str = "/etc/sb/routing.toml";

const ALICE: &str = "[[agent]]\njid = \"alice@agents.support.test\"\nname = \"Alice\"\n\
                     skills = [\"billing\"]\nprotocols = [\"xmpp\"]\nmax_live = 1\n";
const GENERAL: &str = "[[queue]]\nname = \"general\"\nentry = [\"help@support.test\"]\n";

fn load(agents: &str, routing: &str) -> Result<GatewayConfig, ConfigError> {
    GatewayConfig::from_strs(
        "support.test",
        (Path::new(AGENTS), agents),
        (Path::new(ROUTING), routing),
    )
}

fn problems(agents: &str, routing: &str) -> Vec<String> {
    match load(agents, routing) {
        Err(ConfigError::Invalid(p)) => p.iter().map(ToString::to_string).collect(),
        other => panic!("expected problems, got {other:?}"),
    }
}

fn jid(s: &str) -> BareJid {
    BareJid::new(s).unwrap()
}

#[test]
fn the_commented_examples_are_valid() {
    let conf = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf");
    let settings = Settings::load(&conf.join("switchboard.toml")).unwrap();
    assert_eq!(settings.gateway.agents_file, conf.join("agents.toml"));
    assert_eq!(settings.gateway.routing_file, conf.join("routing.toml"));
    let g = GatewayConfig::load(&settings).unwrap();
    assert_eq!(g.agents.len(), 4);
    let alice = g.agents.get(&jid("alice@agents.support.example")).unwrap();
    assert_eq!(alice.name, "Alice");
    assert_eq!((alice.tier, alice.max_live, alice.max_async), (1, 3, 10));
    assert!(alice.serves("web") && !alice.serves("sms") && alice.enabled);
    let names: Vec<_> = g.routing.queues().iter().map(|q| q.name.as_str()).collect();
    assert_eq!(names, ["general", "billing", "billing-l2", "l2"]);
    let billing = g
        .routing
        .queue_for_entry(&jid("factures@support.example"))
        .unwrap();
    assert_eq!(billing.name, "billing");
    assert_eq!(billing.assign, AssignMode::Direct);
    assert_eq!(billing.strategy, Strategy::LeastBusy);
    assert_eq!(billing.offer_timeout, Duration::from_secs(30));
    assert_eq!(billing.priority, 10);
    let general = g.routing.queue("general").unwrap();
    assert_eq!((general.tier, general.agents.as_ref()), (Some(1), None));
    assert_eq!(g.routing.entry_jids().count(), 5);
    assert_eq!(g.routing.queue("l2").unwrap().tier, Some(2));
    // The second level takes escalations by category; one agent supervises.
    let dave = g.agents.get(&jid("dave@agents.support.example")).unwrap();
    assert_eq!(dave.tier, 2);
    assert!(dave.supervisor && !alice.supervisor);
    let erin = g.agents.get(&jid("erin@agents.support.example")).unwrap();
    assert!(erin.categories.contains("delivery") && alice.categories.is_empty());
    for a in g.agents.agents() {
        for c in &a.categories {
            assert!(g.categories.get(c).is_some(), "{c}");
        }
    }
    assert_eq!(g.routing.defaults.agent_grace, Duration::from_secs(60));
    assert_eq!(g.routing.defaults.wait_estimate, Duration::from_secs(240));
}

#[test]
fn gateway_paths_follow_the_config_file_and_must_differ() {
    let base =
        "[server]\nsupport_domain = \"support.test\"\nagent_domain = \"agents.support.test\"\n";
    let s = Settings::from_str(Path::new("/etc/sb/switchboard.toml"), base).unwrap();
    assert_eq!(s.gateway.agents_file, Path::new(AGENTS));
    assert_eq!(s.gateway.routing_file, Path::new(ROUTING));
    let text = format!("{base}[gateway]\nagents = \"cc/a.toml\"\nrouting = \"/srv/r.toml\"\n");
    let s = Settings::from_str(Path::new("/etc/sb/switchboard.toml"), &text).unwrap();
    assert_eq!(s.gateway.agents_file, Path::new("/etc/sb/cc/a.toml"));
    assert_eq!(s.gateway.routing_file, Path::new("/srv/r.toml"));
    let text = format!("{base}[gateway]\nagents = \"x.toml\"\nrouting = \"x.toml\"\n");
    match Settings::from_str(Path::new("/etc/sb/switchboard.toml"), &text) {
        Err(ConfigError::Invalid(p)) => assert_eq!(
            p[0].to_string(),
            "/etc/sb/switchboard.toml:6: routing and agents must be different files"
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn agent_jids_are_normalised_and_looked_up_in_any_case() {
    let agents = ALICE.replace("alice@agents", "Alice@Agents");
    let g = load(&agents, GENERAL).unwrap();
    let a = &g.agents.agents()[0];
    assert_eq!(a.jid.as_str(), "alice@agents.support.test");
    assert!(g.agents.get(&jid("ALICE@agents.support.test")).is_some());
    assert_eq!((a.tier, a.max_async, a.enabled), (1, 0, true));
}

#[test]
fn every_agent_problem_is_reported_with_its_line() {
    let agents = "\
[[agent]]
jid = \"alice@agents.support.test/phone\"
name = \"A\"
protocols = [\"xmpp\"]
max_live = 1

[[agent]]
jid = \"bob@agents.support.test\"
name = \"  \"
tier = 3
skills = [\"Billing\", \"\", \"en\"]
protocols = [\"xmpp\", \"icq\"]
max_live = 101
max_async = -1

[[agent]]
jid = \"Bob@agents.support.test\"
name = \"Bob again\"
protocols = [\"web\"]
max_live = 1

[[agent]]
jid = \"carol@support.test\"
name = \"Carol\"
protocols = []

[[agent]]
jid = \"agents.support.test\"
name = \"Nobody\"
protocols = [\"xmpp\"]
max_live = 1
";
    let p = problems(agents, GENERAL);
    let icq = format!(
        "/etc/sb/agents.toml:12: unknown protocol 'icq': use {}",
        crate::config::PROTOCOLS.join(", ")
    );
    assert_eq!(
        p,
        vec![
            "/etc/sb/agents.toml:2: jid 'alice@agents.support.test/phone' has a resource: write the bare JID, user@domain",
            "/etc/sb/agents.toml:9: name is empty",
            "/etc/sb/agents.toml:10: tier must be 1 (first level) or 2 (second level)",
            "/etc/sb/agents.toml:11: skill 'Billing' must be lowercase letters, digits, '_' or '-'",
            "/etc/sb/agents.toml:11: empty skill",
            &icq,
            "/etc/sb/agents.toml:13: max_live must be between 0 and 100",
            "/etc/sb/agents.toml:14: max_async must be between 0 and 1000",
            "/etc/sb/agents.toml:17: agent 'bob@agents.support.test' is declared twice (first at line 8)",
            "/etc/sb/agents.toml:23: agent 'carol@support.test' is on the support domain support.test, which is for entry and session JIDs: use the agent domain",
            "/etc/sb/agents.toml:23: agent 'carol@support.test' has no protocols: they could serve no customer",
            "/etc/sb/agents.toml:23: agent 'carol@support.test' can take no session: max_live and max_async are both 0",
            "/etc/sb/agents.toml:28: jid 'agents.support.test' has no user part: write user@domain",
        ]
    );
}

#[test]
fn unknown_agent_key_stops_that_file_only() {
    let agents = format!("{ALICE}maxlive = 2\n");
    let routing = "[[queue]]\nname = \"Bad Name\"\nentry = [\"help@support.test\"]\nagents = [\"zed@x.test\"]\n";
    // No "unknown agent" for zed: agents.toml could not be read to know.
    assert_eq!(
        problems(&agents, routing),
        vec![
            "/etc/sb/agents.toml:7: unknown field `maxlive`, expected one of `jid`, `name`, `tier`, `skills`, `protocols`, `max_live`, `max_async`, `enabled`, `categories`, `role`, `calendar`, `timezone`, `hours`, `leave`",
            "/etc/sb/routing.toml:2: queue name 'Bad Name' must be lowercase letters, digits, '_' or '-'",
        ]
    );
}

#[test]
fn every_routing_problem_is_reported_with_its_line() {
    let routing = "\
[defaults]
assign = \"push\"
offer_timeout_secs = 1
agent_grace_secs = -5
session_idle_secs = 0
wait_estimate_secs = 0

[[queue]]
name = \"general\"
entry = [\"help@support.test\", \"help@other.test\", \"support.test\", \"x@support.test/r\"]
strategy = \"fifo\"
tier = 3
assign = \"later\"
offer_timeout_secs = 4000
priority = 5000

[[queue]]
name = \"general\"
entry = [\"HELP@support.test\"]

[[queue]]
name = \"sales\"
";
    assert_eq!(
        problems(ALICE, routing),
        vec![
            "/etc/sb/routing.toml:2: unknown assign 'push': use offer, direct",
            "/etc/sb/routing.toml:3: offer_timeout_secs must be between 5 and 3600",
            "/etc/sb/routing.toml:4: agent_grace_secs must be between 0 and 86400",
            "/etc/sb/routing.toml:5: session_idle_secs must be between 1 and 2592000",
            "/etc/sb/routing.toml:6: wait_estimate_secs must be between 1 and 86400",
            "/etc/sb/routing.toml:10: entry 'help@other.test' is not on the support domain: use user@support.test",
            "/etc/sb/routing.toml:10: entry 'support.test' has no user part: write user@domain",
            "/etc/sb/routing.toml:10: entry 'x@support.test/r' has a resource: write the bare JID, user@domain",
            "/etc/sb/routing.toml:11: unknown strategy 'fifo': use longest-idle, least-busy, round-robin",
            "/etc/sb/routing.toml:12: tier must be 1 (first level) or 2 (second level)",
            "/etc/sb/routing.toml:13: unknown assign 'later': use offer, direct",
            "/etc/sb/routing.toml:14: offer_timeout_secs must be between 5 and 3600",
            "/etc/sb/routing.toml:15: priority must be between -1000 and 1000",
            "/etc/sb/routing.toml:18: queue 'general' is declared twice (first at line 9)",
            "/etc/sb/routing.toml:19: entry 'help@support.test' already belongs to queue 'general' (line 10)",
            "/etc/sb/routing.toml:22: queue 'sales' has no entry JID: customers could not reach it",
        ]
    );
}

#[test]
fn queues_are_checked_against_agents() {
    let bob = "[[agent]]\njid = \"bob@agents.support.test\"\nname = \"Bob\"\ntier = 2\n\
               skills = [\"en\"]\nprotocols = [\"xmpp\"]\nmax_async = 5\n";
    let agents = format!("{ALICE}{bob}");
    let routing = "\
[[queue]]
name = \"vip\"
entry = [\"vip@support.test\"]
agents = [\"alice@agents.support.test\", \"zed@agents.support.test\", \"bad@@x\"]
skills = [\"billing\", \"german\"]

[[queue]]
name = \"escalations\"
entry = [\"escalate@support.test\"]
skills = [\"billing\", \"en\"]
tier = 2
";
    assert_eq!(
        problems(&agents, routing),
        vec![
            "/etc/sb/routing.toml:4: agent 'bad@@x' is not a valid JID: second @ found before parsing the resource",
            "/etc/sb/routing.toml:4: unknown agent 'zed@agents.support.test': not in agents.toml",
            "/etc/sb/routing.toml:5: no agent has skill 'german'",
            "/etc/sb/routing.toml:8: queue 'escalations' cannot be served: no agent in agents.toml has tier 2 and skills billing, en",
        ]
    );
}

#[test]
fn an_empty_contact_center_is_reported() {
    assert_eq!(
        problems("", ""),
        vec!["/etc/sb/routing.toml:1: no [[queue]]: customers could reach no one"]
    );
    assert_eq!(
        problems("", GENERAL),
        vec!["/etc/sb/routing.toml:2: queue 'general' cannot be served: agents.toml declares no agent"]
    );
}

#[test]
fn queue_overrides_and_membership() {
    let routing = "[defaults]\nassign = \"direct\"\noffer_timeout_secs = 20\n\
                   [[queue]]\nname = \"a\"\nentry = [\"a@support.test\"]\nagents = [\"ALICE@agents.support.test\"]\n\
                   strategy = \"round-robin\"\n\
                   [[queue]]\nname = \"b\"\nentry = [\"b@support.test\"]\nassign = \"offer\"\noffer_timeout_secs = 90\nskills = [\"billing\"]\n";
    let g = load(ALICE, routing).unwrap();
    let alice = &g.agents.agents()[0];
    let a = g.routing.queue("a").unwrap();
    assert_eq!(
        (a.assign, a.offer_timeout),
        (AssignMode::Direct, Duration::from_secs(20))
    );
    assert_eq!(a.strategy, Strategy::RoundRobin);
    assert!(a.accepts(alice));
    let b = g.routing.queue("b").unwrap();
    assert_eq!(
        (b.assign, b.offer_timeout),
        (AssignMode::Offer, Duration::from_secs(90))
    );
    assert!(b.accepts(alice));
    assert_eq!(b.strategy.to_string(), "longest-idle");
    assert!(g.routing.queue_for_entry(&jid("c@support.test")).is_none());
}

#[test]
fn unreadable_files_are_problems_of_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("switchboard.toml");
    std::fs::write(
        &cfg,
        "[server]\nsupport_domain = \"support.test\"\nagent_domain = \"agents.support.test\"\n",
    )
    .unwrap();
    let settings = Settings::load(&cfg).unwrap();
    std::fs::write(&settings.gateway.routing_file, "[[queue]]\nname = 1\n").unwrap();
    let p = match GatewayConfig::load(&settings) {
        Err(ConfigError::Invalid(p)) => p,
        other => panic!("{other:?}"),
    };
    assert_eq!(p.len(), 2, "{p:?}");
    assert_eq!(p[0].file, settings.gateway.agents_file);
    assert_eq!(p[0].line, 1);
    assert!(p[0].message.starts_with("cannot read: "), "{p:?}");
    assert_eq!(p[1].file, settings.gateway.routing_file);
    assert_eq!(p[1].line, 2);
}

#[test]
fn entry_names_of_sessions_are_reserved() {
    let routing = "\
[[queue]]
name = \"general\"
entry = [\"s-help@support.test\"]
";
    assert_eq!(
        problems(ALICE, routing),
        vec!["/etc/sb/routing.toml:3: entry 's-help@support.test': names starting with 's-' are reserved for sessions"]
    );
}

#[test]
fn schedules_and_callback_settings_are_checked_with_their_lines() {
    let agents = format!(
        "{ALICE}calendar = \"office\"\nhours = [\"mon-fri 09:00-17:00\"]\n\
         timezone = \"Mars/Olympus\"\nleave = [\"2026-13-01\"]\n\n\
         [[agent]]\njid = \"bob@agents.support.test\"\nname = \"Bob\"\nprotocols = [\"xmpp\"]\n\
         max_live = 1\ncalendar = \"nowhere\"\n"
    );
    let routing = format!(
        "{GENERAL}\n[[calendar]]\nname = \"office\"\ntimezone = \"Europe/Paris\"\n\
         open = [\"mon-fri 09:00-18:00\"]\n\n\
         [callbacks]\nenabled = false\nslot_mins = 0\nfallback = \"pray\"\ntimezone = \"Nowhere\"\n\n\
         [[rule]]\nname = \"vip\"\nkeywords = [\"vip\"]\noffer_callback = true\n"
    );
    assert_eq!(
        problems(&agents, &routing),
        vec![
            "/etc/sb/agents.toml:7: agent 'alice@agents.support.test' has both a calendar and hours: keep one",
            "/etc/sb/agents.toml:9: unknown timezone 'Mars/Olympus': use an IANA name like Europe/Paris, America/New_York or UTC",
            "/etc/sb/agents.toml:10: leave '2026-13-01' is not a date like 2026-12-25, a range like 2026-12-24..2026-12-31, or 12-25 for every year",
            "/etc/sb/agents.toml:17: unknown calendar 'nowhere': not in routing.toml",
            "/etc/sb/routing.toml:12: slot_mins must be between 1 and 240",
            "/etc/sb/routing.toml:13: unknown fallback 'pray': use other-agent, new-time",
            "/etc/sb/routing.toml:14: unknown timezone 'Nowhere': use an IANA name like Europe/Paris, America/New_York or UTC",
            "/etc/sb/routing.toml:16: rule 'vip' offers a callback, but [callbacks] is not enabled",
        ]
    );
}

#[test]
fn an_agent_works_their_own_hours_or_a_calendars_less_their_leave() {
    let agents = format!(
        "{ALICE}calendar = \"office\"\nleave = [\"2026-12-24..2026-12-31\"]\n\n\
         [[agent]]\njid = \"bob@agents.support.test\"\nname = \"Bob\"\nprotocols = [\"xmpp\"]\n\
         max_live = 1\ntimezone = \"America/New_York\"\nhours = [\"sat 10:00-14:00\"]\n"
    );
    let routing = format!(
        "{GENERAL}\n[[calendar]]\nname = \"office\"\ntimezone = \"Europe/Paris\"\n\
         open = [\"mon-fri 09:00-18:00\"]\n\n[callbacks]\n"
    );
    let cfg = load(&agents, &routing).unwrap();
    assert!(cfg.routing.callbacks.enabled);
    let at = |s: &str| s.parse::<jiff::Zoned>().unwrap().timestamp();
    let span = |s: &str, mins: i64| (at(s), at(s) + jiff::SignedDuration::from_mins(mins));
    let alice = &cfg
        .agents
        .get(&jid("alice@agents.support.test"))
        .unwrap()
        .schedule;
    let bob = &cfg
        .agents
        .get(&jid("bob@agents.support.test"))
        .unwrap()
        .schedule;
    let (a, b) = span("2026-12-22T10:00[Europe/Paris]", 15);
    assert!(alice.works(None, a, b));
    let (a, b) = span("2026-12-28T10:00[Europe/Paris]", 15);
    assert!(!alice.works(None, a, b), "on leave");
    let (a, b) = span("2026-12-22T17:50[Europe/Paris]", 15);
    assert!(!alice.works(None, a, b), "the slot runs past 18:00");
    let (a, b) = span("2026-12-26T13:45[America/New_York]", 15);
    assert!(bob.works(None, a, b));
    let (a, b) = span("2026-12-26T13:50[America/New_York]", 15);
    assert!(!bob.works(None, a, b));
}
