//! The watcher on a real folder: a change is applied, a broken file is
//! refused with the old configuration kept, SIGHUP re-reads. Every wait is
//! on a notification, bounded only by a generous timeout.

use super::*;
use std::path::Path;

const SWITCHBOARD: &str =
    "[server]\nsupport_domain = \"support.test\"\nagent_domain = \"agents.support.test\"\n";
const AGENTS: &str = "[[agent]]\njid = \"alice@agents.support.test\"\nname = \"Alice\"\n\
                      protocols = [\"xmpp\"]\nmax_live = 1\n";
const ROUTING: &str = "[[queue]]\nname = \"general\"\nentry = [\"help@support.test\"]\n";
const BROKEN_ROUTING: &str =
    "[[queue]]\nname = \"general\"\nentry = [\"help@support.test\", \"help@elsewhere.test\"]\n";

/// As most editors save: a new file renamed over the old one.
fn replace_file(path: &Path, text: &str) {
    let tmp = path.with_extension("toml.swp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

async fn next<T>(rx: &mut watch::Receiver<T>) {
    tokio::time::timeout(Duration::from_secs(20), rx.changed())
        .await
        .expect("no notification within 20 s")
        .unwrap();
}

#[tokio::test]
async fn changes_are_applied_and_broken_files_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("switchboard.toml");
    std::fs::write(&cfg, SWITCHBOARD).unwrap();
    std::fs::write(dir.path().join("agents.toml"), AGENTS).unwrap();
    std::fs::write(dir.path().join("routing.toml"), ROUTING).unwrap();
    let settings = Settings::load(&cfg).unwrap();
    let handle = GatewayConfigHandle::load(&settings).unwrap();
    assert_eq!(handle.generation(), 1);
    let mut applied = handle.subscribe();
    let mut rejected = handle.rejections();
    let shutdown = CancellationToken::new();
    let watcher = Watcher::start(settings.clone(), handle.clone()).unwrap();
    let task = tokio::spawn(watcher.run(shutdown.clone()));

    replace_file(
        &settings.gateway.agents_file,
        &AGENTS.replace("\"Alice\"", "\"Alice B.\""),
    );
    next(&mut applied).await;
    assert_eq!(*applied.borrow_and_update(), 2);
    assert_eq!(handle.current().agents.agents()[0].name, "Alice B.");

    // Written in place this time; every problem comes with its line.
    std::fs::write(&settings.gateway.routing_file, BROKEN_ROUTING).unwrap();
    let problem = format!(
        "{}:3: entry 'help@elsewhere.test' is not on the support domain: use user@support.test",
        settings.gateway.routing_file.display()
    );
    // A reader could in principle catch the file truncated and not yet
    // written: wait for the rejection of the complete file.
    loop {
        next(&mut rejected).await;
        let r = rejected.borrow_and_update().clone();
        if r.problems.iter().any(|p| p.to_string() == problem) {
            assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
            break;
        }
    }
    let refused = rejected.borrow().count;
    assert_eq!(handle.generation(), 2);
    assert_eq!(handle.current().agents.agents()[0].name, "Alice B.");
    assert!(!applied.has_changed().unwrap());

    // SIGHUP reads the files again, whatever the watcher saw: the same
    // broken file is refused once more.
    let status = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    next(&mut rejected).await;
    assert!(rejected.borrow().count > refused);
    assert_eq!(handle.generation(), 2);

    // Fixed, with a change: applied; identical content is not a new
    // generation.
    let fixed = format!("{ROUTING}strategy = \"round-robin\"\n");
    std::fs::write(&settings.gateway.routing_file, fixed).unwrap();
    next(&mut applied).await;
    assert_eq!(*applied.borrow_and_update(), 3);
    assert_eq!(
        handle.reload(&settings),
        ReloadOutcome::Unchanged(3),
        "same files, same generation"
    );

    shutdown.cancel();
    task.await.unwrap();
}

#[test]
fn replace_bumps_the_generation_and_readers_keep_their_snapshot() {
    let g = GatewayConfig::from_strs(
        "support.test",
        (Path::new("agents.toml"), AGENTS),
        (Path::new("routing.toml"), ROUTING),
    )
    .unwrap();
    let handle = GatewayConfigHandle::new(g.clone());
    let before = handle.current();
    let mut changed = g;
    changed.routing.defaults.agent_grace = Duration::from_secs(5);
    assert_eq!(handle.clone().replace(changed), 2);
    assert_eq!(before.routing.defaults.agent_grace, Duration::from_secs(60));
    assert_eq!(
        handle.current().routing.defaults.agent_grace,
        Duration::from_secs(5)
    );
}
