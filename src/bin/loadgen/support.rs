//! Support chat through Switchboard's gateway: customers (local accounts
//! that are not agents) write to an entry JID; agents answer through the
//! proxy JIDs of their sessions.
//!
//! Every session is opened and assigned before the clock starts (the
//! server's routing.toml should say `assign = "direct"` and give agents
//! room, `max_live`), so what is measured is the bridge — store, rewrite,
//! relay — and not the queue.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use serde_json::{json, Value};

use super::chat::{self, Peer, Shared};
use super::conn::text;
use super::fleet::{self, Common};
use super::relay::{traffic_json, Traffic};
use switchboard::xml::escape_attr;

#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub traffic: Traffic,
    /// Agents (accounts AGENT_PREFIX1.., declared in agents.toml).
    #[arg(long, default_value_t = 10)]
    pub agents: usize,
    /// Customers (accounts CUSTOMER_PREFIX1.., not agents).
    #[arg(long, default_value_t = 200)]
    pub customers: usize,
    #[arg(long, default_value = "agent")]
    pub agent_prefix: String,
    #[arg(long, default_value = "cust")]
    pub customer_prefix: String,
    /// The entry JID customers write to, e.g. help@support.bench.test.
    #[arg(long)]
    pub entry: String,
    /// Seconds allowed for every session to be opened and assigned.
    #[arg(long, default_value_t = 60.0)]
    pub setup_timeout: f64,
}

pub async fn run(args: Args) -> Result<Value> {
    // Agents on c2s; customers over --transport (web visitors over
    // WebSocket).
    let target = args.common.target()?;
    let customer_target = args.common.client_target()?;
    let Some((_, support)) = args.entry.split_once('@') else {
        bail!("--entry must be a bare JID such as help@support.example");
    };
    let proxy_suffix = format!("@{support}");
    let shared = Shared::new();
    let n_customers = args.customers;

    let logins = (1..=args.agents)
        .map(|i| (format!("{}{i}", args.agent_prefix), "desk".to_string()))
        .collect();
    let conns = fleet::login_all(&target, logins, args.common.concurrency).await?;
    let mut agents = Vec::new();
    for conn in conns {
        let dests = chat::dests(Vec::new());
        let learned = dests.clone();
        let suffix = proxy_suffix.clone();
        // An agent learns a session's proxy JID from the first message it
        // gets from it (the customer's hello, delivered on assignment).
        let hook: chat::Hook = Arc::new(move |s| {
            let Some(from) = s.from() else { return };
            let bare = from.split('/').next().unwrap_or(from);
            if s.name() == "message" && bare.starts_with("s-") && bare.ends_with(&suffix) {
                let mut d = learned.lock().expect("dests");
                if !d.iter().any(|x| x == bare) {
                    d.push(bare.to_string());
                }
            }
        });
        let peer = Peer::start(conn, &shared, dests, Some(hook));
        peer.queue("<presence/>");
        agents.push(peer);
    }
    // The gateway sees the agents available before the first customer.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let logins = (1..=n_customers)
        .map(|i| (format!("{}{i}", args.customer_prefix), "phone".to_string()))
        .collect();
    let conns = fleet::login_all(&customer_target, logins, args.common.concurrency).await?;
    let assigned = Arc::new(AtomicUsize::new(0));
    let mut customers = Vec::new();
    for (i, conn) in conns.into_iter().enumerate() {
        let entry = args.entry.clone();
        let seen = AtomicBool::new(false);
        let assigned = assigned.clone();
        let hook: chat::Hook = Arc::new(move |s| {
            let from_entry = s
                .from()
                .is_some_and(|f| f.split('/').next() == Some(&entry));
            if from_entry
                && text(s).contains("now chatting with")
                && !seen.swap(true, Ordering::Relaxed)
            {
                assigned.fetch_add(1, Ordering::Relaxed);
            }
        });
        let dests = chat::dests(vec![args.entry.clone()]);
        let peer = Peer::start(conn, &shared, dests, Some(hook));
        peer.queue("<presence/>");
        peer.queue(format!(
            "<message to='{}' type='chat' id='hello'><body>hello {}</body></message>",
            escape_attr(&args.entry),
            i + 1
        ));
        customers.push(peer);
    }

    let deadline = Instant::now() + Duration::from_secs_f64(args.setup_timeout);
    loop {
        let known: usize = agents
            .iter()
            .map(|a| a.dests.lock().expect("dests").len())
            .sum();
        let told = assigned.load(Ordering::Relaxed);
        if known >= n_customers && told >= n_customers {
            break;
        }
        if Instant::now() > deadline {
            bail!(
                "after {}s only {told} of {n_customers} customers were assigned and agents \
                 know {known} sessions (is routing.toml `assign = \"direct\"` with enough \
                 max_live, and are the agents in agents.toml?) errors: {:?}",
                args.setup_timeout,
                shared.counters.error_samples()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Half the traffic from customers, half from agents, each agent in
    // proportion to its sessions.
    let half = args.traffic.rate / 2.0;
    let mut rates = vec![half / n_customers as f64; n_customers];
    for a in &agents {
        let mine = a.dests.lock().expect("dests").len();
        rates.push(half * mine as f64 / n_customers as f64);
    }
    let mut peers = customers;
    peers.extend(agents);
    let out = chat::run(
        &shared,
        &mut peers,
        &rates,
        args.traffic.plan(),
        args.common.probe(),
    )
    .await?;
    let mut v = traffic_json(&shared, &out, &args.traffic);
    v["agents"] = json!(args.agents);
    v["customers"] = json!(n_customers);
    Ok(args.common.result("support", v))
}
