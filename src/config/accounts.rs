//! Agents compared with accounts. An agent of agents.toml on the agent
//! domain logs in with an account of the store, which `switchboard account
//! set` creates apart from the file: an agent without one can never log in,
//! and an account that is no agent's logs in and is offered nothing. Both
//! are warnings, not problems: the configuration is valid, and either may
//! be a step of an admin's work in progress (`check` prints them, `serve`
//! logs them at start and after each reload).
//!
//! Agents on other servers have their accounts there; disabled agents are
//! off routing on purpose, often because the person left.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use jid::BareJid;

use super::agents::AgentsConfig;

/// Accounts that are not agents listed one by one; the rest are counted,
/// so that a store full of test or bench accounts stays readable.
pub const LISTED: usize = 20;

/// Something probably wrong between agents.toml and the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub file: PathBuf,
    /// None: not about a line (an account lives in the store).
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: warning: ", self.file.display())?,
            None => write!(f, "{}: warning: ", self.file.display())?,
        }
        f.write_str(&self.message)
    }
}

/// The enabled agents on `agent_domain` without an account, in file order,
/// then the `accounts` on `agent_domain` that are no agent (enabled or
/// not), sorted, the first [`LISTED`] by name. `accounts` are JIDs as the
/// store keeps them.
pub fn compare(
    agents: &AgentsConfig,
    agents_file: &Path,
    agent_domain: &str,
    accounts: &[String],
) -> Vec<Warning> {
    let accounts: HashSet<BareJid> = accounts
        .iter()
        .filter_map(|a| BareJid::new(a).ok())
        .filter(|a| a.domain().as_str() == agent_domain)
        .collect();
    let warning = |line, message| Warning {
        file: agents_file.to_path_buf(),
        line,
        message,
    };
    let mut warnings: Vec<Warning> = agents
        .agents()
        .iter()
        .filter(|a| a.enabled && a.jid.domain().as_str() == agent_domain)
        .filter(|a| !accounts.contains(&a.jid))
        .map(|a| {
            let jid = &a.jid;
            let message = format!("agent '{jid}' has no account (switchboard account set {jid})");
            warning(agents.line(jid), message)
        })
        .collect();
    let mut strays: Vec<&BareJid> = accounts
        .iter()
        .filter(|a| agents.get(a).is_none())
        .collect();
    strays.sort_by_key(|a| a.to_string());
    for jid in strays.iter().take(LISTED) {
        warnings.push(warning(
            None,
            format!(
                "account '{jid}' is not an agent (add an [[agent]] with jid = \"{jid}\", \
                 or switchboard account delete {jid})"
            ),
        ));
    }
    if strays.len() > LISTED {
        let message = match strays.len() - LISTED {
            1 => "1 more account is not an agent (switchboard account list)".to_string(),
            n => format!("{n} more accounts are not agents (switchboard account list)"),
        };
        warnings.push(warning(None, message));
    }
    warnings
}

#[cfg(test)]
#[path = "accounts_tests.rs"]
mod tests;
