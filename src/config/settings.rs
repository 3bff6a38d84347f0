//! `conf/switchboard.toml`, read with serde (`deny_unknown_fields`, the
//! structs of `raw.rs`) and validated into [`Settings`], where every path
//! is absolute and every address parsed.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_spanned::Spanned;

use super::limits::Limits;
use super::parse::{parse_toml, validate_domain};
use super::problem::{ConfigError, LineIndex, Problem};
use super::raw;
use super::upload::Upload;
use super::web::{Http, Web};
pub use crate::store::Durability;

/// The validated server configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub file: PathBuf,
    pub support_domain: String,
    pub agent_domain: String,
    pub shutdown_grace: Duration,
    pub database_url: String,
    /// What a commit survives: see [`Durability`].
    pub durability: Durability,
    pub cert_dir: PathBuf,
    pub ca_file: Option<PathBuf>,
    pub c2s: C2s,
    pub s2s: S2s,
    pub limits: Limits,
    pub gateway: GatewayFiles,
    pub component: Component,
    pub http: Http,
    /// The web chat's visitors; None: no web chat domain.
    pub web: Option<Web>,
    /// XEP-0363 file upload on the support domain; None: off.
    pub upload: Option<Upload>,
}

/// XEP-0114: where components connect, and which may, with what secret.
#[derive(Debug, Clone, Default)]
pub struct Component {
    pub listen: Vec<SocketAddr>,
    /// Component domain → shared secret.
    pub accept: BTreeMap<String, String>,
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
    /// XEP-0198 on s2s streams, both directions.
    pub stream_management: bool,
    /// Stanzas sent on an outbound stream and not yet acknowledged, at most:
    /// beyond it the link waits for the peer's `<a/>` before writing more.
    pub max_unacked: usize,
    /// Static name resolution that takes precedence over DNS.
    pub hosts: BTreeMap<String, SocketAddr>,
}

/// The contact-center files, absolute (read into a `GatewayConfig` by
/// `gateway.rs`).
#[derive(Debug, Clone)]
pub struct GatewayFiles {
    pub agents_file: PathBuf,
    pub routing_file: PathBuf,
    pub dialogs_file: Option<PathBuf>,
    pub categories_file: Option<PathBuf>,
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
        let raw: raw::File = parse_toml(&lines, text).map_err(|p| ConfigError::Invalid(vec![p]))?;
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let mut problems = Vec::new();
        let (support_domain, agent_domain) = server_domains(&lines, &raw.server, &mut problems);
        let c2s = c2s(&lines, &raw.c2s, &mut problems);
        let s2s = s2s(&lines, &raw.s2s, &mut problems);
        let own = [support_domain.as_str(), agent_domain.as_str()];
        let component = component(&lines, &raw.component, own, &mut problems);
        let http = super::web::http(&lines, &raw.http, &mut problems);
        let web = super::web::web(&lines, &raw.web, own, &mut problems);
        if let Some(w) = &web {
            if component.accept.contains_key(&w.domain) {
                problems.push(lines.problem(
                    &raw.web.domain,
                    "the web domain is also a component's domain",
                ));
            }
        }
        let upload =
            super::upload::upload(&lines, raw.upload.as_ref(), &http, &base, &mut problems);
        let database_url = database_url(&lines, &base, &raw.database, &mut problems);
        let durability = durability(&lines, &raw.database, &mut problems);
        let limits = super::limits::limits(&lines, &raw.limits, &mut problems);
        let gateway = gateway_files(&lines, &base, &raw.gateway, &mut problems);
        if !problems.is_empty() {
            // Found section by section; the admin reads them in file order.
            problems.sort_by_key(|p| p.line);
            return Err(ConfigError::Invalid(problems));
        }
        Ok(Settings {
            file: path.to_path_buf(),
            support_domain,
            agent_domain,
            shutdown_grace: Duration::from_secs(raw.server.shutdown_grace_secs),
            database_url,
            durability,
            cert_dir: base.join(&raw.tls.cert_dir),
            ca_file: (!raw.tls.ca_file.is_empty()).then(|| base.join(&raw.tls.ca_file)),
            c2s,
            s2s,
            limits,
            gateway,
            component,
            http,
            web,
            upload,
        })
    }

    /// Every domain this server answers for.
    pub fn domains(&self) -> Vec<&str> {
        let mut d = vec![self.support_domain.as_str(), self.agent_domain.as_str()];
        d.extend(self.web_domain());
        d
    }

    /// The domain of web chat visitors, if there is one.
    pub fn web_domain(&self) -> Option<&str> {
        self.web.as_ref().map(|w| w.domain.as_str())
    }

    /// Whether clients log in to `domain` here: agents' accounts, and web
    /// visitors.
    pub fn is_client_domain(&self, domain: &str) -> bool {
        domain == self.agent_domain || self.web_domain() == Some(domain)
    }
}

