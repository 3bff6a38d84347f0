//! `[http]` (the HTTP listener: XMPP over WebSocket and BOSH, the chat
//! page, uploads) and `[web]` (the domain of web chat visitors and how they
//! log in).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::Deserialize;
use serde_spanned::Spanned;

use super::parse::validate_domain;
use super::problem::{LineIndex, Problem};

/// `[http]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawHttp {
    pub listen: Vec<Spanned<String>>,
    pub listen_tls: Vec<Spanned<String>>,
    pub public_url: Spanned<String>,
    pub trusted_proxies: Vec<Spanned<String>>,
    pub max_streams_per_address: Spanned<usize>,
    pub bosh_max_wait_secs: u64,
    pub bosh_inactivity_secs: u64,
}

impl Default for RawHttp {
    fn default() -> Self {
        RawHttp {
            listen: Vec::new(),
            listen_tls: Vec::new(),
            public_url: Spanned::new(0..0, String::new()),
            trusted_proxies: Vec::new(),
            max_streams_per_address: Spanned::new(0..0, 20),
            bosh_max_wait_secs: 60,
            bosh_inactivity_secs: 60,
        }
    }
}

/// `[web]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawWeb {
    pub domain: Spanned<String>,
    pub anonymous: bool,
    pub token_secret: Spanned<String>,
    pub visitor_token_secs: u64,
}

impl Default for RawWeb {
    fn default() -> Self {
        RawWeb {
            domain: Spanned::new(0..0, String::new()),
            anonymous: true,
            token_secret: Spanned::new(0..0, String::new()),
            visitor_token_secs: 86_400,
        }
    }
}

/// The HTTP listener, validated. No addresses: no listener.
#[derive(Debug, Clone, Default)]
pub struct Http {
    pub listen: Vec<SocketAddr>,
    pub listen_tls: Vec<SocketAddr>,
    /// Where browsers reach the listener, without a trailing slash; empty:
    /// made from the first bound address at start.
    pub public_url: String,
    /// Peers whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed.
    pub trusted_proxies: Vec<IpAddr>,
    /// WebSockets and BOSH sessions open at once from one client address.
    pub max_streams_per_address: usize,
    /// The longest a BOSH request is held waiting for data (XEP-0124 `wait`).
    pub bosh_max_wait: Duration,
    /// A BOSH session with no request for this long is over.
    pub bosh_inactivity: Duration,
}

impl Http {
    pub fn enabled(&self) -> bool {
        !self.listen.is_empty() || !self.listen_tls.is_empty()
    }
}

/// Web chat visitors: their domain, and how they may log in.
#[derive(Debug, Clone)]
pub struct Web {
    pub domain: String,
    /// SASL ANONYMOUS: a fresh JID at each login.
    pub anonymous: bool,
    /// The HMAC secret of the tokens the company's own site signs for its
    /// logged-in visitors; None: no such tokens.
    pub token_secret: Option<String>,
    /// How long a token the chat page gets for a visitor stays valid.
    pub visitor_token: Duration,
}

pub(super) fn http(lines: &LineIndex, raw: &RawHttp, problems: &mut Vec<Problem>) -> Http {
    let addresses = |list: &[Spanned<String>], problems: &mut Vec<Problem>| {
        list.iter()
            .filter_map(|a| match a.get_ref().parse::<SocketAddr>() {
                Ok(addr) => Some(addr),
                Err(_) => {
                    problems.push(lines.problem(
                        a,
                        &format!("'{}' is not an address like 127.0.0.1:5280", a.get_ref()),
                    ));
                    None
                }
            })
            .collect::<Vec<_>>()
    };
    let listen = addresses(&raw.listen, problems);
    let listen_tls = addresses(&raw.listen_tls, problems);
    let url = raw.public_url.get_ref().trim_end_matches('/').to_string();
    if !(url.is_empty() || url.starts_with("http://") || url.starts_with("https://")) {
        problems.push(lines.problem(
            &raw.public_url,
            "public_url must start with http:// or https://",
        ));
    }
    let trusted_proxies = raw
        .trusted_proxies
        .iter()
        .filter_map(|p| match p.get_ref().parse::<IpAddr>() {
            Ok(ip) => Some(ip),
            Err(_) => {
                problems.push(lines.problem(
                    p,
                    &format!("'{}' is not an IP address like 127.0.0.1", p.get_ref()),
                ));
                None
            }
        })
        .collect();
    let per_address = *raw.max_streams_per_address.get_ref();
    if per_address == 0 {
        problems.push(lines.problem(
            &raw.max_streams_per_address,
            "max_streams_per_address must be at least 1",
        ));
    }
    Http {
        listen,
        listen_tls,
        public_url: url,
        trusted_proxies,
        max_streams_per_address: per_address.max(1),
        bosh_max_wait: Duration::from_secs(raw.bosh_max_wait_secs.clamp(1, 600)),
        bosh_inactivity: Duration::from_secs(raw.bosh_inactivity_secs.clamp(5, 3600)),
    }
}

/// `own` are the two other domains, which the web domain may not be.
pub(super) fn web(
    lines: &LineIndex,
    raw: &RawWeb,
    own: [&str; 2],
    problems: &mut Vec<Problem>,
) -> Option<Web> {
    let domain = raw.domain.get_ref().to_ascii_lowercase();
    if domain.is_empty() {
        return None;
    }
    if let Err(msg) = validate_domain(&domain) {
        problems.push(lines.problem(&raw.domain, &format!("[web] domain: {msg}")));
    } else if own.contains(&domain.as_str()) {
        problems.push(lines.problem(
            &raw.domain,
            "the web domain must differ from support_domain and agent_domain",
        ));
    }
    let secret = raw.token_secret.get_ref();
    if !secret.is_empty() && secret.len() < 32 {
        problems.push(lines.problem(
            &raw.token_secret,
            "token_secret must be at least 32 characters (or empty for no site tokens)",
        ));
    }
    Some(Web {
        domain,
        anonymous: raw.anonymous,
        token_secret: (!secret.is_empty()).then(|| secret.clone()),
        visitor_token: Duration::from_secs(raw.visitor_token_secs.max(60)),
    })
}
