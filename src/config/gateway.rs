//! The contact-center configuration: `agents.toml`, `routing.toml`,
//! `dialogs.toml` and `categories.toml`, read and validated together into
//! one [`GatewayConfig`], because routing refers to agents (queue member
//! lists, required skills), dialogs to routing (entries, queues, rules;
//! rules test answers to the dialogs' questions), categories to both
//! (queues, skills) and agents to categories (the ones they take). Every
//! problem of every file is collected, each with its own file and line.
//!
//! `routing.toml` also holds the business-hours calendars and the
//! `[[rule]]` tables, checked after the queues so that rules can be checked
//! against queues, calendars and agents.

use std::path::Path;

use super::agents::AgentsConfig;
use super::categories::{self, Against, CategoriesConfig};
use super::dialogs::DialogsConfig;
use super::dialogs_syntax::{self, Routing};
use super::problem::{ConfigError, Problem};
use super::routing::RoutingConfig;
use super::settings::Settings;

/// Agents and queues, validated against each other. Cheap to share through
/// a `GatewayConfigHandle` (`reload.rs`); never mutated once built.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayConfig {
    pub agents: AgentsConfig,
    pub routing: RoutingConfig,
    /// Empty when `[gateway]` names no dialogs file.
    pub dialogs: DialogsConfig,
    /// Empty when `[gateway]` names no categories file.
    pub categories: CategoriesConfig,
}

impl GatewayConfig {
    /// Reads the files named in `settings.gateway`. A file that cannot
    /// be read is a problem at its line 1, reported with those of the other
    /// file: a contact center without agents or queues cannot work, and the
    /// admin should see everything wrong in one pass.
    pub fn load(settings: &Settings) -> Result<GatewayConfig, ConfigError> {
        let agents_path = &settings.gateway.agents_file;
        let routing_path = &settings.gateway.routing_file;
        let dialogs = settings
            .gateway
            .dialogs_file
            .as_deref()
            .map(|p| (p, std::fs::read_to_string(p)));
        let categories = settings
            .gateway
            .categories_file
            .as_deref()
            .map(|p| (p, std::fs::read_to_string(p)));
        Self::build(
            &settings.support_domain,
            (agents_path, std::fs::read_to_string(agents_path)),
            (routing_path, std::fs::read_to_string(routing_path)),
            dialogs,
            categories,
        )
    }

    /// As [`GatewayConfig::from_strs`], with a categories file.
    pub fn from_strs_with_categories(
        support_domain: &str,
        agents: (&Path, &str),
        routing: (&Path, &str),
        categories: (&Path, &str),
    ) -> Result<GatewayConfig, ConfigError> {
        Self::build(
            support_domain,
            (agents.0, Ok(agents.1.to_string())),
            (routing.0, Ok(routing.1.to_string())),
            None,
            Some((categories.0, Ok(categories.1.to_string()))),
        )
    }

    /// As [`GatewayConfig::from_strs`], with a dialogs file; the knowledge
    /// base it names is read from disk, relative to `dialogs.0`.
    pub fn from_strs_with_dialogs(
        support_domain: &str,
        agents: (&Path, &str),
        routing: (&Path, &str),
        dialogs: (&Path, &str),
    ) -> Result<GatewayConfig, ConfigError> {
        Self::build(
            support_domain,
            (agents.0, Ok(agents.1.to_string())),
            (routing.0, Ok(routing.1.to_string())),
            Some((dialogs.0, Ok(dialogs.1.to_string()))),
            None,
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
            None,
            None,
        )
    }

