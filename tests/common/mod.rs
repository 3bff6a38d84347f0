//! Shared harness of the integration tests: `mod common;` in a test file.
//!
//! - [`TestServer`]: a real `switchboard serve` in a temp dir (config, dev
//!   certificates, accounts), on ports it picks itself and reports.
//! - [`Client`]: a real third-party XMPP client (slixmpp, driven by
//!   `tests/clients/xmppc.py` over JSON lines; protocol in
//!   `tests/clients/README.md`).
//! - [`RawConn`]: plain TCP for bad-input tests.
//! - [`Proxy`]: a TCP relay that can go silent, for timeout tests.
//! - [`Prosody`]: a real Prosody (`tests/peers/prosody.py`) as a peer server.
//! - [`Ejabberd`]: a real ejabberd (`tests/peers/ejabberd.py`) as a peer server.
//! - [`Browser`]: a real headless Chromium driven by Playwright
//!   (`tests/web/lib/browser.mjs`), for converse.js and the chat page.
//! - [`Profanity`]: a real terminal client in a tmux of its own, read off
//!   its screen.
//!
//! `scripts/test` prepares the machine (Prosody, ejabberd, the Python venv)
//! and builds the release binary these tests run. Everything here panics with a helpful
//! message instead of returning errors: it is test code.
#![allow(dead_code)]

mod agent;
mod browser;
mod client;
mod dns;
mod ejabberd;
mod peers;
mod postgres;
mod profanity;
mod proxy;
mod raw;
mod server;

// Each test file uses only part of the harness.
#[allow(unused_imports)]
pub use agent::{line_with, new_session, rich_agent};
#[allow(unused_imports)]
pub use browser::{artifacts, Browser};
#[allow(unused_imports)]
pub use client::{cmd, Client, ClientOpts, Tls};
#[allow(unused_imports)]
pub use dns::{free_udp_port, Dnsmasq};
#[allow(unused_imports)]
pub use ejabberd::{Ejabberd, EjabberdOpts};
#[allow(unused_imports)]
pub use peers::{Endpoint, Prosody, ProsodyOpts};
#[allow(unused_imports)]
pub use postgres::PrivatePostgres;
#[allow(unused_imports)]
pub use profanity::Profanity;
#[allow(unused_imports)]
pub use proxy::Proxy;
#[allow(unused_imports)]
pub use raw::RawConn;
#[allow(unused_imports)]
pub use server::{ServerOpts, TestServer};

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub const SUPPORT_DOMAIN: &str = "support.test";
pub const AGENT_DOMAIN: &str = "agents.support.test";
/// How long `expect`-style helpers wait by default.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// How long a server or a client gets to come up.
pub const START_TIMEOUT: Duration = Duration::from_secs(20);

// ------------------------------------------------------------------ paths

pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The switchboard binary: `$SWITCHBOARD_BIN`, else the release build, else
/// the debug build.
pub fn bin() -> PathBuf {
    if let Some(path) = std::env::var_os("SWITCHBOARD_BIN") {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "SWITCHBOARD_BIN={} does not exist",
            path.display()
        );
        return path;
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest_dir().join("target"));
    for profile in ["release", "debug"] {
        let path = target.join(profile).join("switchboard");
        if path.is_file() {
            return path;
        }
    }
    panic!(
        "no switchboard binary in {}/{{release,debug}}: run `cargo build --release --bins` \
         (scripts/test does) or set SWITCHBOARD_BIN",
        target.display()
    );
}

/// The Python that has slixmpp: `$SWITCHBOARD_PYTHON`, else `tests/.venv`.
pub fn python() -> PathBuf {
    if let Some(path) = std::env::var_os("SWITCHBOARD_PYTHON") {
        return PathBuf::from(path);
    }
    let venv = manifest_dir().join("tests/.venv/bin/python");
    assert!(
        venv.is_file(),
        "no Python venv at {}: run `scripts/test --setup-only` (or set SWITCHBOARD_PYTHON)",
        venv.display()
    );
    venv
}

