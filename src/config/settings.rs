//! `conf/switchboard.toml`, read with serde (`deny_unknown_fields`, the
//! structs of `raw.rs`) and validated into [`Settings`], where every path
//! is absolute and every address parsed.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_spanned::Spanned;

use super::parse::validate_domain;
use super::problem::{ConfigError, LineIndex};
use super::raw;

/// The validated server configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub file: PathBuf,
    pub support_domain: String,
    pub agent_domain: String,
    pub shutdown_grace: Duration,
    pub database_url: String,
    pub cert_dir: PathBuf,
    pub ca_file: Option<PathBuf>,
    pub c2s: C2s,
    pub s2s: S2s,
    pub limits: Limits,
    pub gateway: GatewayFiles,
    pub component: Component,
}

/// XEP-0114: where components connect, and which may, with what secret.
#[derive(Debug, Clone, Default)]
pub struct Component {
    pub listen: Vec<SocketAddr>,
    /// Component domain → shared secret.
    pub accept: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct C2s {
    pub listen: Vec<SocketAddr>,
    pub direct_tls: Vec<SocketAddr>,
    pub require_encryption: bool,
    pub negotiation_timeout: Duration,
    pub idle_timeout: Duration,
    pub ping_timeout: Duration,
    pub resume_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct S2s {
    pub listen: Vec<SocketAddr>,
    pub direct_tls: Vec<SocketAddr>,
    /// Peers must authenticate with a certificate valid for their domain;
    /// false lets dialback authenticate a peer whose certificate is not.
    pub secure_auth: bool,
    /// Refuse streams that do not negotiate TLS, in both directions.
    pub require_encryption: bool,
    /// XEP-0185 dialback secret; random at each start when not configured.
    pub dialback_secret: Option<String>,
    /// DNS servers for SRV and address lookups; empty: the system's.
    pub nameservers: Vec<SocketAddr>,
    pub connect_timeout: Duration,
    pub negotiation_timeout: Duration,
    pub idle_timeout: Duration,
    /// Stanzas waiting for one outbound stream before senders are refused.
    pub queue: usize,
    /// Static name resolution that takes precedence over DNS.
    pub hosts: std::collections::BTreeMap<String, SocketAddr>,
}

/// The contact-center files, absolute (read into a `GatewayConfig` by
/// `gateway.rs`).
#[derive(Debug, Clone)]
pub struct GatewayFiles {
    pub agents_file: PathBuf,
    pub routing_file: PathBuf,
}

#[derive(Debug, Clone)]
pub struct Limits {
    pub max_stanza_bytes: usize,
    pub max_offline_messages: i64,
    pub session_queue: usize,
    pub max_unacked: usize,
}

impl Settings {
    /// Reads and validates `path`, collecting every problem rather than
    /// stopping at the first, so an admin fixes a file in one pass.
    pub fn load(path: &Path) -> Result<Settings, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_str(path, &text)
    }

    pub fn from_str(path: &Path, text: &str) -> Result<Settings, ConfigError> {
        let lines = LineIndex::new(path, text);
        let raw: raw::File = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(1, |s| lines.line_of(s.start));
            ConfigError::Invalid(vec![lines.problem_at(line, e.message().trim_end())])
        })?;
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let mut problems = Vec::new();
        let mut check_domain = |d: &Spanned<String>| {
            if let Err(msg) = validate_domain(d.get_ref()) {
                problems.push(lines.problem(d, &msg));
            }
            d.get_ref().to_ascii_lowercase()
        };
        let support_domain = check_domain(&raw.server.support_domain);
        let agent_domain = check_domain(&raw.server.agent_domain);
        if support_domain == agent_domain && !support_domain.is_empty() {
            problems.push(lines.problem(
                &raw.server.agent_domain,
                "agent_domain must differ from support_domain",
            ));
        }
        let mut addrs = |list: &[Spanned<String>]| -> Vec<SocketAddr> {
            list.iter()
                .filter_map(|a| match a.get_ref().parse() {
                    Ok(addr) => Some(addr),
                    Err(_) => {
                        problems.push(lines.problem(
                            a,
                            &format!("'{}' is not an address like 127.0.0.1:5222", a.get_ref()),
                        ));
                        None
                    }
                })
                .collect()
        };
        let listen = addrs(&raw.c2s.listen);
        let direct_tls = addrs(&raw.c2s.direct_tls);
        let s2s_listen = addrs(&raw.s2s.listen);
        let s2s_direct_tls = addrs(&raw.s2s.direct_tls);
        let nameservers = addrs(&raw.s2s.nameservers);
        let component_listen = addrs(&raw.component.listen);
        let mut hosts = std::collections::BTreeMap::new();
        for (domain, addr) in &raw.s2s.hosts {
            let name = domain.to_ascii_lowercase();
            if let Err(msg) = validate_domain(&name) {
                problems.push(lines.problem(addr, &format!("[s2s.hosts]: {msg}")));
            }
            match addr.get_ref().parse::<SocketAddr>() {
                Ok(a) => {
                    hosts.insert(name, a);
                }
                Err(_) => problems.push(lines.problem(
                    addr,
                    &format!(
                        "[s2s.hosts] \"{domain}\": '{}' is not an address like 127.0.0.21:5269",
                        addr.get_ref()
                    ),
                )),
            }
        }
        let mut accept = std::collections::BTreeMap::new();
        for a in &raw.component.accept {
            let domain = a.domain.get_ref().to_ascii_lowercase();
            if let Err(msg) = validate_domain(&domain) {
                problems.push(lines.problem(&a.domain, &format!("[[component.accept]]: {msg}")));
            } else if domain == support_domain || domain == agent_domain {
                problems.push(lines.problem(
                    &a.domain,
                    &format!("component domain '{domain}' is one of the server's own domains"),
                ));
            } else if accept.contains_key(&domain) {
                problems.push(lines.problem(
                    &a.domain,
                    &format!("component domain '{domain}' is declared twice"),
                ));
            }
            if a.secret.get_ref().len() < 8 {
                problems.push(
                    lines.problem(&a.secret, "component secret must be at least 8 characters"),
                );
            }
            accept.insert(domain, a.secret.get_ref().clone());
        }
        let secret = raw.s2s.dialback_secret.get_ref();
        if !secret.is_empty() && secret.len() < 16 {
            problems.push(lines.problem(
                &raw.s2s.dialback_secret,
                "dialback_secret must be at least 16 characters (or empty for a random one)",
            ));
        }
        let database_url = resolve_db_url(&base, raw.database.url.get_ref());
        if database_url.is_none() {
            problems.push(lines.problem(
                &raw.database.url,
                "database url must start with sqlite:// or postgres://",
            ));
        }
        let max_stanza = *raw.limits.max_stanza_bytes.get_ref();
        if !(10_000..=16 * 1024 * 1024).contains(&max_stanza) {
            problems.push(lines.problem(
                &raw.limits.max_stanza_bytes,
                "max_stanza_bytes must be between 10000 and 16777216 (RFC 6120 §13.12 asks for at least 10000)",
            ));
        }
        let agents_file = base.join(raw.gateway.agents.get_ref());
        let routing_file = base.join(raw.gateway.routing.get_ref());
        for f in [&raw.gateway.agents, &raw.gateway.routing] {
            if f.get_ref().is_empty() {
                problems.push(lines.problem(f, "the file name is empty"));
            }
        }
        if agents_file == routing_file {
            // Each file is read with its own schema: one file cannot be both.
            problems.push(lines.problem(
                &raw.gateway.routing,
                "routing and agents must be different files",
            ));
        }
        if !problems.is_empty() {
            problems.sort_by_key(|p| p.line);
            return Err(ConfigError::Invalid(problems));
        }
        let secs = Duration::from_secs;
        Ok(Settings {
            file: path.to_path_buf(),
            support_domain,
            agent_domain,
            shutdown_grace: secs(raw.server.shutdown_grace_secs),
            database_url: database_url.unwrap_or_default(),
            cert_dir: base.join(&raw.tls.cert_dir),
            ca_file: (!raw.tls.ca_file.is_empty()).then(|| base.join(&raw.tls.ca_file)),
            c2s: C2s {
                listen,
                direct_tls,
                require_encryption: raw.c2s.require_encryption,
                negotiation_timeout: secs(raw.c2s.negotiation_timeout_secs),
                idle_timeout: secs(raw.c2s.idle_timeout_secs),
                ping_timeout: secs(raw.c2s.ping_timeout_secs),
                resume_timeout: secs(raw.c2s.resume_timeout_secs),
            },
            s2s: S2s {
                listen: s2s_listen,
                direct_tls: s2s_direct_tls,
                secure_auth: raw.s2s.secure_auth,
                require_encryption: raw.s2s.require_encryption,
                dialback_secret: (!secret.is_empty()).then(|| secret.clone()),
                nameservers,
                connect_timeout: secs(raw.s2s.connect_timeout_secs.max(1)),
                negotiation_timeout: secs(raw.s2s.negotiation_timeout_secs.max(1)),
                idle_timeout: secs(raw.s2s.idle_timeout_secs.max(1)),
                queue: raw.s2s.queue.max(16),
                hosts,
            },
            limits: Limits {
                max_stanza_bytes: max_stanza,
                max_offline_messages: raw.limits.max_offline_messages,
                session_queue: raw.limits.session_queue.max(16),
                max_unacked: raw.limits.max_unacked.max(16),
            },
            gateway: GatewayFiles {
                agents_file,
                routing_file,
            },
            component: Component {
                listen: component_listen,
                accept,
            },
        })
    }

    /// Every domain this server answers for.
    pub fn domains(&self) -> [&str; 2] {
        [&self.support_domain, &self.agent_domain]
    }
}

/// Relative SQLite paths are relative to the config file, like every other
/// path in it, so the server behaves the same from any working directory.
fn resolve_db_url(base: &Path, url: &str) -> Option<String> {
    if url.starts_with("postgres://")
        || url.starts_with("postgresql://")
        || url == "sqlite::memory:"
    {
        return Some(url.to_string());
    }
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let (path, query) = path
        .split_once('?')
        .map_or((path, None), |(p, q)| (p, Some(q)));
    let full = base.join(path);
    Some(match query {
        Some(q) => format!("sqlite://{}?{q}", full.display()),
        None => format!("sqlite://{}", full.display()),
    })
}

#[cfg(test)]
#[path = "settings_tests.rs"]
mod tests;
