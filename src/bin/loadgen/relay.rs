//! Plain relay: pairs of accounts chatting to each other's bare JID, the
//! traffic any XMPP server carries.

use std::sync::Arc;

use anyhow::{bail, Result};
use serde_json::{json, Value};

use super::chat::{self, Peer, Plan, Shared};
use super::fleet::{self, Common};
use super::stats::{r3, Counters};

#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub traffic: Traffic,
    /// Clients (even: they chat in pairs).
    #[arg(long, default_value_t = 100)]
    pub clients: usize,
    /// Account names are PREFIX1..PREFIXn.
    #[arg(long, default_value = "u")]
    pub prefix: String,
}

/// Rate and bounds of chat traffic.
#[derive(clap::Args, Clone, Debug)]
pub struct Traffic {
    /// Offered rate, messages per second over all senders.
    #[arg(long, default_value_t = 1000.0)]
    pub rate: f64,
    /// Measured seconds of traffic.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Stop after this many measured messages, if earlier.
    #[arg(long)]
    pub count: Option<u64>,
    /// Seconds of unmeasured traffic first.
    #[arg(long, default_value_t = 1.0)]
    pub warmup: f64,
    /// Seconds to wait for messages still in flight.
    #[arg(long, default_value_t = 5.0)]
    pub drain: f64,
    /// Filler bytes per body (the default makes ~250-byte stanzas).
    #[arg(long, default_value_t = 150)]
    pub pad: usize,
}

impl Traffic {
    pub fn plan(&self) -> Plan {
        let secs = |s: f64| std::time::Duration::from_secs_f64(s.max(0.0));
        Plan {
            warmup: secs(self.warmup),
            duration: secs(self.duration),
            count: self.count,
            drain: secs(self.drain),
            pad: self.pad,
        }
    }
}

pub async fn run(args: Args) -> Result<Value> {
    if args.clients < 2 || args.clients % 2 != 0 {
        bail!("--clients must be even and at least 2");
    }
    let target = args.common.client_target()?;
    let users: Vec<String> = (1..=args.clients)
        .map(|i| format!("{}{i}", args.prefix))
        .collect();
    let logins = users.iter().map(|u| (u.clone(), "bench".to_string()));
    let conns = fleet::login_all(&target, logins.collect(), args.common.concurrency).await?;
    let shared = Shared::new();
    let mut peers: Vec<Peer> = conns
        .into_iter()
        .enumerate()
        .map(|(i, conn)| {
            let partner = format!("{}@{}", users[i ^ 1], target.domain);
            let p = Peer::start(conn, &shared, chat::dests(vec![partner]), None);
            // Available, so messages to the bare JID are delivered now
            // rather than stored offline (RFC 6121 §8.5.2.1).
            p.queue("<presence/>");
            p
        })
        .collect();
    // Presence broadcasts settle before the clock starts.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let per = args.traffic.rate / args.clients as f64;
    let rates = vec![per; peers.len()];
    let out = chat::run(
        &shared,
        &mut peers,
        &rates,
        args.traffic.plan(),
        args.common.probe(),
    )
    .await?;
    let mut v = traffic_json(&shared, &out, &args.traffic);
    v["clients"] = json!(args.clients);
    Ok(args.common.result("relay", v))
}

/// The fields every chat workload reports.
pub fn traffic_json(shared: &Arc<Shared>, out: &chat::Outcome, t: &Traffic) -> Value {
    let c = &shared.counters;
    let lat = c.percentiles();
    let per_1000 = out
        .server_cpu_ms
        .filter(|_| out.received > 0)
        .map(|ms| r3(ms * 1000.0 / out.received as f64));
    json!({
        "offered_rate": t.rate,
        "duration_s": r3(out.window_s),
        "sent": out.sent,
        "delivered": out.received,
        "undelivered": out.sent.saturating_sub(out.received),
        "errors": Counters::get(&c.errors),
        "error_samples": c.error_samples(),
        "delivered_per_s": r3(out.received as f64 / out.window_s),
        "p50_ms": lat.map(|l| r3(l.0)),
        "p99_ms": lat.map(|l| r3(l.1)),
        "max_ms": lat.map(|l| r3(l.2)),
        "server_cpu_ms": out.server_cpu_ms.map(r3),
        "cpu_ms_per_1000": per_1000,
        "msgs_per_cpu_s": out.server_cpu_ms.filter(|&ms| ms > 0.0)
            .map(|ms| r3(out.received as f64 / (ms / 1000.0))),
        "server_cpu_pct": out.server_cpu_ms.map(|ms| r3(ms / 10.0 / out.cpu_wall_s)),
        "gen_cpu_pct": out.gen_cpu_ms.map(|ms| r3(ms / 10.0 / out.cpu_wall_s)),
    })
}