/// The PostgreSQL server the tests use: `$SWITCHBOARD_TEST_POSTGRES`
/// (scripts/test sets it), else the machine's own on 127.0.0.1:5432.
pub fn postgres_url() -> String {
    std::env::var("SWITCHBOARD_TEST_POSTGRES")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// The store a [`TestServer`] runs on: a file in its temp dir, or a fresh
/// database of its own on the PostgreSQL of [`postgres_url`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Db {
    #[default]
    Sqlite,
    Postgres,
}

/// Runs each named test body (an `async fn NAME(db: Db)`) once per store,
/// as `sqlite::NAME` and `postgres::NAME`: the same scenario must hold on
/// both.
#[allow(unused_macros)]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(crate::common::Db::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(crate::common::Db::Postgres).await
                }
            )*
        }
    };
}
#[allow(unused_imports)]
pub(crate) use on_both_stores;

/// A new, empty PostgreSQL database with a random name, dropped (with any
/// connections still open to it) when this is dropped. Uses `psql`.
pub struct PgDatabase {
    pub url: String,
    name: String,
    admin: String,
}

impl PgDatabase {
    pub fn create() -> PgDatabase {
        let base = postgres_url();
        let name = format!("sbtest_{:016x}", rand::random::<u64>());
        let admin = replace_db_name(&base, "postgres");
        let db = PgDatabase {
            url: replace_db_name(&base, &name),
            name,
            admin,
        };
        db.psql(&format!("CREATE DATABASE {}", db.name));
        db
    }

    /// Runs one statement on the database itself; returns its output
    /// (unaligned, tuples only).
    pub fn query(&self, sql: &str) -> String {
        run_psql(&self.url, sql)
    }

    fn psql(&self, sql: &str) -> String {
        run_psql(&self.admin, sql)
    }
}

fn run_psql(url: &str, sql: &str) -> String {
    let mut psql = Command::new("psql");
    psql.args([url, "-v", "ON_ERROR_STOP=1", "-qtAc", sql]);
    stdout_of(psql, &format!("psql {sql}"))
}

/// Runs `cmd` to its end and returns its trimmed stdout, panicking with
/// its stderr if it fails.
pub fn stdout_of(mut cmd: Command, what: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if std::thread::panicking() && std::env::var_os("SWITCHBOARD_TEST_KEEP").is_some() {
            eprintln!("kept PostgreSQL database {}", self.url);
            return;
        }
        let _ = Command::new("psql")
            .args([
                self.admin.as_str(),
                "-qc",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .output();
    }
}

fn replace_db_name(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].rfind('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    format!("{base}/{db}{query}")
}

fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Send SIGTERM (no libc here: the shell's `kill` builtin, which a minimal
/// machine without procps still has).
fn sigterm(pid: u32) {
    let _ = Command::new("sh")
        .arg("-c")
        .arg(format!("kill -TERM {pid}"))
        .stderr(Stdio::null())
        .status();
}

fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Parse `ready name=value name=value...` into its fields.
fn parse_ready(line: &str) -> Option<HashMap<String, String>> {
    let rest = line.trim().strip_prefix("ready")?;
    if !(rest.is_empty() || rest.starts_with(' ')) {
        return None;
    }
    Some(
        rest.split_whitespace()
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

fn addrs_of(fields: &HashMap<String, String>) -> HashMap<String, SocketAddr> {
    fields
        .iter()
        .filter_map(|(k, v)| v.parse().ok().map(|a| (k.clone(), a)))
        .collect()
}

/// Loopback addresses of their own for one federation test: `n` addresses
/// in a /24 no other test of this process uses (the second octet follows
/// the process id, so parallel runs rarely meet), each with port 5269 free,
/// where peers find each other by the default s2s port.
pub fn loopback_ips(n: usize) -> Vec<String> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(1);
    let second = 100 + std::process::id() % 100;
    loop {
        let third = NEXT.fetch_add(1, Ordering::Relaxed);
        assert!(third < 255, "out of loopback addresses");
        let ips: Vec<String> = (0..n)
            .map(|i| format!("127.{second}.{third}.{}", 21 + i))
            .collect();
        let free = ips
            .iter()
            .all(|ip| std::net::TcpListener::bind((ip.as_str(), 5269)).is_ok());
        if free {
            return ips;
        }
    }
}
