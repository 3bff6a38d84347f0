//! `loadgen`: the load generator behind `scripts/bench`.
//!
//! It logs clients in over c2s like any XMPP client (STARTTLS or none,
//! SCRAM-SHA-256/SHA-1 or PLAIN, resource binding), or over WebSocket
//! (RFC 7395, `--transport websocket`), and drives one workload against
//! one server, on loopback, at a fixed offered rate bounded in time
//! and count; it prints one JSON object (and writes it with `--out`).
//! `loadgen report` puts results of several servers side by side.
//!
//! Measurements: messages are counted at the receivers and carry their send
//! time, so latency is one-way on one clock; the server's CPU time and
//! memory come from /proc/<pid> (`--pid`), the generator's own CPU from
//! /proc/self, so a report shows when the generator was the limit.

mod accounts;
mod chat;
mod conn;
mod fleet;
mod probe;
mod relay;
mod report;
mod scram;
mod sessions;
mod stats;
mod support;
mod ws;

use anyhow::Result;
use clap::{Parser, Subcommand};
use fleet::Common;

#[derive(Parser)]
#[command(
    name = "loadgen",
    about = "XMPP load generator for Switchboard benchmarks"
)]
struct Cli {
    /// Worker threads (default: the CPUs this process may run on).
    #[arg(long, global = true)]
    threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Account-to-account chat in pairs.
    Relay(relay::Args),
    /// Customers to an entry JID, agents back through proxy JIDs.
    Support(support::Args),
    /// Logins per second.
    Logins(sessions::LoginArgs),
    /// Memory per idle session.
    Idle(sessions::IdleArgs),
    /// Create bench accounts for Switchboard and/or Prosody.
    Accounts(accounts::Args),
    /// Print results side by side with ratios.
    Report(report::Args),
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = cli.threads {
        rt.worker_threads(n.max(1));
    }
    let rt = rt.enable_all().build()?;
    rt.block_on(async move {
        let (common, result): (Common, Result<serde_json::Value>) = match cli.command {
            Command::Relay(a) => (a.common.clone(), relay::run(a).await),
            Command::Support(a) => (a.common.clone(), support::run(a).await),
            Command::Logins(a) => (a.common.clone(), sessions::logins(a).await),
            Command::Idle(a) => (a.common.clone(), sessions::idle(a).await),
            Command::Accounts(a) => return accounts::run(a).await,
            Command::Report(a) => return report::run(a),
        };
        let result = result?;
        let text = serde_json::to_string_pretty(&result)?;
        println!("{text}");
        if let Some(path) = &common.out {
            std::fs::write(path, text + "\n")?;
        }
        Ok::<(), anyhow::Error>(())
    })
}
