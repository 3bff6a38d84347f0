//! Where a remote domain's s2s service is: SRV records for STARTTLS
//! (`_xmpp-server._tcp`, RFC 6120 §3.2) and direct TLS (`_xmpps-server._tcp`,
//! XEP-0368), ordered as RFC 2782 says, falling back to the domain itself on
//! port 5269; and a static `[s2s.hosts]` map that wins over DNS, for private
//! networks and tests.

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::config::{
    ConnectionConfig, LookupIpStrategy, NameServerConfig, ResolverConfig,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::NetError;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::TokioResolver;
use rand::Rng;
use tokio::net::TcpStream;

/// The s2s port when DNS names none.
pub const DEFAULT_PORT: u16 = 5269;

/// One place to try, in the order [`S2sResolver::targets`] gives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// A host name to look up, or an IP address literal.
    pub host: String,
    pub port: u16,
    /// XEP-0368: start TLS right after connecting, instead of STARTTLS.
    pub direct_tls: bool,
}

/// One usable SRV record: the input of [`rfc2782_order`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrvRecord {
    pub priority: u16,
    pub weight: u16,
    pub target: Target,
}

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("DNS resolver configuration: {0}")]
    Config(String),
    #[error("{0:?} is not a valid domain name")]
    InvalidDomain(String),
    /// SRV target "." (RFC 2782): the domain decidedly offers no s2s.
    #[error("{domain} offers no XMPP server-to-server service")]
    NoService { domain: String },
    #[error("{host} has no address")]
    NoAddress { host: String },
    #[error("DNS lookup of {name} timed out")]
    DnsTimeout { name: String },
    #[error("DNS lookup of {name} failed: {reason}")]
    Dns { name: String, reason: String },
    #[error("connecting to {host} at {addr} timed out")]
    ConnectTimeout { host: String, addr: SocketAddr },
    #[error("connecting to {host} at {addr}: {source}")]
    Connect {
        host: String,
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
}

impl ResolveError {
    /// Whether the peer may exist but did not answer in time (a stream
    /// error `remote-server-timeout`); everything else means it could not be
    /// found or reached (`remote-server-not-found`).
    pub fn is_timeout(&self) -> bool {
        matches!(
            self,
            ResolveError::DnsTimeout { .. } | ResolveError::ConnectTimeout { .. }
        )
    }
}

fn dns_error(name: &str, err: NetError) -> ResolveError {
    let timed_out = match &err {
        NetError::Timeout => true,
        NetError::Io(e) => e.kind() == io::ErrorKind::TimedOut,
        _ => false,
    };
    if timed_out {
        ResolveError::DnsTimeout {
            name: name.to_string(),
        }
    } else {
        ResolveError::Dns {
            name: name.to_string(),
            reason: err.to_string(),
        }
    }
}

/// What one SRV query said.
enum Srv {
    Records(Vec<SrvRecord>),
    /// The single record with target ".".
    Unavailable,
    /// No such name, or no SRV records at it.
    Nothing,
}

/// Orders SRV records as RFC 2782 says: ascending priority; within one
/// priority, repeatedly pick at random with probability proportional to
/// weight, where weight-0 records are put first in the candidate list so a
/// draw of 0 still picks them now and then. With `rng` injected the order is
/// reproducible (tests) and otherwise load-balanced.
pub fn rfc2782_order<R: Rng + ?Sized>(mut records: Vec<SrvRecord>, rng: &mut R) -> Vec<Target> {
    records.sort_by_key(|r| r.priority);
    let mut out = Vec::with_capacity(records.len());
    let mut rest = records.into_iter().peekable();
    while let Some(first) = rest.next() {
        let mut group = vec![first];
        while let Some(next) = rest.next_if(|r| r.priority == group[0].priority) {
            group.push(next);
        }
        // Stable, so records of equal weight keep the order DNS gave.
        group.sort_by_key(|r| r.weight != 0);
        while !group.is_empty() {
            let total: u64 = group.iter().map(|r| u64::from(r.weight)).sum();
            let draw = rng.gen_range(0..=total);
            let mut running = 0;
            let pick = group
                .iter()
                .position(|r| {
                    running += u64::from(r.weight);
                    running >= draw
                })
                .unwrap_or(group.len() - 1);
            out.push(group.remove(pick).target);
        }
    }
    out
}

