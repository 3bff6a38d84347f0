//! The contact-center configuration: `agents.toml` and `routing.toml`,
//! read and validated together into one [`GatewayConfig`], because routing
//! refers to agents (queue member lists, required skills). Every problem of
//! both files is collected, each with its own file and line.
//!
//! `routing.toml` also holds the business-hours calendars and the
//! `[[rule]]` tables, checked after the queues so that rules can be checked
//! against queues, calendars and agents.

use std::collections::BTreeSet;
use std::ops::RangeInclusive;
use std::path::Path;

use jid::BareJid;
use serde::de::DeserializeOwned;
use serde_spanned::Spanned;

use super::agents::AgentsConfig;
use super::routing::RoutingConfig;
use super::{ConfigError, LineIndex, Problem, Settings};

/// Agents and queues, validated against each other. Cheap to share through
/// [`super::GatewayConfigHandle`]; never mutated once built.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayConfig {
    pub agents: AgentsConfig,
    pub routing: RoutingConfig,
}

impl GatewayConfig {
    /// Reads the two files named in `settings.gateway`. A file that cannot
    /// be read is a problem at its line 1, reported with those of the other
    /// file: a contact center without agents or queues cannot work, and the
    /// admin should see everything wrong in one pass.
    pub fn load(settings: &Settings) -> Result<GatewayConfig, ConfigError> {
        let agents_path = &settings.gateway.agents_file;
        let routing_path = &settings.gateway.routing_file;
        Self::build(
            &settings.support_domain,
            (agents_path, std::fs::read_to_string(agents_path)),
            (routing_path, std::fs::read_to_string(routing_path)),
        )
    }

    /// Validates file contents already in memory (tests, tools).
    pub fn from_strs(
        support_domain: &str,
        agents: (&Path, &str),
        routing: (&Path, &str),
    ) -> Result<GatewayConfig, ConfigError> {
        Self::build(
            support_domain,
            (agents.0, Ok(agents.1.to_string())),
            (routing.0, Ok(routing.1.to_string())),
        )
    }

    fn build(
        support_domain: &str,
        agents: (&Path, std::io::Result<String>),
        routing: (&Path, std::io::Result<String>),
    ) -> Result<GatewayConfig, ConfigError> {
        let (agents_path, routing_path) = (agents.0, routing.0);
        let mut agent_problems = Vec::new();
        let parsed_agents = match &agents.1 {
            Ok(text) => {
                let (a, p) = AgentsConfig::parse(agents_path, text, support_domain);
                agent_problems = p;
                a
            }
            Err(e) => {
                agent_problems.push(unreadable(agents_path, e));
                None
            }
        };
        let mut routing_problems = Vec::new();
        let parsed_routing = match &routing.1 {
            Ok(text) => {
                // Cross-checks against agents only when agents.toml could be
                // parsed: otherwise every queue would report unknown agents
                // that merely sit behind a syntax error.
                let with = parsed_agents.as_ref().map(|a| (a, agents_path));
                let (r, p) = RoutingConfig::parse(routing_path, text, support_domain, with);
                routing_problems = p;
                r
            }
            Err(e) => {
                routing_problems.push(unreadable(routing_path, e));
                None
            }
        };
        agent_problems.sort_by_key(|p| p.line);
        routing_problems.sort_by_key(|p| p.line);
        agent_problems.append(&mut routing_problems);
        match (parsed_agents, parsed_routing) {
            (Some(agents), Some(routing)) if agent_problems.is_empty() => {
                Ok(GatewayConfig { agents, routing })
            }
            _ => Err(ConfigError::Invalid(agent_problems)),
        }
    }
}

fn unreadable(path: &Path, e: &std::io::Error) -> Problem {
    Problem {
        file: path.to_path_buf(),
        line: 1,
        message: format!("cannot read: {e}"),
    }
}

/// Parses TOML into the file's serde structs; a syntax error or an unknown
/// key stops that file (serde cannot go on) with the line of the error.
pub(super) fn parse_toml<T: DeserializeOwned>(lines: &LineIndex, text: &str) -> Result<T, Problem> {
    toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(1, |s| lines.line_of(s.start));
        lines.problem_at(line, e.message().trim_end())
    })
}

/// `[a-z0-9_-]+`: names that appear unquoted in rules, commands and logs.
pub(super) fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// A set of tokens (skills, protocols); problems for the malformed ones,
/// which are left out.
pub(super) fn tokens(
    lines: &LineIndex,
    list: &[Spanned<String>],
    what: &str,
    problems: &mut Vec<Problem>,
) -> BTreeSet<String> {
    let mut set = BTreeSet::new();
    for item in list {
        let s = item.get_ref();
        if is_token(s) {
            set.insert(s.clone());
        } else if s.is_empty() {
            problems.push(lines.problem(item, &format!("empty {what}")));
        } else {
            problems.push(lines.problem(
                item,
                &format!("{what} '{s}' must be lowercase letters, digits, '_' or '-'"),
            ));
        }
    }
    set
}

/// The value if within `range`; otherwise a problem and the nearest bound,
/// so later checks see a plausible number.
pub(super) fn ranged(
    lines: &LineIndex,
    value: &Spanned<i64>,
    range: RangeInclusive<i64>,
    key: &str,
    problems: &mut Vec<Problem>,
) -> i64 {
    let v = *value.get_ref();
    if !range.contains(&v) {
        problems.push(lines.problem(
            value,
            &format!(
                "{key} must be between {} and {}",
                range.start(),
                range.end()
            ),
        ));
    }
    v.clamp(*range.start(), *range.end())
}

/// A bare JID with a user part (`user@domain`), normalised (stringprep
/// lowercases it) so that lookups match whatever case the admin typed.
pub(super) fn user_jid(s: &str) -> Result<BareJid, String> {
    match BareJid::new(s) {
        Ok(j) if j.node().is_some() => Ok(j),
        Ok(_) => Err(format!("'{s}' has no user part: write user@domain")),
        Err(jid::Error::ResourceInBareJid) => Err(format!(
            "'{s}' has a resource: write the bare JID, user@domain"
        )),
        Err(e) => Err(format!("'{s}' is not a valid JID: {e}")),
    }
}

#[cfg(test)]
#[path = "gateway_tests.rs"]
mod tests;