/// `[server]`: the two domains, lowercased.
fn server_domains(
    lines: &LineIndex,
    raw: &raw::Server,
    problems: &mut Vec<Problem>,
) -> (String, String) {
    let support_domain = domain(lines, &raw.support_domain, problems);
    let agent_domain = domain(lines, &raw.agent_domain, problems);
    if support_domain == agent_domain && !support_domain.is_empty() {
        problems.push(lines.problem(
            &raw.agent_domain,
            "agent_domain must differ from support_domain",
        ));
    }
    (support_domain, agent_domain)
}

fn domain(lines: &LineIndex, d: &Spanned<String>, problems: &mut Vec<Problem>) -> String {
    if let Err(msg) = validate_domain(d.get_ref()) {
        problems.push(lines.problem(d, &msg));
    }
    d.get_ref().to_ascii_lowercase()
}

/// The addresses that parse; a problem for each that does not.
fn addresses(
    lines: &LineIndex,
    list: &[Spanned<String>],
    problems: &mut Vec<Problem>,
) -> Vec<SocketAddr> {
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
}

fn c2s(lines: &LineIndex, raw: &raw::C2s, problems: &mut Vec<Problem>) -> C2s {
    let secs = Duration::from_secs;
    C2s {
        listen: addresses(lines, &raw.listen, problems),
        direct_tls: addresses(lines, &raw.direct_tls, problems),
        require_encryption: raw.require_encryption,
        negotiation_timeout: secs(raw.negotiation_timeout_secs),
        idle_timeout: secs(raw.idle_timeout_secs),
        ping_timeout: secs(raw.ping_timeout_secs),
        resume_timeout: secs(raw.resume_timeout_secs),
    }
}

fn s2s(lines: &LineIndex, raw: &raw::S2s, problems: &mut Vec<Problem>) -> S2s {
    let secs = |v: u64| Duration::from_secs(v.max(1));
    let listen = addresses(lines, &raw.listen, problems);
    let direct_tls = addresses(lines, &raw.direct_tls, problems);
    let nameservers = addresses(lines, &raw.nameservers, problems);
    let hosts = s2s_hosts(lines, &raw.hosts, problems);
    let secret = raw.dialback_secret.get_ref();
    if !secret.is_empty() && secret.len() < 16 {
        problems.push(lines.problem(
            &raw.dialback_secret,
            "dialback_secret must be at least 16 characters (or empty for a random one)",
        ));
    }
    S2s {
        listen,
        direct_tls,
        secure_auth: raw.secure_auth,
        require_encryption: raw.require_encryption,
        dialback_secret: (!secret.is_empty()).then(|| secret.clone()),
        nameservers,
        connect_timeout: secs(raw.connect_timeout_secs),
        negotiation_timeout: secs(raw.negotiation_timeout_secs),
        idle_timeout: secs(raw.idle_timeout_secs),
        queue: raw.queue.max(16),
        stream_management: raw.stream_management,
        max_unacked: raw.max_unacked.max(1),
        hosts,
    }
}