/// Finds and connects to remote s2s services.
#[derive(Clone)]
pub struct S2sResolver {
    hosts: BTreeMap<String, SocketAddr>,
    dns: TokioResolver,
}

impl std::fmt::Debug for S2sResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S2sResolver")
            .field("hosts", &self.hosts)
            .finish_non_exhaustive()
    }
}

/// Lower case, no final dot: the form domains are compared in.
fn normalise(domain: &str) -> String {
    domain.trim_end_matches('.').to_ascii_lowercase()
}

/// An absolute name, so the resolver's search list never applies.
fn fqdn(name: &str) -> String {
    format!("{}.", name.trim_end_matches('.'))
}

impl S2sResolver {
    /// `hosts` (domain → address) wins over DNS; `nameservers` empty means
    /// the system's (/etc/resolv.conf), else these, over UDP and TCP.
    pub fn new(
        hosts: BTreeMap<String, SocketAddr>,
        nameservers: Vec<SocketAddr>,
    ) -> Result<S2sResolver, ResolveError> {
        Self::with_dns_timeout(hosts, nameservers, None)
    }

    /// [`new`](Self::new) with a per-query DNS timeout instead of the system
    /// or library default (5 s, two attempts).
    pub fn with_dns_timeout(
        hosts: BTreeMap<String, SocketAddr>,
        nameservers: Vec<SocketAddr>,
        timeout: Option<Duration>,
    ) -> Result<S2sResolver, ResolveError> {
        let config = |e: NetError| ResolveError::Config(e.to_string());
        let mut builder = if nameservers.is_empty() {
            TokioResolver::builder_tokio().map_err(config)?
        } else {
            let servers = nameservers
                .iter()
                .map(|ns| {
                    let (mut udp, mut tcp) = (ConnectionConfig::udp(), ConnectionConfig::tcp());
                    (udp.port, tcp.port) = (ns.port(), ns.port());
                    NameServerConfig::new(ns.ip(), true, vec![udp, tcp])
                })
                .collect();
            TokioResolver::builder_with_config(
                ResolverConfig::from_name_servers(servers),
                TokioRuntimeProvider::default(),
            )
        };
        let opts = builder.options_mut();
        // Both families, so a peer reachable only over one of them is found.
        opts.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
        if let Some(t) = timeout {
            opts.timeout = t;
        }
        let dns = builder.build().map_err(config)?;
        let hosts = hosts.into_iter().map(|(d, a)| (normalise(&d), a)).collect();
        Ok(S2sResolver { hosts, dns })
    }

    /// Where to try, best first. A domain in the static map goes only to its
    /// address (STARTTLS); an IP literal is used as is.
    pub async fn targets(&self, domain: &str) -> Result<Vec<Target>, ResolveError> {
        let domain = normalise(domain);
        if domain.is_empty() {
            return Err(ResolveError::InvalidDomain(domain));
        }
        if let Some(addr) = self.hosts.get(&domain) {
            return Ok(vec![Target {
                host: domain,
                port: addr.port(),
                direct_tls: false,
            }]);
        }
        let fallback = || {
            vec![Target {
                host: domain.clone(),
                port: DEFAULT_PORT,
                direct_tls: false,
            }]
        };
        if domain.parse::<IpAddr>().is_ok() {
            return Ok(fallback());
        }
        let (tls, plain) = tokio::join!(
            self.srv("_xmpps-server", &domain, true),
            self.srv("_xmpp-server", &domain, false),
        );
        let mut records = Vec::new();
        let mut unavailable = false;
        let mut failure = None;
        for answer in [tls, plain] {
            match answer {
                Ok(Srv::Records(r)) => records.extend(r),
                Ok(Srv::Unavailable) => unavailable = true,
                Ok(Srv::Nothing) => {}
                Err(e) => {
                    tracing::debug!(error = %e, "SRV lookup");
                    failure.get_or_insert(e);
                }
            }
        }
        if !records.is_empty() {
            // One service's records are enough even if the other's query
            // failed: the operator published where to go.
            return Ok(rfc2782_order(records, &mut rand::thread_rng()));
        }
        if let Some(e) = failure {
            // We do not know that there are no records, so falling back to
            // the bare domain could go somewhere the operator did not mean.
            return Err(e);
        }
        if unavailable {
            return Err(ResolveError::NoService { domain });
        }
        Ok(fallback())
    }

