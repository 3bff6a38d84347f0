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

/// The three valid files in a fresh folder (kept while the first value
/// lives), their settings, and the configuration loaded from them.
fn valid_config() -> (tempfile::TempDir, Settings, GatewayConfigHandle) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("switchboard.toml");
    std::fs::write(&cfg, SWITCHBOARD).unwrap();
    std::fs::write(dir.path().join("agents.toml"), AGENTS).unwrap();
    std::fs::write(dir.path().join("routing.toml"), ROUTING).unwrap();
    let settings = Settings::load(&cfg).unwrap();
    let handle = GatewayConfigHandle::load(&settings).unwrap();
    (dir, settings, handle)
}

#[tokio::test]
async fn changes_are_applied_and_broken_files_refused() {
    let (_dir, settings, handle) = valid_config();
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

/// What `f` logs at info and above, as text.
fn logged(f: impl FnOnce()) -> String {
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, f);
    let text = buffer.0.lock().unwrap().clone();
    String::from_utf8(text).unwrap()
}

#[test]
fn the_first_valid_version_after_a_refusal_says_so() {
    let (_dir, settings, handle) = valid_config();
    let routing = &settings.gateway.routing_file;
    let again = "gateway configuration valid again";

    // The file in force put back after a refusal: nothing to apply, but
    // the admin's last line must not stay "rejected".
    std::fs::write(routing, BROKEN_ROUTING).unwrap();
    let log = logged(|| {
        assert!(matches!(
            handle.reload(&settings),
            ReloadOutcome::Rejected(_)
        ))
    });
    assert!(log.contains("gateway configuration rejected"), "{log}");
    std::fs::write(routing, ROUTING).unwrap();
    let log = logged(|| assert_eq!(handle.reload(&settings), ReloadOutcome::Unchanged(1)));
    assert!(
        log.contains("gateway configuration valid again: the same as the one in force"),
        "{log}"
    );
    // Said once: the next unchanged reload is not news.
    let log = logged(|| assert_eq!(handle.reload(&settings), ReloadOutcome::Unchanged(1)));
    assert!(!log.contains(again), "{log}");

    // A changed version after a refusal: valid again, then applied.
    std::fs::write(routing, BROKEN_ROUTING).unwrap();
    logged(|| {
        assert!(matches!(
            handle.reload(&settings),
            ReloadOutcome::Rejected(_)
        ))
    });
    std::fs::write(routing, format!("{ROUTING}strategy = \"round-robin\"\n")).unwrap();
    let log = logged(|| assert_eq!(handle.reload(&settings), ReloadOutcome::Applied(2)));
    let (valid, reloaded) = (log.find(again), log.find("gateway configuration reloaded"));
    assert!(valid.is_some() && valid < reloaded, "{log}");
    std::fs::write(routing, ROUTING).unwrap();
    let log = logged(|| assert_eq!(handle.reload(&settings), ReloadOutcome::Applied(3)));
    assert!(!log.contains(again), "{log}");
}

#[test]
fn a_folder_shared_by_both_files_is_watched_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("sub")).unwrap();
    std::fs::create_dir(d.join("elsewhere")).unwrap();
    std::fs::write(d.join("agents.toml"), AGENTS).unwrap();
    std::fs::write(d.join("elsewhere/routing.toml"), ROUTING).unwrap();
    std::os::unix::fs::symlink(d.join("elsewhere/routing.toml"), d.join("routing.toml")).unwrap();
    let canonical = d.canonicalize().unwrap();
    // One folder written two ways, as a relative --config and the
    // canonical target of a file give.
    let agents = d.join("sub/../agents.toml");
    let (dirs, names) = folders(&[&agents, &d.join("routing.toml")]);
    assert_eq!(dirs, [canonical.clone(), canonical.join("elsewhere")]);
    assert_eq!(names, ["agents.toml", "routing.toml"]);
}

const ARTICLE: &str = "+++\ntitle = \"Reset your password\"\nquestions = [\"I forgot my password\"]\n+++\nUse the link on the sign-in page.\n";