    fn build(
        support_domain: &str,
        agents: (&Path, std::io::Result<String>),
        routing: (&Path, std::io::Result<String>),
        dialogs: Option<(&Path, std::io::Result<String>)>,
        categories: Option<(&Path, std::io::Result<String>)>,
    ) -> Result<GatewayConfig, ConfigError> {
        let (agents_path, routing_path) = (agents.0, routing.0);
        let mut agent_problems = Vec::new();
        let mut parsed_agents = match &agents.1 {
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
        // Rules found wrong by the dialogs (an unknown question) are
        // routing.toml's problems, listed with that file's.
        let mut dialog_problems = Vec::new();
        let parsed_dialogs = match &dialogs {
            None => Some(DialogsConfig::default()),
            Some((path, Ok(text))) => {
                let with = parsed_routing.as_ref().map(|config| Routing {
                    path: routing_path,
                    config,
                });
                let (d, p) = dialogs_syntax::parse(path, text, with);
                for problem in p {
                    if problem.file == routing_path {
                        routing_problems.push(problem);
                    } else {
                        dialog_problems.push(problem);
                    }
                }
                d
            }
            Some((path, Err(e))) => {
                dialog_problems.push(unreadable(path, e));
                None
            }
        };
        let mut category_problems = Vec::new();
        let parsed_categories = match &categories {
            None => Some(CategoriesConfig::default()),
            Some((path, Ok(text))) => {
                let against = Against {
                    routing: parsed_routing.as_ref(),
                    agents: parsed_agents.as_ref(),
                };
                let (c, p) = categories::parse(path, text, against);
                category_problems = p;
                c
            }
            Some((path, Err(e))) => {
                category_problems.push(unreadable(path, e));
                None
            }
        };
        if let (Some(agents), Some(routing)) = (&mut parsed_agents, &parsed_routing) {
            agents.resolve_calendars(routing.calendars(), agents_path, &mut agent_problems);
        }
        if let Some(agents) = &parsed_agents {
            agent_categories(
                agents,
                agents_path,
                categories.is_some(),
                parsed_categories.as_ref(),
                &mut agent_problems,
            );
        }
        agent_problems.sort_by_key(|p| p.line);
        category_problems.sort_by_key(|p| p.line);
        routing_problems.sort_by_key(|p| p.line);
        // The knowledge base's files come after dialogs.toml, each in order.
        dialog_problems.sort_by(|a, b| {
            let own = |p: &Problem| Some(p.file.as_path()) != dialogs.as_ref().map(|d| d.0);
            (own(a), &a.file, a.line).cmp(&(own(b), &b.file, b.line))
        });
        agent_problems.append(&mut routing_problems);
        agent_problems.append(&mut dialog_problems);
        agent_problems.append(&mut category_problems);
        match (
            parsed_agents,
            parsed_routing,
            parsed_dialogs,
            parsed_categories,
        ) {
            (Some(agents), Some(routing), Some(dialogs), Some(categories))
                if agent_problems.is_empty() =>
            {
                Ok(GatewayConfig {
                    agents,
                    routing,
                    dialogs,
                    categories,
                })
            }
            _ => Err(ConfigError::Invalid(agent_problems)),
        }
    }
}

/// Agents' `categories` against categories.toml: each must be one of its
/// categories, and naming any without a categories file is a mistake (the
/// admin would believe the agent gets those escalations). Not checked when
/// the file is named but invalid: its own problems say why.
fn agent_categories(
    agents: &AgentsConfig,
    agents_path: &Path,
    configured: bool,
    categories: Option<&CategoriesConfig>,
    problems: &mut Vec<Problem>,
) {
    for (name, line) in agents.category_lines() {
        let message = match categories {
            _ if !configured => {
                format!("category '{name}': switchboard.toml's [gateway] names no categories file")
            }
            Some(c) if c.get(name).is_none() => {
                format!("unknown category '{name}': not in categories.toml")
            }
            _ => continue,
        };
        problems.push(Problem {
            file: agents_path.to_path_buf(),
            line: *line,
            message,
        });
    }
}

fn unreadable(path: &Path, e: &std::io::Error) -> Problem {
    Problem {
        file: path.to_path_buf(),
        line: 1,
        message: format!("cannot read: {e}"),
    }
}

#[cfg(test)]
#[path = "gateway_tests.rs"]
mod tests;