    async fn srv(
        &self,
        service: &str,
        domain: &str,
        direct_tls: bool,
    ) -> Result<Srv, ResolveError> {
        let name = format!("{service}._tcp.{domain}");
        let lookup = match self.dns.srv_lookup(fqdn(&name)).await {
            Ok(l) => l,
            Err(e) if e.is_no_records_found() => return Ok(Srv::Nothing),
            Err(e) => return Err(dns_error(&name, e)),
        };
        let srvs: Vec<_> = lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::SRV(srv) => Some(srv),
                _ => None,
            })
            .collect();
        if let [only] = srvs[..] {
            if only.target.is_root() {
                return Ok(Srv::Unavailable);
            }
        }
        let records: Vec<SrvRecord> = srvs
            .into_iter()
            // "." among other records means nothing; skip it.
            .filter(|s| !s.target.is_root())
            .map(|s| SrvRecord {
                priority: s.priority,
                weight: s.weight,
                target: Target {
                    host: normalise(&s.target.to_ascii()),
                    port: s.port,
                    direct_tls,
                },
            })
            .collect();
        Ok(if records.is_empty() {
            Srv::Nothing
        } else {
            Srv::Records(records)
        })
    }

    /// The addresses of one target: the static map's, the literal, or A and
    /// AAAA records.
    async fn addresses(&self, target: &Target) -> Result<Vec<SocketAddr>, ResolveError> {
        let host = normalise(&target.host);
        if let Some(addr) = self.hosts.get(&host) {
            return Ok(vec![*addr]);
        }
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, target.port)]);
        }
        let found = match self.dns.lookup_ip(fqdn(&host)).await {
            Ok(found) => found,
            Err(e) if e.is_no_records_found() => return Err(ResolveError::NoAddress { host }),
            Err(e) => return Err(dns_error(&host, e)),
        };
        let addrs: Vec<SocketAddr> = found
            .iter()
            .map(|ip| SocketAddr::new(ip, target.port))
            .collect();
        if addrs.is_empty() {
            return Err(ResolveError::NoAddress { host });
        }
        Ok(addrs)
    }

    /// Connects to the first of the target's addresses that accepts within
    /// `timeout` (per address).
    pub async fn connect(
        &self,
        target: &Target,
        timeout: Duration,
    ) -> Result<TcpStream, ResolveError> {
        let mut last = None;
        for addr in self.addresses(target).await? {
            let host = target.host.clone();
            match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
                Ok(Ok(tcp)) => return Ok(tcp),
                Ok(Err(source)) => {
                    tracing::debug!(%host, %addr, error = %source, "s2s connect");
                    last = Some(ResolveError::Connect { host, addr, source });
                }
                Err(_) => {
                    tracing::debug!(%host, %addr, "s2s connect timed out");
                    // A refusal elsewhere says more than a timeout here.
                    if !matches!(last, Some(ResolveError::Connect { .. })) {
                        last = Some(ResolveError::ConnectTimeout { host, addr });
                    }
                }
            }
        }
        Err(last.unwrap_or_else(|| ResolveError::NoAddress {
            host: target.host.clone(),
        }))
    }
}

#[cfg(test)]
mod tests;
