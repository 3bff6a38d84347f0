//! The bridge's durable write: `TranscriptWriter::append` on a SQLite
//! file, as the journal calls it, with many sessions writing at once (each
//! row lands in its own session's part of the index).
//!
//! `cargo bench --bench transcript [-- SESSIONS BATCH ROWS [MARK]]` prints
//! rows per second and the process's CPU time per row (the SQLite worker
//! thread's included), for a before/after of a storage change. With MARK 1
//! the rows are stored undelivered and each batch's commit marks the
//! previous batch delivered, as the journal does with its relays' delivery
//! notices. No server, no network: the numbers move only with the store.

use std::time::Instant;

use switchboard::store::{Direction, NewMessage, NewSession, SessionState, Store};

fn cpu_seconds() -> f64 {
    // utime + stime of the whole process, in clock ticks (100 Hz on Linux).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sessions = args.first().copied().unwrap_or(2000);
    let batch = args.get(1).copied().unwrap_or(32);
    let rows = args.get(2).copied().unwrap_or(200_000);
    let mark = args.get(3).copied().unwrap_or(0) == 1;

    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let store = Store::connect(&url).await.expect("store");
    let now = 1_800_000_000_000;
    let mut ids = Vec::new();
    for i in 0..sessions {
        let jid = format!("customer{i}@customers.example");
        let customer = store
            .customer_upsert(&jid, now, &format!("c-{i}"))
            .await
            .expect("customer");
        let id = format!("s-{i:07}");
        store
            .session_create(
                &NewSession {
                    id: &id,
                    customer_id: &customer.id,
                    entry_jid: "help@support.example",
                    queue: "general",
                    state: SessionState::Live,
                    agent: Some("agent1@agents.example"),
                    priority: 0,
                    context: None,
                },
                now,
            )
            .await
            .expect("session");
        ids.push((id, jid));
    }
    let row = |n: usize| {
        let (id, jid) = &ids[n % sessions];
        let body = format!("bench {n} the quick brown fox jumps over the lazy dog");
        NewMessage {
            session_id: id.clone(),
            direction: Direction::In,
            sender: format!("{jid}/phone"),
            stanza: format!(
                "<message xmlns='jabber:client' to='help@support.example' type='chat' \
                 id='m{n}' from='{jid}/phone'><body>{body}</body></message>"
            ),
            body: Some(body),
            created_at: now + n as i64,
            delivered: !mark,
        }
    };
    let mut writer = store.transcript_writer();
    // Warm up: the index gets its pages before the clock starts.
    let warm: Vec<NewMessage> = (0..sessions * 4).map(row).collect();
    for chunk in warm.chunks(batch) {
        writer.append(chunk).await.expect("append");
    }
    let all: Vec<NewMessage> = (0..rows).map(|n| row(n + sessions * 4)).collect();
    let cpu0 = cpu_seconds();
    let t = Instant::now();
    for chunk in all.chunks(batch) {
        let ids = writer.append(chunk).await.expect("append");
        if mark {
            writer.mark_delivered(&ids, now);
        }
    }
    let secs = t.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    println!(
        "sessions {sessions}, {batch} rows per commit, {rows} rows{}: {:.0} rows/s, \
         {:.2} CPU-µs per row",
        if mark {
            ", marked delivered a commit later"
        } else {
            ""
        },
        rows as f64 / secs,
        cpu * 1e6 / rows as f64
    );
}