/// `[s2s.hosts]`, with lowercased domains.
fn s2s_hosts(
    lines: &LineIndex,
    raw: &BTreeMap<String, Spanned<String>>,
    problems: &mut Vec<Problem>,
) -> BTreeMap<String, SocketAddr> {
    let mut hosts = BTreeMap::new();
    for (domain, addr) in raw {
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
    hosts
}

/// `[component]`; `own` are the server's domains, which no component may
/// take.
fn component(
    lines: &LineIndex,
    raw: &raw::Component,
    own: [&str; 2],
    problems: &mut Vec<Problem>,
) -> Component {
    let listen = addresses(lines, &raw.listen, problems);
    let mut accept = BTreeMap::new();
    for a in &raw.accept {
        let domain = a.domain.get_ref().to_ascii_lowercase();
        if let Err(msg) = validate_domain(&domain) {
            problems.push(lines.problem(&a.domain, &format!("[[component.accept]]: {msg}")));
        } else if own.contains(&domain.as_str()) {
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
            problems
                .push(lines.problem(&a.secret, "component secret must be at least 8 characters"));
        }
        accept.insert(domain, a.secret.get_ref().clone());
    }
    Component { listen, accept }
}

/// `[database]`: the url with a relative SQLite path made absolute; empty
/// when it is neither SQLite nor PostgreSQL (a problem then).
fn database_url(
    lines: &LineIndex,
    base: &Path,
    raw: &raw::Database,
    problems: &mut Vec<Problem>,
) -> String {
    let url = resolve_db_url(base, raw.url.get_ref());
    if url.is_none() {
        problems.push(lines.problem(
            &raw.url,
            "database url must start with sqlite:// or postgres://",
        ));
    }
    url.unwrap_or_default()
}

fn durability(lines: &LineIndex, raw: &raw::Database, problems: &mut Vec<Problem>) -> Durability {
    match raw.durability.get_ref().as_str() {
        "full" => Durability::Full,
        "normal" => Durability::Normal,
        _ => {
            problems.push(lines.problem(
                &raw.durability,
                "durability must be \"full\" (every commit survives a power loss) or \"normal\" (a crash of the process loses nothing; a power loss may lose the last commits)",
            ));
            Durability::Full
        }
    }
}

/// `[gateway]`: the contact-center files, relative to `base`.
fn gateway_files(
    lines: &LineIndex,
    base: &Path,
    raw: &raw::Gateway,
    problems: &mut Vec<Problem>,
) -> GatewayFiles {
    let agents_file = base.join(raw.agents.get_ref());
    let routing_file = base.join(raw.routing.get_ref());
    let dialogs_file = raw.dialogs.as_ref().map(|d| base.join(d.get_ref()));
    let categories_file = raw.categories.as_ref().map(|c| base.join(c.get_ref()));
    for f in [&raw.agents, &raw.routing]
        .into_iter()
        .chain(raw.dialogs.as_ref())
        .chain(raw.categories.as_ref())
    {
        if f.get_ref().is_empty() {
            problems.push(lines.problem(f, "the file name is empty"));
        }
    }
    if agents_file == routing_file {
        // Each file is read with its own schema: one file cannot be both.
        problems.push(lines.problem(&raw.routing, "routing and agents must be different files"));
    }
    if let (Some(d), Some(raw_d)) = (&dialogs_file, &raw.dialogs) {
        if *d == agents_file || *d == routing_file {
            problems.push(lines.problem(raw_d, "dialogs must be a file of its own"));
        }
    }
    if let (Some(c), Some(raw_c)) = (&categories_file, &raw.categories) {
        let others = [
            Some(&agents_file),
            Some(&routing_file),
            dialogs_file.as_ref(),
        ];
        if others.contains(&Some(c)) {
            problems.push(lines.problem(raw_c, "categories must be a file of its own"));
        }
    }
    GatewayFiles {
        agents_file,
        routing_file,
        dialogs_file,
        categories_file,
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
