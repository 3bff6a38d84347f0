//! The load generator behind `scripts/bench`, run briefly against a test
//! server: it logs in, its messages arrive, and it reports no errors. No
//! timing is asserted; timings belong to the benchmark, not to tests.

mod common;

use std::path::Path;
use std::process::Command;

use common::{ServerOpts, TestServer, AGENT_DOMAIN, SUPPORT_DOMAIN};
use serde_json::Value;

const PW: &str = "bench-password";

/// Runs `loadgen WORKLOAD ARGS` against `server`; returns its JSON result.
fn loadgen(server: &TestServer, workload: &str, args: &[&str]) -> Value {
    let out_file = server.path().join(format!("{workload}.json"));
    let pid = server.pid().expect("server running").to_string();
    let addr = server.c2s.to_string();
    let ca: &Path = &server.ca_file;
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["--threads", "1", workload, "--server", "switchboard"])
        .args([
            "--addr",
            &addr,
            "--domain",
            AGENT_DOMAIN,
            "--tls",
            "starttls",
        ])
        .arg("--ca")
        .arg(ca)
        .args(["--password", PW, "--pid", &pid])
        .arg("--out")
        .arg(&out_file)
        .args(args)
        .output()
        .expect("running loadgen");
    assert!(
        out.status.success(),
        "loadgen {workload} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&out_file).expect("loadgen wrote its result");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn assert_clean_delivery(v: &Value) {
    let delivered = v["delivered"].as_u64().unwrap_or(0);
    assert!(delivered > 0, "nothing delivered: {v:#}");
    assert_eq!(v["errors"].as_u64(), Some(0), "errors reported: {v:#}");
    assert_eq!(v["undelivered"].as_u64(), Some(0), "messages lost: {v:#}");
    assert!(v["p99_ms"].is_number(), "no latency: {v:#}");
    assert!(v["server_cpu_ms"].is_number(), "no server CPU: {v:#}");
}

#[test]
fn relay_between_accounts() {
    let mut opts = ServerOpts::default();
    for i in 1..=4 {
        opts = opts.account(&format!("u{i}@{AGENT_DOMAIN}"), PW);
    }
    let server = TestServer::start(opts);
    let v = loadgen(
        &server,
        "relay",
        &[
            "--clients",
            "4",
            "--rate",
            "40",
            "--duration",
            "1",
            "--warmup",
            "0.2",
        ],
    );
    assert_eq!(v["workload"], "relay");
    assert_clean_delivery(&v);
}

#[test]
fn support_chat_through_the_gateway() {
    let agents = format!(
        "[[agent]]\njid = \"agent1@{AGENT_DOMAIN}\"\nname = \"Agent 1\"\n\
         protocols = [\"xmpp\"]\nmax_live = 10\n"
    );
    let routing = format!(
        "[defaults]\nassign = \"direct\"\n\n[[queue]]\nname = \"general\"\n\
         entry = [\"help@{SUPPORT_DOMAIN}\"]\n"
    );
    let mut opts = ServerOpts::default()
        .agents_toml(&agents)
        .routing_toml(&routing)
        .account(&format!("agent1@{AGENT_DOMAIN}"), PW);
    for i in 1..=3 {
        opts = opts.account(&format!("cust{i}@{AGENT_DOMAIN}"), PW);
    }
    let server = TestServer::start(opts);
    let entry = format!("help@{SUPPORT_DOMAIN}");
    let v = loadgen(
        &server,
        "support",
        &[
            "--agents",
            "1",
            "--customers",
            "3",
            "--entry",
            &entry,
            "--rate",
            "20",
            "--duration",
            "1",
            "--warmup",
            "0.2",
        ],
    );
    assert_eq!(v["workload"], "support");
    assert_clean_delivery(&v);
}

#[test]
fn logins_and_idle_sessions() {
    let server = TestServer::start(
        ServerOpts::default()
            .account(&format!("u1@{AGENT_DOMAIN}"), PW)
            .account(&format!("u2@{AGENT_DOMAIN}"), PW),
    );
    let v = loadgen(
        &server,
        "logins",
        &["--users", "2", "--rate", "10", "--duration", "1"],
    );
    assert!(v["logins"].as_u64().unwrap_or(0) > 0, "no login: {v:#}");
    assert_eq!(v["failed"].as_u64(), Some(0), "failed logins: {v:#}");
    let v = loadgen(&server, "idle", &["--sessions", "2", "--settle", "0.2"]);
    assert!(v["rss_after_kb"].as_u64().unwrap_or(0) > 0, "no RSS: {v:#}");
    assert_eq!(v["errors"].as_u64(), Some(0), "errors: {v:#}");
}
