//! `switchboard check` on real files: every problem of switchboard.toml,
//! agents.toml and routing.toml as `file:line: message`, exit status 1.

mod common;

use std::path::Path;
use std::process::Command;

const SWITCHBOARD: &str =
    "[server]\nsupport_domain = \"support.test\"\nagent_domain = \"agents.support.test\"\n";

const AGENTS: &str = "\
[[agent]]
jid = \"alice@agents.support.test\"
name = \"Alice\"
skills = [\"billing\"]
protocols = [\"xmpp\", \"web\"]
max_live = 2

[[agent]]
jid = \"ALICE@agents.support.test\"
name = \"Alice twice\"
protocols = [\"icq\"]
max_live = 1
";

const ROUTING: &str = "\
[[queue]]
name = \"general\"
entry = [\"help@support.test\", \"help@elsewhere.test\"]
strategy = \"fastest\"
agents = [\"bob@agents.support.test\"]

[[queue]]
name = \"billing\"
entry = [\"billing@support.test\"]
skills = [\"billing\"]
";

/// (exit code, stdout lines) of `switchboard check` on `dir`.
fn check(dir: &Path) -> (i32, Vec<String>) {
    let out = Command::new(common::bin())
        .arg("check")
        .arg("--config")
        .arg(dir.join("switchboard.toml"))
        .output()
        .expect("running switchboard check");
    let stdout = String::from_utf8(out.stdout).unwrap();
    (
        out.status.code().expect("exit code"),
        stdout.lines().map(str::to_string).collect(),
    )
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

#[test]
fn check_reports_every_problem_of_the_gateway_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "switchboard.toml", SWITCHBOARD);
    write(d, "agents.toml", AGENTS);
    write(d, "routing.toml", ROUTING);
    let (code, lines) = check(d);
    let (agents, routing) = (d.join("agents.toml"), d.join("routing.toml"));
    let (a, r) = (agents.display(), routing.display());
    let protocols =
        "xmpp, web, sms, irc, telegram, whatsapp, signal, matrix, slack, discord, email";
    assert_eq!(
        lines,
        vec![
            format!("{}: ok", d.join("switchboard.toml").display()),
            format!("{a}:9: agent 'alice@agents.support.test' is declared twice (first at line 2)"),
            format!("{r}:3: entry 'help@elsewhere.test' is not on the support domain: use user@support.test"),
            format!("{r}:4: unknown strategy 'fastest': use longest-idle, least-busy, round-robin"),
            format!("{r}:5: unknown agent 'bob@agents.support.test': not in agents.toml"),
        ]
    );
    assert_eq!(code, 1);

    // Duplicates removed: the unknown protocol of the second agent shows.
    let fixed = AGENTS.replace("ALICE@", "bob@");
    write(d, "agents.toml", &fixed);
    let (code, lines) = check(d);
    assert_eq!(code, 1);
    assert_eq!(
        lines[1],
        format!("{a}:11: unknown protocol 'icq': use {protocols}")
    );
    assert_eq!(lines.len(), 4, "{lines:?}");

    write(d, "agents.toml", &fixed.replace("\"icq\"", "\"sms\""));
    let routing_ok = ROUTING
        .replace(", \"help@elsewhere.test\"", "")
        .replace("fastest", "round-robin");
    write(d, "routing.toml", &routing_ok);
    let (code, lines) = check(d);
    // No database yet: neither agent has an account, which is a warning.
    let no_account = |line: usize, name: &str| {
        format!(
            "{a}:{line}: warning: agent '{name}@agents.support.test' has no account \
             (switchboard account set {name}@agents.support.test)"
        )
    };
    assert_eq!(
        lines[1..],
        [
            format!("{a}: ok, 2 agents"),
            format!("{r}: ok, 2 queues"),
            no_account(2, "alice"),
            no_account(9, "bob"),
        ]
    );
    assert_eq!(code, 0);
}

#[test]
fn check_reports_missing_gateway_files_and_switchboard_problems() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "switchboard.toml", SWITCHBOARD);
    write(d, "routing.toml", ROUTING);
    let (code, lines) = check(d);
    assert_eq!(code, 1);
    let missing = format!("{}:1: cannot read: ", d.join("agents.toml").display());
    assert!(lines[1].starts_with(&missing), "{lines:?}");
    // Routing is still checked on its own, without agents to compare with.
    assert!(
        lines[2].contains("routing.toml:3: entry 'help@elsewhere.test'"),
        "{lines:?}"
    );
    assert_eq!(lines.len(), 4, "{lines:?}");

    write(
        d,
        "switchboard.toml",
        &format!("{SWITCHBOARD}[gateway]\nagents = \"\"\n"),
    );
    let (code, lines) = check(d);
    assert_eq!(code, 1);
    let sb = d.join("switchboard.toml");
    assert_eq!(
        lines,
        [format!("{}:5: the file name is empty", sb.display())]
    );
}

#[test]
fn the_shipped_configuration_checks() {
    let (code, lines) = check(&common::manifest_dir().join("conf"));
    assert_eq!(code, 0, "{lines:?}");
    assert!(lines.len() >= 3, "{lines:?}");
    // Then how its agents compare with the accounts of data/, if any: a
    // matter of the checkout's state (tests/admin.rs tests these).
    assert!(
        lines[5..].iter().all(|l| l.contains(": warning: ")),
        "{lines:?}"
    );
    assert!(lines[1].ends_with("agents.toml: ok, 4 agents"), "{lines:?}");
    assert!(
        lines[2].ends_with("routing.toml: ok, 4 queues, 12 rules"),
        "{lines:?}"
    );
    assert!(
        lines[3].contains("dialogs.toml: ok, 2 questions, 3 canned answers, knowledge base "),
        "{lines:?}"
    );
    assert!(lines[3].ends_with("in en, fr)"), "{lines:?}");
    assert!(
        lines[4].contains("categories.toml: ok, 6 categories (en, fr), ")
            && lines[4].ends_with(" examples"),
        "{lines:?}"
    );
}

/// Queues and a calendar for the rules of the next test, which start at
/// line 12.
const QUEUES: &str = "\
[[calendar]]
name = \"office\"
timezone = \"Europe/Paris\"
open = [\"mon-fri 09:00-18:00\"]

[[queue]]
name = \"general\"
entry = [\"help@support.test\"]
calendar = \"office\"

";

#[test]
fn check_reports_shadowed_rules_and_unknown_skills() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "switchboard.toml", SWITCHBOARD);
    let agents = AGENTS
        .replace("ALICE@", "bob@")
        .replace("\"icq\"", "\"sms\"");
    write(d, "agents.toml", &agents);
    let shadowed = format!(
        "{QUEUES}\
[[rule]]
name = \"sms\"
channel = [\"sms\", \"irc\"]
agent_protocol = \"any\"

[[rule]]
name = \"sms-billing\"
channel = \"sms\"
keywords = [\"invoice\"]
skills = [\"billing\"]
"
    );
    write(d, "routing.toml", &shadowed);
    let r = d.join("routing.toml");
    let (code, lines) = check(d);
    assert_eq!(
        lines[1..],
        [format!(
            "{}:16: rule 'sms-billing' can never match: rule 'sms' (line 11) \
                 matches everything it matches",
            r.display()
        )]
    );
    assert_eq!(code, 1);

    let unknown = shadowed
        .replace("[\"sms\", \"irc\"]", "\"irc\"")
        .replace("[\"billing\"]", "[\"billing\", \"german\"]");
    write(d, "routing.toml", &unknown);
    let (code, lines) = check(d);
    assert_eq!(
        lines[1..],
        [format!("{}:20: no agent has skill 'german'", r.display())]
    );
    assert_eq!(code, 1);

    write(d, "routing.toml", &unknown.replace(", \"german\"", ""));
    let (code, lines) = check(d);
    assert_eq!(lines[2], format!("{}: ok, 1 queue, 2 rules", r.display()));
    assert_eq!(code, 0);
}
