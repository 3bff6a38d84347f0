//! The routing decision (`gateway::assign::choose`) with 10,000 waiting
//! customers and 500 agents.
//!
//! `cargo bench --bench routing`. Each iteration decides for the next
//! waiting customer (their own skills, sticky agent, lapsed offers), so the
//! mean covers the mix; `drain` assigns the whole queue with agents' loads
//! updated after each decision. The per-decision p50/p99 over one pass of
//! the queue is printed first, because the target is a tail latency and
//! criterion reports means.

use std::collections::BTreeSet;
use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use switchboard::gateway::assign::{choose, AgentView, Availability, Mode, Need, Strategy};

const AGENTS: usize = 500;
const WAITING: usize = 10_000;
const SKILLS: [&str; 8] = [
    "billing",
    "technical",
    "sales",
    "en",
    "fr",
    "de",
    "vip",
    "returns",
];
const PROTOCOLS: [&str; 4] = ["xmpp", "web", "sms", "irc"];

struct Agent {
    jid: String,
    tier: u8,
    skills: BTreeSet<String>,
    protocols: BTreeSet<String>,
    availability: Availability,
    live: u32,
    async_: u32,
    idle: i64,
}

struct Waiting {
    skills: BTreeSet<String>,
    protocol: &'static str,
    mode: Mode,
    exclude: Vec<String>,
    sticky: Option<String>,
}

fn set(rng: &mut StdRng, from: &[&str], n: usize) -> BTreeSet<String> {
    (0..n)
        .map(|_| from[rng.gen_range(0..from.len())].to_string())
        .collect()
}

fn world() -> (Vec<Agent>, Vec<Waiting>) {
    let mut rng = StdRng::seed_from_u64(6);
    let agents: Vec<Agent> = (0..AGENTS)
        .map(|i| Agent {
            jid: format!("agent{i}@agents.support.example"),
            tier: if i % 10 == 0 { 2 } else { 1 },
            skills: set(&mut rng, &SKILLS, 4),
            protocols: set(&mut rng, &PROTOCOLS, 3),
            availability: match rng.gen_range(0..10) {
                0 => Availability::Off,
                1 | 2 => Availability::AsyncOnly,
                _ => Availability::Live,
            },
            live: rng.gen_range(0..3),
            async_: rng.gen_range(0..10),
            idle: rng.gen_range(0..1_000_000),
        })
        .collect();
    let waiting = (0..WAITING)
        .map(|i| Waiting {
            skills: {
                let n = rng.gen_range(0..3);
                set(&mut rng, &SKILLS, n)
            },
            protocol: PROTOCOLS[rng.gen_range(0..PROTOCOLS.len())],
            mode: if i % 4 == 0 { Mode::Async } else { Mode::Live },
            exclude: (0..rng.gen_range(0..3))
                .map(|_| agents[rng.gen_range(0..AGENTS)].jid.clone())
                .collect(),
            sticky: (i % 3 == 0).then(|| agents[rng.gen_range(0..AGENTS)].jid.clone()),
        })
        .collect();
    (agents, waiting)
}

fn views(agents: &[Agent]) -> Vec<AgentView<'_>> {
    agents
        .iter()
        .map(|a| AgentView {
            jid: &a.jid,
            tier: a.tier,
            skills: &a.skills,
            protocols: &a.protocols,
            categories: &EMPTY,
            // Known for some agents, unknown (able) for the others.
            features: (a.idle % 2 == 0).then_some(&CLIENT_FEATURES),
            max_live: 3,
            max_async: 20,
            availability: a.availability,
            live: a.live,
            async_: a.async_,
            idle_since_ms: a.idle,
        })
        .collect()
}

static EMPTY: BTreeSet<String> = BTreeSet::new();
static CLIENT_FEATURES: BTreeSet<String> = BTreeSet::new();

fn need(w: &Waiting) -> Need<'_> {
    Need {
        skills: &w.skills,
        extra_skills: &EMPTY,
        tier: None,
        only: None,
        protocol: Some(w.protocol),
        features: &EMPTY,
        categories: &EMPTY,
        mode: w.mode,
        exclude: &w.exclude,
        sticky: w.sticky.as_deref(),
    }
}

/// Assigns every waiting customer in turn, as the gateway does when agents
/// free up; returns each decision's time in nanoseconds.
fn drain(agents: &mut [Agent], waiting: &[Waiting], strategy: Strategy) -> Vec<u64> {
    let mut cursor = 0;
    let mut times = Vec::with_capacity(waiting.len());
    for w in waiting {
        let t = Instant::now();
        let pick = {
            let v = views(agents);
            choose(&v, &need(w), strategy, &mut cursor)
        };
        times.push(t.elapsed().as_nanos() as u64);
        if let Some(i) = pick {
            match w.mode {
                Mode::Live => agents[i].live += 1,
                Mode::Async => agents[i].async_ += 1,
            }
        }
    }
    times
}

fn tail_report() {
    for strategy in [
        Strategy::LongestIdle,
        Strategy::LeastBusy,
        Strategy::RoundRobin,
    ] {
        let (mut agents, waiting) = world();
        let mut t = drain(&mut agents, &waiting, strategy);
        t.sort_unstable();
        let at = |p: f64| t[((t.len() - 1) as f64 * p) as usize] as f64 / 1000.0;
        println!(
            "routing decision, {AGENTS} agents, {WAITING} waiting, {strategy:?}: \
             p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs (views rebuilt per decision)",
            at(0.5),
            at(0.99),
            at(1.0)
        );
    }
}

fn bench(c: &mut Criterion) {
    tail_report();
    let (agents, waiting) = world();
    let v = views(&agents);
    for (name, strategy) in [
        ("longest-idle", Strategy::LongestIdle),
        ("least-busy", Strategy::LeastBusy),
        ("round-robin", Strategy::RoundRobin),
    ] {
        let mut next = 0usize;
        let mut cursor = 0usize;
        c.bench_function(&format!("choose/500 agents/{name}"), |b| {
            b.iter(|| {
                let w = &waiting[next % WAITING];
                next += 1;
                black_box(choose(&v, &need(w), strategy, &mut cursor))
            })
        });
    }
    let mut g = c.benchmark_group("drain");
    g.sample_size(10);
    g.bench_function("10000 waiting/500 agents/least-busy", |b| {
        b.iter_batched(
            world,
            |(mut agents, waiting)| drain(&mut agents, &waiting, Strategy::LeastBusy),
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
