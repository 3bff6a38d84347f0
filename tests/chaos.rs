//! Chaos under load, with real peers: Switchboard killed with `kill -9`,
//! its PostgreSQL crashed, its disk full, while customers on a real
//! Prosody (with `mod_smacks`, which enables XEP-0198 on s2s) write to two
//! agents. What counts is that nothing is lost silently: each message a
//! customer wrote reaches an agent or comes back to her as an error, none
//! reaches an agent twice, and the server carries on by itself.

mod common;
mod load;

use std::time::Duration;

use common::{loopback_ips, Client, Db, PrivatePostgres, ServerOpts};
use load::{
    bursts_done, center, collect, delivered, last_lines, open_sessions, start_bursts, Tally,
};

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
    t.assert_none_lost(&format!("kill -9 under load (resend: {resend})"));
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_loses_nothing_silently() {
    let t = kill_9_under_load(false).await;
    // Nothing is sent twice: what was not acknowledged comes back as an
    // error instead.
    assert!(t.twice.is_empty(), "{t:?}");
}

/// With `smacks_s2s_resend`, Prosody sends what was unacknowledged again
/// to the restarted server, whose listeners are bound before anything
/// slow: nothing unacknowledged comes back to its sender; the only errors
/// are for messages Prosody tried while no process listened at all
/// (`remote-server-not-found`; none when the restart is quick, as on an
/// idle machine: 1,000 of 1,000 delivered). One stored and relayed whose
/// acknowledgement the crash cut off arrives twice (the agent's own
/// delivery acknowledgement does not mark the transcript yet, so the
/// resend cannot be told from a message the agent never got).
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
    t.assert_sound("PostgreSQL crash under load");
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
    std::fs::remove_file(&filler).unwrap();
    last_lines(&mut customers, &mut agents).await;
}
