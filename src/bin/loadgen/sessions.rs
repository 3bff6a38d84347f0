//! Workloads about sessions rather than messages: a login storm (logins per
//! second at a fixed offered rate) and idle sessions (memory per session).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::chat::{self, Peer, Shared};
use super::conn;
use super::fleet::{self, Common};
use super::probe::{delta, Probe};
use super::stats::{percentiles, r3, Counters};

#[derive(clap::Args, Clone, Debug)]
pub struct LoginArgs {
    #[command(flatten)]
    pub common: Common,
    /// Accounts PREFIX1..PREFIXn log in in turn, each with a new resource.
    #[arg(long, default_value_t = 100)]
    pub users: usize,
    #[arg(long, default_value = "u")]
    pub prefix: String,
    /// Offered logins per second.
    #[arg(long, default_value_t = 500.0)]
    pub rate: f64,
    /// Seconds of offered logins.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Stop after this many logins, if earlier.
    #[arg(long)]
    pub count: Option<u64>,
    /// Logins in flight at most; beyond it the offered rate is not met.
    #[arg(long, default_value_t = 256)]
    pub max_in_flight: usize,
}

/// A login is TCP + STARTTLS + SASL + bind (over WebSocket: TCP + the
/// HTTP upgrade + SASL + bind); then the client closes its stream at once.
pub async fn logins(args: LoginArgs) -> Result<Value> {
    let target = args.common.client_target()?;
    let (server, gen) = (args.common.probe(), Probe::me());
    let ok = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(Counters::default());
    let latencies = Arc::new(Mutex::new(Vec::<u32>::new()));
    let gate = Arc::new(Semaphore::new(args.max_in_flight.max(1)));
    let mut set = JoinSet::new();
    let (server0, gen0) = (server.cpu_ms()?, gen.cpu_ms()?);
    let start = Instant::now();
    let stop_at = start + Duration::from_secs_f64(args.duration);
    let last_done = Arc::new(Mutex::new(start));
    let mut started = 0u64;
    let mut ticker = tokio::time::interval(Duration::from_millis(2));
    while Instant::now() < stop_at && args.count.is_none_or(|c| started < c) {
        ticker.tick().await;
        let mut due = (start.elapsed().as_secs_f64() * args.rate) as u64;
        if let Some(c) = args.count {
            due = due.min(c);
        }
        // A server slower than the offered rate holds permits; the offer
        // still ends at stop_at rather than when the backlog is served.
        while started < due && Instant::now() < stop_at {
            let permit = gate.clone().acquire_owned().await?;
            let user = format!(
                "{}{}",
                args.prefix,
                started as usize % args.users.max(1) + 1
            );
            let resource = format!("storm{started}");
            started += 1;
            let (target, ok, failures, latencies, last_done) = (
                target.clone(),
                ok.clone(),
                failures.clone(),
                latencies.clone(),
                last_done.clone(),
            );
            set.spawn(async move {
                let t = Instant::now();
                match conn::login(&target, &user, &resource).await {
                    Ok(mut c) => {
                        let us = t.elapsed().as_micros().min(u32::MAX as u128) as u32;
                        latencies.lock().expect("latencies").push(us);
                        ok.fetch_add(1, Ordering::Relaxed);
                        *last_done.lock().expect("last") = Instant::now();
                        let _ = c.io.write_all(b"</stream:stream>").await;
                        let _ = c.io.shutdown().await;
                    }
                    Err(e) => failures.error(format!("{e:#}")),
                }
                drop(permit);
            });
            // Reap finished tasks as we go, so the set stays small.
            while set.try_join_next().is_some() {}
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(60), async {
        while set.join_next().await.is_some() {}
    })
    .await;
    let (server1, gen1) = (server.cpu_ms()?, gen.cpu_ms()?);
    let wall = start.elapsed().as_secs_f64();
    let done = ok.load(Ordering::Relaxed);
    let window = last_done
        .lock()
        .expect("last")
        .duration_since(start)
        .as_secs_f64()
        .max(1e-3);
    let lat = percentiles(&mut latencies.lock().expect("latencies"));
    let server_ms = delta(server0, server1);
    let v = json!({
        "offered_rate": args.rate,
        "started": started,
        "logins": done,
        "failed": Counters::get(&failures.errors),
        "error_samples": failures.error_samples(),
        "duration_s": r3(window),
        "logins_per_s": r3(done as f64 / window),
        "p50_ms": lat.map(|l| r3(l.0)),
        "p99_ms": lat.map(|l| r3(l.1)),
        "max_ms": lat.map(|l| r3(l.2)),
        "server_cpu_ms": server_ms.map(r3),
        "cpu_ms_per_login": server_ms.filter(|_| done > 0).map(|ms| r3(ms / done as f64)),
        "server_cpu_pct": server_ms.map(|ms| r3(ms / 10.0 / wall)),
        "gen_cpu_pct": delta(gen0, gen1).map(|ms| r3(ms / 10.0 / wall)),
        "max_in_flight": args.max_in_flight,
    });
    Ok(args.common.result("logins", v))
}

#[derive(clap::Args, Clone, Debug)]
pub struct IdleArgs {
    #[command(flatten)]
    pub common: Common,
    /// Sessions to open (accounts PREFIX1..PREFIXn).
    #[arg(long, default_value_t = 1000)]
    pub sessions: usize,
    #[arg(long, default_value = "u")]
    pub prefix: String,
    /// Seconds to let the server settle before reading its memory, at
    /// least; then until it is idle and its memory steady (see `steady_rss`).
    #[arg(long, default_value_t = 2.0)]
    pub settle: f64,
    /// Seconds to wait for a steady state at most.
    #[arg(long, default_value_t = 30.0)]
    pub settle_max: f64,
}

/// The server's RSS once it is idle and its memory has stopped moving: the
/// last presences of a burst of logins are still being processed, and an
/// allocator (mimalloc's collections, Lua's GC) returns the burst's garbage
/// to the system some time after, so a reading taken at a fixed moment
/// measures the burst, not the idle sessions. Steady means: under 2% of a
/// core and RSS within 1% over a whole second, twice in a row.
async fn steady_rss(server: &Probe, min: f64, max: f64) -> Result<Option<u64>> {
    tokio::time::sleep(Duration::from_secs_f64(min)).await;
    let deadline = Instant::now() + Duration::from_secs_f64((max - min).max(0.0));
    let mut calm = 0;
    let mut cpu = server.cpu_ms()?;
    let mut rss = server.rss_kb()?;
    // No PID, nothing to watch.
    let watched = cpu.is_some() || rss.is_some();
    while watched && calm < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (cpu1, rss1) = (server.cpu_ms()?, server.rss_kb()?);
        let idle = delta(cpu, cpu1).is_none_or(|ms| ms <= 20.0);
        let steady = match (rss, rss1) {
            (Some(a), Some(b)) => a.abs_diff(b) * 100 <= a,
            _ => true,
        };
        calm = if idle && steady { calm + 1 } else { 0 };
        (cpu, rss) = (cpu1, rss1);
    }
    Ok(rss)
}

