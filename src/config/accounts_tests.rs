//! Agents without accounts and accounts without agents, each with its
//! file, line and the command that fixes it.

use super::*;

const AGENTS: &str = "\
[[agent]]
jid = \"alice@agents.support.test\"
name = \"Alice\"
protocols = [\"xmpp\"]
max_live = 1

[[agent]]
jid = \"Bob@agents.support.test\"
name = \"Bob\"
protocols = [\"xmpp\"]
max_live = 1

[[agent]]
jid = \"off@agents.support.test\"
name = \"Gone\"
protocols = [\"xmpp\"]
max_live = 1
enabled = false

[[agent]]
jid = \"remote@elsewhere.test\"
name = \"Remote\"
protocols = [\"xmpp\"]
max_live = 1
";

fn agents() -> AgentsConfig {
    let (agents, problems) = AgentsConfig::parse(Path::new("agents.toml"), AGENTS, "support.test");
    assert_eq!(problems, []);
    agents.unwrap()
}

fn warnings(accounts: &[&str]) -> Vec<String> {
    let accounts: Vec<String> = accounts.iter().map(|a| a.to_string()).collect();
    compare(
        &agents(),
        Path::new("/etc/sb/agents.toml"),
        "agents.support.test",
        &accounts,
    )
    .iter()
    .map(ToString::to_string)
    .collect()
}

#[test]
fn agents_without_accounts_and_accounts_that_are_no_agent() {
    assert_eq!(
        warnings(&[
            "bob@agents.support.test",
            "carol@agents.support.test",
            "x@other.test"
        ]),
        [
            "/etc/sb/agents.toml:2: warning: agent 'alice@agents.support.test' has no account \
             (switchboard account set alice@agents.support.test)",
            "/etc/sb/agents.toml: warning: account 'carol@agents.support.test' is not an agent \
             (add an [[agent]] with jid = \"carol@agents.support.test\", or switchboard account \
             delete carol@agents.support.test)",
        ]
    );
    // A disabled agent's account is an agent's; agents elsewhere have
    // their accounts on their own servers.
    let all = [
        "alice@agents.support.test",
        "bob@agents.support.test",
        "off@agents.support.test",
    ];
    assert_eq!(warnings(&all), Vec::<String>::new());
}

#[test]
fn many_accounts_that_are_no_agent_are_counted_beyond_the_first() {
    let mut accounts = vec![
        "alice@agents.support.test".to_string(),
        "bob@agents.support.test".to_string(),
    ];
    accounts.extend((0..LISTED + 3).map(|i| format!("bench{i:03}@agents.support.test")));
    let found = compare(
        &agents(),
        Path::new("agents.toml"),
        "agents.support.test",
        &accounts,
    );
    assert_eq!(found.len(), LISTED + 1);
    assert!(
        found[0].message.starts_with("account 'bench000@"),
        "{found:?}"
    );
    assert_eq!(
        found[LISTED].to_string(),
        "agents.toml: warning: 3 more accounts are not agents (switchboard account list)"
    );
}
