//! The file as written: serde structs mirroring `conf/switchboard.toml`.
//! Defaults live here so the commented example and the code cannot drift
//! apart silently (the example is parsed in a test).

use serde::Deserialize;
use serde_spanned::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    pub server: Server,
    #[serde(default)]
    pub database: Database,
    #[serde(default)]
    pub tls: Tls,
    #[serde(default)]
    pub c2s: C2s,
    #[serde(default)]
    pub s2s: S2s,
    #[serde(default)]
    pub limits: super::limits::RawLimits,
    #[serde(default)]
    pub gateway: Gateway,
    #[serde(default)]
    pub component: Component,
    #[serde(default)]
    pub http: super::web::RawHttp,
    #[serde(default)]
    pub web: super::web::RawWeb,
    /// Present: the upload service is on.
    #[serde(default)]
    pub upload: Option<Spanned<super::upload::RawUpload>>,
}

/// XEP-0114 external components (transports for other IM networks).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Component {
    pub listen: Vec<Spanned<String>>,
    pub accept: Vec<ComponentAccept>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentAccept {
    pub domain: Spanned<String>,
    pub secret: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    pub support_domain: Spanned<String>,
    pub agent_domain: Spanned<String>,
    #[serde(default = "five")]
    pub shutdown_grace_secs: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Database {
    pub url: Spanned<String>,
    #[serde(default = "full")]
    pub durability: Spanned<String>,
}

fn full() -> Spanned<String> {
    Spanned::new(0..0, "full".into())
}

impl Default for Database {
    fn default() -> Self {
        Database {
            url: Spanned::new(0..0, "sqlite://data/switchboard.db".into()),
            durability: Spanned::new(0..0, "full".into()),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Tls {
    pub cert_dir: String,
    pub ca_file: String,
}

impl Default for Tls {
    fn default() -> Self {
        Tls {
            cert_dir: "certs".into(),
            ca_file: String::new(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct C2s {
    pub listen: Vec<Spanned<String>>,
    pub direct_tls: Vec<Spanned<String>>,
    pub require_encryption: bool,
    pub negotiation_timeout_secs: u64,
    pub idle_timeout_secs: u64,
    pub ping_timeout_secs: u64,
    pub resume_timeout_secs: u64,
}

impl Default for C2s {
    fn default() -> Self {
        let at = |s: &str| Spanned::new(0..0, s.to_string());
        C2s {
            listen: vec![at("127.0.0.1:5222")],
            direct_tls: vec![at("127.0.0.1:5223")],
            require_encryption: true,
            negotiation_timeout_secs: 30,
            idle_timeout_secs: 300,
            ping_timeout_secs: 60,
            resume_timeout_secs: 300,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct S2s {
    pub listen: Vec<Spanned<String>>,
    pub direct_tls: Vec<Spanned<String>>,
    pub secure_auth: bool,
    pub require_encryption: bool,
    pub dialback_secret: Spanned<String>,
    pub nameservers: Vec<Spanned<String>>,
    pub connect_timeout_secs: u64,
    pub negotiation_timeout_secs: u64,
    pub idle_timeout_secs: u64,
    pub queue: usize,
    pub stream_management: bool,
    pub max_unacked: usize,
    /// Domain → "ip:port"; BTreeMap keeps the file's problems in a stable order.
    pub hosts: std::collections::BTreeMap<String, Spanned<String>>,
}

impl Default for S2s {
    fn default() -> Self {
        let at = |s: &str| Spanned::new(0..0, s.to_string());
        S2s {
            listen: vec![at("127.0.0.1:5269")],
            direct_tls: Vec::new(),
            secure_auth: true,
            require_encryption: true,
            dialback_secret: at(""),
            nameservers: Vec::new(),
            connect_timeout_secs: 10,
            negotiation_timeout_secs: 30,
            idle_timeout_secs: 600,
            queue: 1024,
            stream_management: true,
            max_unacked: 256,
            hosts: Default::default(),
        }
    }
}

/// Where the contact-center files are; relative to this file's folder.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Gateway {
    pub agents: Spanned<String>,
    pub routing: Spanned<String>,
    /// Optional: without it nothing is asked or answered before an agent.
    pub dialogs: Option<Spanned<String>>,
    /// Optional: without it escalations are not classified.
    pub categories: Option<Spanned<String>>,
}

impl Default for Gateway {
    fn default() -> Self {
        let at = |s: &str| Spanned::new(0..0, s.to_string());
        Gateway {
            agents: at("agents.toml"),
            routing: at("routing.toml"),
            dialogs: None,
            categories: None,
        }
    }
}

fn five() -> u64 {
    5
}