/// A knowledge base's article edited: applied; broken: refused at its
/// line, and the articles in force stay.
#[tokio::test]
async fn an_article_s_change_is_applied_and_a_broken_one_refused() {
    let (dir, _, _) = valid_config();
    let d = dir.path();
    std::fs::write(
        d.join("switchboard.toml"),
        format!("{SWITCHBOARD}[gateway]\ndialogs = \"dialogs.toml\"\n"),
    )
    .unwrap();
    std::fs::write(
        d.join("dialogs.toml"),
        "[self_service]\nknowledge_base = \"kb\"\n\n[[dialog]]\nname = \"d\"\nself_service = true\n",
    )
    .unwrap();
    std::fs::create_dir_all(d.join("kb/en")).unwrap();
    let article = d.join("kb/en/reset-password.md");
    std::fs::write(&article, ARTICLE).unwrap();
    let settings = Settings::load(&d.join("switchboard.toml")).unwrap();
    let handle = GatewayConfigHandle::load(&settings).unwrap();
    let answer = |h: &GatewayConfigHandle| {
        let cfg = h.current();
        let kb = &cfg.dialogs.self_service().unwrap().kb;
        kb.article("en", "reset-password").unwrap().answer.clone()
    };
    assert_eq!(answer(&handle), "Use the link on the sign-in page.");
    let mut applied = handle.subscribe();
    let mut rejected = handle.rejections();
    let shutdown = CancellationToken::new();
    let watcher = Watcher::start(settings.clone(), handle.clone()).unwrap();
    let task = tokio::spawn(watcher.run(shutdown.clone()));

    // Same number of articles, new words: a change all the same.
    replace_file(
        &article,
        &ARTICLE.replace("Use the link", "Follow the link"),
    );
    next(&mut applied).await;
    assert_eq!(answer(&handle), "Follow the link on the sign-in page.");

    replace_file(&article, &ARTICLE.replace("title = ", "titel = "));
    let canonical = article.canonicalize().unwrap();
    loop {
        next(&mut rejected).await;
        let r = rejected.borrow_and_update().clone();
        let at_line_2 = r
            .problems
            .iter()
            .any(|p| p.line == 2 && (p.file == article || p.file == canonical));
        if at_line_2 {
            break;
        }
    }
    assert_eq!(answer(&handle), "Follow the link on the sign-in page.");
    replace_file(&article, ARTICLE);
    next(&mut applied).await;
    assert_eq!(answer(&handle), "Use the link on the sign-in page.");
    shutdown.cancel();
    task.await.unwrap();
}

const CATEGORIES: &str = "[[category]]\nname = \"delivery\"\ndescription = \"Parcels\"\n\
                          skill = \"logistics\"\nkeywords = { en = [\"parcel\"] }\n";

/// categories.toml is watched like the other files: a change retrains the
/// classifier, a broken version is refused at its line and the categories
/// in force stay.
#[tokio::test]
async fn a_categories_change_is_applied_and_a_broken_one_refused() {
    let (dir, _, _) = valid_config();
    let d = dir.path();
    std::fs::write(
        d.join("switchboard.toml"),
        format!("{SWITCHBOARD}[gateway]\ncategories = \"categories.toml\"\n"),
    )
    .unwrap();
    std::fs::write(
        d.join("agents.toml"),
        AGENTS.replace(
            "name = \"Alice\"\n",
            "name = \"Alice\"\nskills = [\"logistics\"]\n",
        ),
    )
    .unwrap();
    let file = d.join("categories.toml");
    std::fs::write(&file, CATEGORIES).unwrap();
    let settings = Settings::load(&d.join("switchboard.toml")).unwrap();
    let handle = GatewayConfigHandle::load(&settings).unwrap();
    let best = |h: &GatewayConfigHandle, text: &str| {
        let cfg = h.current();
        let scores = cfg
            .categories
            .classifier()
            .classify(&[(crate::classify::Side::Customer, text)], "en");
        scores.first().map(|s| s.category.clone())
    };
    assert_eq!(best(&handle, "my parcel").as_deref(), Some("delivery"));
    assert_eq!(best(&handle, "my courier"), None);
    let mut applied = handle.subscribe();
    let mut rejected = handle.rejections();
    let shutdown = CancellationToken::new();
    let watcher = Watcher::start(settings.clone(), handle.clone()).unwrap();
    let task = tokio::spawn(watcher.run(shutdown.clone()));

    replace_file(
        &file,
        &CATEGORIES.replace("\"parcel\"", "\"parcel\", \"courier\""),
    );
    next(&mut applied).await;
    assert_eq!(best(&handle, "my courier").as_deref(), Some("delivery"));

    replace_file(&file, &CATEGORIES.replace("\"logistics\"", "\"cooking\""));
    loop {
        next(&mut rejected).await;
        let r = rejected.borrow_and_update().clone();
        let at_line_4 = r.problems.iter().any(|p| {
            p.line == 4
                && p.message
                    .starts_with("no agent of agents.toml has skill 'cooking'")
        });
        if at_line_4 {
            break;
        }
    }
    assert_eq!(best(&handle, "my courier").as_deref(), Some("delivery"));
    assert_eq!(handle.current().categories.len(), 1);
    shutdown.cancel();
    task.await.unwrap();
}
