//! What every workload shares: the server under test, how clients log in,
//! and the envelope of a result.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::conn::{self, Conn, Target, TlsMode, Wire};
use super::probe::Probe;
use super::scram::Mech;

#[derive(clap::Args, Clone, Debug)]
pub struct Common {
    /// The server's name in the results (e.g. switchboard, prosody).
    #[arg(long)]
    pub server: String,
    /// Its c2s address.
    #[arg(long)]
    pub addr: SocketAddr,
    /// What the measured clients connect over: c2s on --addr, or XMPP
    /// over WebSocket on --ws-addr (agents in `support` stay on c2s).
    #[arg(long, value_enum, default_value = "tcp")]
    pub transport: Wire,
    /// The server's HTTP address, for `--transport websocket`.
    #[arg(long)]
    pub ws_addr: Option<SocketAddr>,
    /// The domain of the accounts.
    #[arg(long)]
    pub domain: String,
    #[arg(long, value_enum, default_value = "starttls")]
    pub tls: TlsMode,
    /// The CA that signed the server's certificate (PEM), for STARTTLS.
    #[arg(long)]
    pub ca: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "SCRAM-SHA-256")]
    pub mech: Mech,
    /// Every bench account's password.
    #[arg(long, default_value = "bench-password")]
    pub password: String,
    /// The server's PID, for its CPU time and memory (from /proc).
    #[arg(long)]
    pub pid: Option<u32>,
    /// A name for this run in the report (default: the workload's).
    #[arg(long)]
    pub label: Option<String>,
    /// Also write the JSON result to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Logins in flight at once while setting up.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
}

impl Common {
    pub fn target(&self) -> Result<Target> {
        let tls_config = match (&self.ca, self.tls) {
            (Some(ca), _) => Some(conn::tls_config(ca)?),
            (None, TlsMode::Starttls) => bail!("--tls starttls needs --ca"),
            (None, TlsMode::None) => None,
        };
        Ok(Target {
            addr: self.addr,
            wire: Wire::Tcp,
            domain: self.domain.clone(),
            tls: self.tls,
            tls_config,
            mech: self.mech,
            password: self.password.clone(),
        })
    }

    /// Where the measured clients log in: [`target`](Self::target) or,
    /// with `--transport websocket`, the WebSocket endpoint (no STARTTLS
    /// there: a WebSocket's TLS would be the HTTP connection's).
    pub fn client_target(&self) -> Result<Target> {
        let mut t = self.target()?;
        if self.transport == Wire::Websocket {
            let Some(addr) = self.ws_addr else {
                bail!("--transport websocket needs --ws-addr");
            };
            t.addr = addr;
            t.wire = Wire::Websocket;
            t.tls = TlsMode::None;
        }
        Ok(t)
    }

    pub fn probe(&self) -> Probe {
        Probe::new(self.pid)
    }

    /// Wraps a workload's fields with what identifies the run.
    pub fn result(&self, workload: &str, mut fields: Value) -> Value {
        let head = json!({
            "workload": workload,
            "label": self.label.clone().unwrap_or_else(|| workload.to_string()),
            "server": self.server,
            "transport": format!("{:?}", self.transport).to_lowercase(),
            "tls": match self.transport {
                Wire::Tcp => format!("{:?}", self.tls).to_lowercase(),
                Wire::Websocket => "none".to_string(),
            },
            "sasl": self.mech.name(),
        });
        if let (Some(f), Value::Object(h)) = (fields.as_object_mut(), head) {
            for (k, v) in h {
                f.insert(k, v);
            }
        }
        fields
    }
}

/// Logs in every `(user, resource)` with at most `concurrency` logins in
/// flight; fails on the first failure, saying which and why.
pub async fn login_all(
    target: &Target,
    logins: Vec<(String, String)>,
    concurrency: usize,
) -> Result<Vec<Conn>> {
    let gate = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut set = JoinSet::new();
    let n = logins.len();
    for (i, (user, resource)) in logins.into_iter().enumerate() {
        let target = target.clone();
        let gate = gate.clone();
        set.spawn(async move {
            let _permit = gate.acquire_owned().await;
            let conn = conn::login(&target, &user, &resource)
                .await
                .with_context(|| format!("logging in {user}@{}", target.domain));
            (i, conn)
        });
    }
    let mut out: Vec<Option<Conn>> = (0..n).map(|_| None).collect();
    while let Some(joined) = set.join_next().await {
        let (i, conn) = joined?;
        out[i] = Some(conn?);
    }
    Ok(out
        .into_iter()
        .map(|c| c.expect("every login joined"))
        .collect())
}
