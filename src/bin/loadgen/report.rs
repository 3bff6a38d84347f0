//! Results side by side: one table per run label, a column per server, and
//! the ratio of the first server to the second (Switchboard / Prosody).

use std::path::PathBuf;

use anyhow::{Context, Result};
use serde_json::{json, Value};

#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    /// Result files written by the workloads (--out).
    pub files: Vec<PathBuf>,
    /// Write everything, with the ratios, to this JSON file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// A line printed above the table (machine, pinning...).
    #[arg(long)]
    pub note: Vec<String>,
    /// Column order (repeatable); servers not named follow in the order
    /// met. The ratio is the first column over the second.
    #[arg(long = "server")]
    pub servers: Vec<String>,
}

/// (label, result field, whether a ratio means anything).
type Row = (&'static str, &'static str, bool);

fn rows(workload: &str) -> &'static [Row] {
    match workload {
        "relay" | "support" => &[
            ("offered msg/s", "offered_rate", false),
            ("delivered msg/s", "delivered_per_s", true),
            ("latency p50 ms", "p50_ms", true),
            ("latency p99 ms", "p99_ms", true),
            ("server CPU-ms / 1000 msgs", "cpu_ms_per_1000", true),
            ("msgs per server CPU-second", "msgs_per_cpu_s", true),
            ("server CPU %", "server_cpu_pct", false),
            ("generator CPU %", "gen_cpu_pct", false),
            ("undelivered after drain", "undelivered", false),
            ("errors", "errors", false),
        ],
        "logins" => &[
            ("offered logins/s", "offered_rate", false),
            ("logins/s", "logins_per_s", true),
            ("login p50 ms", "p50_ms", true),
            ("login p99 ms", "p99_ms", true),
            ("server CPU-ms / login", "cpu_ms_per_login", true),
            ("server CPU %", "server_cpu_pct", false),
            ("generator CPU %", "gen_cpu_pct", false),
            ("failed", "failed", false),
        ],
        "idle" => &[
            ("idle sessions", "sessions", false),
            ("RSS KB / idle session", "rss_per_session_kb", true),
            ("RSS KB before", "rss_before_kb", false),
            ("RSS KB after", "rss_after_kb", false),
            ("errors", "errors", false),
        ],
        _ => &[],
    }
}

fn fmt(v: Option<&Value>) -> String {
    match v.and_then(Value::as_f64) {
        None => "-".into(),
        Some(x) if x.abs() >= 1000.0 || x == x.trunc() => format!("{x:.0}"),
        Some(x) if x.abs() >= 10.0 => format!("{x:.1}"),
        Some(x) => format!("{x:.2}"),
    }
}

pub fn run(args: Args) -> Result<()> {
    let mut results = Vec::new();
    for f in &args.files {
        let text =
            std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
        let v: Value =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", f.display()))?;
        results.push(v);
    }
    let field = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let mut servers: Vec<String> = args.servers.clone();
    let mut labels: Vec<(String, String)> = Vec::new();
    for r in &results {
        let s = field(r, "server");
        if !servers.contains(&s) {
            servers.push(s);
        }
        let l = (field(r, "label"), field(r, "workload"));
        if !labels.contains(&l) {
            labels.push(l);
        }
    }
    let ratio_name = match servers.as_slice() {
        [a, b] => format!("{a}/{b}"),
        _ => String::new(),
    };
    for n in &args.note {
        println!("{n}");
    }
    let mut header = format!("{:<28} {:<28}", "workload", "metric");
    for s in &servers {
        header += &format!(" {s:>12}");
    }
    header += &format!(" {ratio_name:>20}");
    println!("{header}");
    println!("{}", "-".repeat(header.len()));
    let mut ratios = Vec::new();
    for (label, workload) in &labels {
        let of = |s: &str| {
            results
                .iter()
                .find(|r| field(r, "label") == *label && field(r, "server") == s)
        };
        for (i, (name, key, ratio_ok)) in rows(workload).iter().enumerate() {
            let values: Vec<Option<&Value>> = servers.iter().map(|s| of(s)?.get(*key)).collect();
            if values.iter().all(|v| v.is_none_or(Value::is_null)) {
                continue;
            }
            let first = if i == 0 { label.as_str() } else { "" };
            let mut line = format!("{first:<28} {name:<28}");
            for v in &values {
                line += &format!(" {:>12}", fmt(*v));
            }
            let ratio = match values.as_slice() {
                [Some(a), Some(b)] if *ratio_ok => match (a.as_f64(), b.as_f64()) {
                    (Some(a), Some(b)) if b != 0.0 => Some(a / b),
                    _ => None,
                },
                _ => None,
            };
            if let Some(r) = ratio {
                line += &format!(" {:>20}", format!("{r:.2}"));
                let mut entry = json!({
                    "label": label, "metric": name, "field": key,
                    "ratio": (r * 1000.0).round() / 1000.0,
                });
                for (s, v) in servers.iter().zip(&values) {
                    entry[s.as_str()] = v.cloned().unwrap_or(Value::Null);
                }
                ratios.push(entry);
            }
            println!("{line}");
        }
        println!();
    }
    if let Some(path) = &args.json {
        let out = json!({
            "notes": args.note,
            "servers": servers,
            "ratio": ratio_name,
            "ratios": ratios,
            "results": results,
        });
        std::fs::write(path, serde_json::to_string_pretty(&out)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