/// N authenticated, available, silent clients: the server's memory grows
/// by this much per session.
pub async fn idle(args: IdleArgs) -> Result<Value> {
    let target = args.common.client_target()?;
    let server = args.common.probe();
    let rss0 = server.rss_kb()?;
    let t = Instant::now();
    let logins = (1..=args.sessions)
        .map(|i| (format!("{}{i}", args.prefix), "idle".to_string()))
        .collect();
    let conns = fleet::login_all(&target, logins, args.common.concurrency).await?;
    let ramp = t.elapsed().as_secs_f64();
    let shared = Shared::new();
    let mut peers: Vec<Peer> = conns
        .into_iter()
        .map(|c| {
            let p = Peer::start(c, &shared, chat::dests(Vec::new()), None);
            p.queue("<presence/>");
            p
        })
        .collect();
    let rss1 = steady_rss(&server, args.settle, args.settle_max).await?;
    let errors = Counters::get(&shared.counters.errors);
    let samples = shared.counters.error_samples();
    shared.cancel.cancel();
    for p in &mut peers {
        p.join().await;
    }
    let per = match (rss0, rss1) {
        (Some(a), Some(b)) if args.sessions > 0 => {
            Some(r3((b as f64 - a as f64) / args.sessions as f64))
        }
        _ => None,
    };
    let v = json!({
        "sessions": args.sessions,
        "rss_before_kb": rss0,
        "rss_after_kb": rss1,
        "rss_per_session_kb": per,
        "ramp_logins_per_s": r3(args.sessions as f64 / ramp.max(1e-3)),
        "errors": errors,
        "error_samples": samples,
    });
    Ok(args.common.result("idle", v))
}
