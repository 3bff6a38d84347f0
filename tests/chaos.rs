//! Chaos under load, with real peers: Switchboard killed with `kill -9`,
//! its PostgreSQL crashed, its disk full, while customers on a real
//! Prosody (with `mod_smacks`, which enables XEP-0198 on s2s) write to two
//! agents. What counts is that nothing is lost silently: each message a
//! customer wrote reaches an agent or comes back to her as an error, none
//! reaches an agent twice under two ids, the transcript holds what the
//! agents got, and the server carries on by itself.

mod common;
mod load;

use std::time::Duration;

use common::{loopback_ips, Client, Db, PrivatePostgres, ServerOpts};
use load::{
    bursts_done, center, collect, delivered, last_lines, open_sessions, start_bursts, Tally,
};
use serde_json::{json, Value};

/// `kill -9` halfway through 1,000 messages from 20 customers at 500 msg/s
/// in all, then a restart. Prosody's `mod_smacks` bounces what our
/// acknowledgements did not cover (or, with `smacks_s2s_resend`, sends it
/// again once we are back), and we acknowledge only what is stored.
async fn kill_9_under_load(resend: bool) -> Tally {
    const CUSTOMERS: usize = 20;
    const EACH: usize = 50;
    let lua = if resend {
        "smacks_s2s_resend = true"
    } else {
        ""
    };
    let mut c = center(CUSTOMERS, ServerOpts::default().db(Db::Sqlite), lua);
    let (mut agents, mut customers) = open_sessions(&c, CUSTOMERS).await;
    start_bursts(&mut customers, EACH, 25);
    let stored = "SELECT COUNT(*) FROM messages WHERE direction = 'in'";
    let half = (CUSTOMERS * EACH / 2 + CUSTOMERS) as i64;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while c.sb.db_value(stored).parse::<i64>().unwrap_or(0) < half {
        assert!(
            std::time::Instant::now() < deadline,
            "the load never got halfway"
        );
        for a in &mut agents {
            collect(a).await;
        }
    }
    let down = std::time::Instant::now();
    c.sb.kill();
    c.sb.restart();
    eprintln!("kill -9 and restart: down for {:?}", down.elapsed());
    bursts_done(&mut customers).await;
    // The agents' clients log in again, as they would after a crash.
    for jid in [load::ALICE, load::BOB] {
        agents.push(Client::login(&c.sb, jid, load::PW, Default::default()).await);
    }
    last_lines(&mut customers, &mut agents).await;
    let t = Tally::of(&customers, &agents, EACH);
    if !t.twice.is_empty() {
        eprintln!("twice: {:?}", Tally::copies(&agents, &t.twice));
    }
    t.assert_none_lost(&format!("kill -9 under load (resend: {resend})"));
    t.assert_copies_share_their_id(&agents);
    transcript_is_what_agents_got(|q| c.sb.db_value(q), Sql::Sqlite, &mut agents).await;
    t
}

#[derive(Clone, Copy)]
enum Sql {
    Sqlite,
    Postgres,
}

/// The transcript holds what reached the agents, no more and no less: each
/// customer's line stored was relayed, each relayed was stored, and once
/// the agents have them, every one is marked delivered (none waits to be
/// relayed again at the next login).
async fn transcript_is_what_agents_got(
    query: impl Fn(&str) -> String,
    sql: Sql,
    agents: &mut [Client],
) {
    let list = match sql {
        Sql::Sqlite => "SELECT group_concat(body, char(10)) FROM messages WHERE direction = 'in'",
        Sql::Postgres => "SELECT string_agg(body, E'\\n') FROM messages WHERE direction = 'in'",
    };
    let stored: std::collections::BTreeSet<String> =
        query(list).lines().map(str::to_string).collect();
    let relayed: std::collections::BTreeSet<String> = delivered(agents).into_keys().collect();
    let unstored: Vec<&String> = relayed.difference(&stored).collect();
    let unrelayed: Vec<&String> = stored.difference(&relayed).collect();
    assert!(
        unstored.is_empty() && unrelayed.is_empty(),
        "relayed, not stored: {unstored:?}; stored, never relayed: {unrelayed:?}"
    );
    let unmarked = "SELECT COUNT(*) FROM messages WHERE direction = 'in' AND delivered_at IS NULL";
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let left = query(unmarked);
        if left == "0" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{left} relayed lines never marked delivered"
        );
        for a in agents.iter_mut() {
            collect(a).await;
        }
    }
}

/// Without the resend, what our acknowledgements did not cover comes back
/// to its sender as an error. Nothing reaches an agent twice but a line
/// relayed in the crash's last moment, whose delivery the dead process
/// never marked: it goes again at the agent's next login, under its id
/// and with its delay stamp (see `assert_copies_share_their_id`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_loses_nothing_silently() {
    kill_9_under_load(false).await;
}

