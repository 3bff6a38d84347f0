//! `[limits]`: sizes, queues, and what keeps one address, account or
//! stream from taking the server from the others (see [`crate::limit`]).
//! The defaults are meant for a real deployment: an office of agents
//! behind one NAT address, customers' servers with a few links each, web
//! visitors through `[http]`'s own per-address cap.

use std::time::Duration;

use serde::Deserialize;
use serde_spanned::Spanned;

use super::problem::{LineIndex, Problem};
use crate::limit::{DoorLimits, LoginLimits};

/// `[limits]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawLimits {
    pub max_stanza_bytes: Spanned<usize>,
    pub max_offline_messages: i64,
    pub session_queue: usize,
    pub max_unacked: usize,
    pub connections_per_address: usize,
    pub new_connections_per_second: u64,
    pub new_connections_burst: u64,
    pub preauth_bytes: Spanned<usize>,
    pub login_failures_per_address: u32,
    pub login_failures_per_account: u32,
    pub login_wait_secs: Spanned<u64>,
    pub login_max_wait_secs: Spanned<u64>,
    pub c2s_bytes_per_second: u64,
    pub c2s_burst_bytes: u64,
    pub s2s_bytes_per_second: u64,
    pub s2s_burst_bytes: u64,
    pub sessions_per_account: Spanned<usize>,
    pub roster_items: Spanned<usize>,
    pub send_timeout_secs: Spanned<u64>,
}

impl Default for RawLimits {
    fn default() -> Self {
        RawLimits {
            max_stanza_bytes: Spanned::new(0..0, 262_144),
            max_offline_messages: 1000,
            session_queue: 1024,
            max_unacked: 10_000,
            connections_per_address: 256,
            new_connections_per_second: 20,
            new_connections_burst: 100,
            preauth_bytes: Spanned::new(0..0, 65_536),
            login_failures_per_address: 5,
            login_failures_per_account: 10,
            login_wait_secs: Spanned::new(0..0, 2),
            login_max_wait_secs: Spanned::new(0..0, 300),
            c2s_bytes_per_second: 100_000,
            c2s_burst_bytes: 1_000_000,
            s2s_bytes_per_second: 2_000_000,
            s2s_burst_bytes: 10_000_000,
            sessions_per_account: Spanned::new(0..0, 10),
            roster_items: Spanned::new(0..0, 1000),
            send_timeout_secs: Spanned::new(0..0, 15),
        }
    }
}

/// The validated `[limits]`.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_stanza_bytes: usize,
    pub max_offline_messages: i64,
    pub session_queue: usize,
    pub max_unacked: usize,
    pub door: DoorLimits,
    /// Bytes a client, peer server or component may send before it is
    /// authenticated (and, for clients, bound).
    pub preauth_bytes: usize,
    pub logins: LoginLimits,
    /// A client stream's bytes per second and burst; rate 0: unshaped.
    pub c2s_rate: (u64, u64),
    /// The same for an s2s link or a component, which carry many users.
    pub s2s_rate: (u64, u64),
    pub sessions_per_account: usize,
    pub roster_items: usize,
    /// How long a client may take nothing of what is written to it.
    pub send_timeout: Duration,
}

pub(super) fn limits(lines: &LineIndex, raw: &RawLimits, problems: &mut Vec<Problem>) -> Limits {
    let max_stanza = *raw.max_stanza_bytes.get_ref();
    if !(10_000..=16 * 1024 * 1024).contains(&max_stanza) {
        problems.push(lines.problem(
            &raw.max_stanza_bytes,
            "max_stanza_bytes must be between 10000 and 16777216 (RFC 6120 §13.12 asks for at least 10000)",
        ));
    }
    let preauth = *raw.preauth_bytes.get_ref();
    if preauth < 4096 {
        problems.push(lines.problem(
            &raw.preauth_bytes,
            "preauth_bytes must be at least 4096: a TLS negotiation and a SASL exchange need that much",
        ));
    }
    let (wait, max_wait) = (
        *raw.login_wait_secs.get_ref(),
        *raw.login_max_wait_secs.get_ref(),
    );
    if wait == 0 {
        problems.push(lines.problem(&raw.login_wait_secs, "login_wait_secs must be at least 1"));
    }
    if max_wait < wait {
        problems.push(lines.problem(
            &raw.login_max_wait_secs,
            "login_max_wait_secs must not be less than login_wait_secs",
        ));
    }
    at_least_one(
        lines,
        &raw.sessions_per_account,
        "sessions_per_account",
        problems,
    );
    at_least_one(lines, &raw.roster_items, "roster_items", problems);
    at_least_one(lines, &raw.send_timeout_secs, "send_timeout_secs", problems);
    let send_timeout = *raw.send_timeout_secs.get_ref();
    Limits {
        max_stanza_bytes: max_stanza,
        max_offline_messages: raw.max_offline_messages,
        session_queue: raw.session_queue.max(16),
        max_unacked: raw.max_unacked.max(16),
        door: DoorLimits {
            open: raw.connections_per_address,
            rate: raw.new_connections_per_second,
            burst: raw.new_connections_burst,
        },
        preauth_bytes: preauth,
        logins: LoginLimits {
            per_address: raw.login_failures_per_address,
            per_account: raw.login_failures_per_account,
            wait: Duration::from_secs(wait.max(1)),
            max_wait: Duration::from_secs(max_wait.max(wait).max(1)),
        },
        c2s_rate: (raw.c2s_bytes_per_second, raw.c2s_burst_bytes),
        s2s_rate: (raw.s2s_bytes_per_second, raw.s2s_burst_bytes),
        sessions_per_account: (*raw.sessions_per_account.get_ref()).max(1),
        roster_items: (*raw.roster_items.get_ref()).max(1),
        send_timeout: Duration::from_secs(send_timeout.max(1)),
    }
}

fn at_least_one<T: Copy + PartialEq + Default>(
    lines: &LineIndex,
    value: &Spanned<T>,
    name: &str,
    problems: &mut Vec<Problem>,
) {
    if *value.get_ref() == T::default() {
        problems.push(lines.problem(value, &format!("{name} must be at least 1")));
    }
}