/// With `smacks_s2s_resend`, Prosody sends what was unacknowledged again
/// to the restarted server, whose listeners are bound before anything
/// slow: nothing unacknowledged comes back to its sender; the only errors
/// are for messages Prosody tried while no process listened at all
/// (`remote-server-not-found`; none when the restart is quick, as on an
/// idle machine: 1,000 of 1,000 delivered). One stored and relayed whose
/// s2s acknowledgement the crash cut off is resent by Prosody and arrives
/// twice, under its one id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_with_resend_delivers_everything() {
    let t = kill_9_under_load(true).await;
    let unacked = t.bounced.keys().any(|why| why != "remote-server-not-found");
    assert!(!unacked, "resent, not bounced: {t:?}");
}

/// PostgreSQL crashes (`pg_ctl restart -m immediate`) while 5 customers
/// write: what could not be stored is answered with an error (never
/// acknowledged as kept), and the server, still running, stores and
/// relays again by itself once the database is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgresql_crash_under_load_is_told_and_recovered_from() {
    const CUSTOMERS: usize = 5;
    const EACH: usize = 100;
    let ip = loopback_ips(1).remove(0);
    let pg = PrivatePostgres::start(&ip);
    let c = center(CUSTOMERS, ServerOpts::default().db_url(pg.url()), "");
    let (mut agents, mut customers) = open_sessions(&c, CUSTOMERS).await;
    start_bursts(&mut customers, EACH, 25);
    // A quarter of the way in, the database goes.
    loop {
        for a in &mut agents {
            collect(a).await;
        }
        if delivered(&agents).len() >= CUSTOMERS + CUSTOMERS * EACH / 4 {
            break;
        }
    }
    pg.crash_and_restart();
    bursts_done(&mut customers).await;
    last_lines(&mut customers, &mut agents).await;
    let t = Tally::of(&customers, &agents, EACH);
    t.assert_none_lost("PostgreSQL crash under load");
    // A batch whose commit the crash cut off is told to its writers, never
    // relayed; only a relay whose mark the crash lost goes again.
    t.assert_copies_share_their_id(&agents);
    transcript_is_what_agents_got(|q| pg.query(q), Sql::Postgres, &mut agents).await;
}

/// SQLite on a 4 MB tmpfs that fills up: the customers' messages that
/// cannot be stored come back as errors, and once space returns the chat
/// goes on without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_told_and_recovered_from() {
    const CUSTOMERS: usize = 2;
    const EACH: usize = 300;
    let mnt = tempfile::tempdir().unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
        .arg(mnt.path())
        .status()
        .unwrap();
    assert!(
        mounted.success(),
        "mounting a tmpfs (the test runs as root)"
    );
    struct Unmount<'a>(&'a std::path::Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(self.0)
                .status();
        }
    }
    let _unmount = Unmount(mnt.path());
    let url = format!("sqlite://{}", mnt.path().join("sb.db").display());
    let c = center(CUSTOMERS, ServerOpts::default().db_url(url), "");
    let (mut agents, mut customers) = open_sessions(&c, CUSTOMERS).await;
    let filler = mnt.path().join("filler");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 16 * 1024];
        while f.write_all(&chunk).is_ok() {}
        let _ = f.sync_all();
    }
    start_bursts(&mut customers, EACH, 100);
    bursts_done(&mut customers).await;
    // Until each message is accounted for: delivered or answered.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let t = loop {
        for x in agents.iter_mut().chain(customers.iter_mut()) {
            collect(x).await;
        }
        let t = Tally::of(&customers, &agents, EACH);
        if t.lost.is_empty() || std::time::Instant::now() > deadline {
            break t;
        }
    };
    t.assert_sound("disk full");
    assert!(t.bounced() > 0, "the disk was never full: {t:?}");
    // What reached an agent is in the transcript: relayed means stored.
    let bodies = std::process::Command::new("python3")
        .arg("-c")
        .arg(
            "import sqlite3, sys\n\
             c = sqlite3.connect(sys.argv[1])\n\
             for (b,) in c.execute(\"SELECT body FROM messages WHERE direction = 'in'\"): print(b)",
        )
        .arg(mnt.path().join("sb.db"))
        .output()
        .unwrap();
    let stored: std::collections::BTreeSet<String> = String::from_utf8_lossy(&bodies.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    let relayed: Vec<String> = delivered(&agents)
        .into_keys()
        .filter(|b| !b.ends_with("-hello"))
        .collect();
    let unstored: Vec<&String> = relayed.iter().filter(|b| !stored.contains(*b)).collect();
    assert!(
        unstored.is_empty(),
        "relayed but not stored: {} of {} ({:?}...)",
        unstored.len(),
        relayed.len(),
        &unstored[..unstored.len().min(5)]
    );
    std::fs::remove_file(&filler).unwrap();
    last_lines(&mut customers, &mut agents).await;
}

/// The agents' sessions, as (agent index, proxy JID, customer index),
/// from the first lines their customers wrote (`c3-hello`).
fn sessions_of(agents: &[Client]) -> Vec<(usize, String, usize)> {
    let mut v = Vec::new();
    for (i, a) in agents.iter().enumerate() {
        for e in a.seen() {
            let body = e["body"].as_str().unwrap_or_default();
            let customer = body
                .strip_prefix('c')
                .and_then(|b| b.strip_suffix("-hello"))
                .and_then(|n| n.parse().ok());
            if let (true, Some(customer)) = (e["event"] == "message", customer) {
                let from = e["from"].as_str().unwrap_or_default();
                let proxy = from.split('/').next().unwrap_or_default().to_string();
                v.push((i, proxy, customer));
            }
        }
    }
    v
}

/// The customers' server frozen (SIGSTOP: its sockets open, nothing read
/// or acknowledged) while the agents write 10,000 replies of 2 KB to its
/// customers: the link to it is given up once its acknowledgement is
/// overdue, the next one never gets through negotiation, and every reply
/// comes back to its agent as an error (held in a bounded window and
/// queue meanwhile, never in memory without end). Local users are served
/// throughout, and once the server thaws the chats go on by themselves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_peer_server_costs_bounded_memory_and_every_reply_is_told() {
    const EACH: usize = 5_000;
    // The agents unshaped, and short waits: the ones under test.
    let opts = ServerOpts::default()
        .limits_toml(
            "connections_per_address = 0\nnew_connections_per_second = 0\n\
             login_failures_per_address = 0\nlogin_failures_per_account = 0\n\
             c2s_bytes_per_second = 0\nsend_timeout_secs = 2\n",
        )
        .s2s_toml("negotiation_timeout_secs = 3");
    let c = center(2, opts, "");
    let (mut agents, mut customers) = open_sessions(&c, 2).await;
    let sessions = sessions_of(&agents);
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    let frozen = c.prosody.freeze();
    for (n, (i, proxy, _)) in sessions.iter().enumerate() {
        agents[*i].send(
            json!({"cmd": "burst", "to": proxy, "count": EACH, "rate": 2500,
            "prefix": format!("a{n}"), "pad": 2000, "tag": format!("burst{n}")}),
        );
    }
    for (n, (i, _, _)) in sessions.iter().enumerate() {
        let tag = format!("burst{n}");
        let done = agents[*i]
            .expect_what(
                "the end of the burst",
                |e| e["tag"] == tag.as_str(),
                Duration::from_secs(60),
            )
            .await;
        assert_eq!(done["event"], "ok", "{done}");
    }
    // Local users are not held behind the frozen peer.
    let (alice, bob) = agents.split_at_mut(1);
    alice[0].message(load::BOB, "still here?").await;
    bob[0].expect_message(load::ALICE, "still here?").await;
    // Every reply comes back to its agent, while the peer is still frozen.
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    let told = loop {
        for a in agents.iter_mut() {
            collect(a).await;
        }
        let told: Vec<(String, String)> = agents.iter().flat_map(load::bounced).collect();
        let replies = told.iter().filter(|(id, _)| id.starts_with('a')).count();
        if replies >= 2 * EACH || std::time::Instant::now() > deadline {
            break told;
        }
    };
    let mut why = std::collections::BTreeMap::new();
    let mut ids = std::collections::HashSet::new();
    for (id, cond) in &told {
        *why.entry(cond.clone()).or_insert(0) += 1;
        ids.insert(id.clone());
    }
    let peak = c.sb.peak_rss_kib();
    eprintln!(
        "frozen peer: {} of {} replies (2 KB each) told to their agents {why:?}; peak RSS {peak} KiB",
        ids.len(),
        2 * EACH
    );
    for n in 0..sessions.len() {
        for k in 0..EACH {
            assert!(ids.contains(&format!("a{n}-{k}")), "a{n}-{k} never told");
        }
    }
    // 20 MB went towards the peer; the window and queue hold 2.5 MB of it.
    assert!(peak < 96 * 1024, "peak RSS {peak} KiB");

    drop(frozen);
    // Thawed: what its socket already held reaches the customers, and
    // the chats go on over a new link.
    for (n, (i, proxy, customer)) in sessions.iter().enumerate() {
        let line = format!("a{n}-after");
        agents[*i].message(proxy, &line).await;
        customers[*customer]
            .expect_what(
                "the line after the thaw",
                |e: &Value| e["event"] == "message" && e["body"] == line.as_str(),
                Duration::from_secs(60),
            )
            .await;
    }
}
