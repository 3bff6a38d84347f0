//! The admin's first hour: the built binary finds its configuration from
//! any directory, and says so when it cannot; `check`, `account set` and
//! `serve` say where agents.toml and the accounts disagree.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SWITCHBOARD: &str =
    "[server]\nsupport_domain = \"support.test\"\nagent_domain = \"agents.support.test\"\n";
const AGENTS: &str = "[[agent]]\njid = \"alice@agents.support.test\"\nname = \"Alice\"\n\
                      protocols = [\"xmpp\"]\nmax_live = 1\n";
const ROUTING: &str = "[[queue]]\nname = \"general\"\nentry = [\"help@support.test\"]\n";

/// `switchboard ARGS` run from `cwd` by the binary `bin`, without --config.
fn run_in(bin: &Path, cwd: &Path, args: &[&str]) -> Output {
    Command::new(bin)
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", bin.display()))
}

fn stdout(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// A minimal valid configuration in `dir`.
fn write_config(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, text) in [
        ("switchboard.toml", SWITCHBOARD),
        ("agents.toml", AGENTS),
        ("routing.toml", ROUTING),
    ] {
        std::fs::write(dir.join(name), text).unwrap();
    }
}

/// `CHECKOUT` when the binary is `CHECKOUT/target/PROFILE/switchboard`.
fn checkout_of(bin: &Path) -> Option<PathBuf> {
    let target = bin.parent()?.parent()?;
    (target.file_name()? == "target").then(|| target.parent().unwrap().to_path_buf())
}

#[test]
fn without_config_the_current_directory_wins_then_the_binary_s_checkout() {
    let bin = common::bin();
    let dir = tempfile::tempdir().unwrap();
    write_config(&dir.path().join("conf"));
    let out = run_in(&bin, dir.path(), &["check"]);
    assert_eq!(stdout(&out)[0], "conf/switchboard.toml: ok", "{out:?}");

    // Elsewhere, the checkout the binary was built in (tests run it from
    // target/release or target/debug, unless SWITCHBOARD_BIN says otherwise).
    let Some(checkout) = checkout_of(&bin) else {
        return;
    };
    let empty = tempfile::tempdir().unwrap();
    let out = run_in(&bin, empty.path(), &["check"]);
    let shipped = checkout.join("conf/switchboard.toml");
    assert_eq!(
        stdout(&out)[0],
        format!("{}: ok", shipped.display()),
        "{out:?}"
    );
}

#[test]
fn without_config_anywhere_one_error_names_every_place_looked_at() {
    if Path::new("/etc/switchboard/switchboard.toml").exists() {
        return; // an installed server's would be found
    }
    // The same binary outside any target/ folder: a hard link where the
    // file system allows (no 150 MB copy), as /proc/self/exe names the
    // path it was started by.
    let bin = common::bin();
    let dir = tempfile::Builder::new()
        .prefix("no-checkout-")
        .tempdir_in(bin.parent().unwrap())
        .unwrap();
    let lone = dir.path().join("switchboard");
    if std::fs::hard_link(&bin, &lone).is_err() {
        std::fs::copy(&bin, &lone).unwrap();
    }
    let out = run_in(&lone, dir.path(), &["account", "list"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let expected = format!(
        "Error: no configuration file found; looked at, in order:\n  \
         {}/conf/switchboard.toml (from the current directory)\n  \
         /etc/switchboard/switchboard.toml (system-wide)\n\
         name one with --config PATH\n",
        dir.path().display()
    );
    assert!(stderr.starts_with(&expected), "{stderr}");
}

/// `switchboard ARGS --config DIR/switchboard.toml`: (exit code, stdout lines).
fn cli(dir: &Path, args: &[&str]) -> (i32, Vec<String>) {
    let out = Command::new(common::bin())
        .args(args)
        .arg("--config")
        .arg(dir.join("switchboard.toml"))
        .output()
        .expect("running switchboard");
    (out.status.code().expect("exit code"), stdout(&out))
}

#[test]
fn check_and_account_set_say_where_agents_and_accounts_disagree() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_config(d);
    let agents = d.join("agents.toml");
    let a = agents.display();

    // No database yet: every agent lacks an account, and check creates none.
    let (code, lines) = cli(d, &["check"]);
    assert_eq!(code, 0, "warnings are not problems: {lines:?}");
    assert_eq!(
        lines[3..],
        [format!(
            "{a}:2: warning: agent 'alice@agents.support.test' has no account \
             (switchboard account set alice@agents.support.test)"
        )]
    );
    assert!(!d.join("data").exists(), "check created the database");

    let (code, lines) = cli(
        d,
        &[
            "account",
            "set",
            "carol@agents.support.test",
            "--password",
            "pw",
        ],
    );
    assert_eq!(code, 0);
    assert_eq!(
        lines,
        [
            "set carol@agents.support.test".to_string(),
            format!(
                "note: carol@agents.support.test is not an agent yet: add an [[agent]] \
                 with jid = \"carol@agents.support.test\" to {a}"
            ),
        ]
    );
    let (code, lines) = cli(
        d,
        &[
            "account",
            "set",
            "alice@agents.support.test",
            "--password",
            "pw",
        ],
    );
    assert_eq!(
        (code, lines),
        (0, vec!["set alice@agents.support.test".to_string()])
    );

    let (code, lines) = cli(d, &["check"]);
    assert_eq!(code, 0);
    assert_eq!(
        lines[3..],
        [format!(
            "{a}: warning: account 'carol@agents.support.test' is not an agent (add an \
             [[agent]] with jid = \"carol@agents.support.test\", or switchboard account \
             delete carol@agents.support.test)"
        )]
    );

    // agents.toml broken: the account is set, and the note says why it
    // cannot tell more.
    std::fs::write(&agents, "[[agent]]\njid = 1\n").unwrap();
    let (code, lines) = cli(
        d,
        &[
            "account",
            "set",
            "dave@agents.support.test",
            "--password",
            "pw",
        ],
    );
    assert_eq!(code, 0);
    assert_eq!(
        lines[1],
        format!(
            "note: cannot tell whether dave@agents.support.test is an agent: {a} has \
             problems (switchboard check)"
        )
    );
}

#[tokio::test]
async fn serve_warns_at_start_and_after_each_reload() {
    let sb = common::TestServer::start(
        common::ServerOpts::default().account("stray@agents.support.test", "pw"),
    );
    let agents = sb.path().join("agents.toml");
    let a = agents.display();
    let timeout = std::time::Duration::from_secs(10);
    let duty = |line: usize| {
        format!(
            "{a}:{line}: warning: agent 'duty@agents.support.test' has no account \
             (switchboard account set duty@agents.support.test)"
        )
    };
    let stray = format!(
        "{a}: warning: account 'stray@agents.support.test' is not an agent (add an \
         [[agent]] with jid = \"stray@agents.support.test\", or switchboard account \
         delete stray@agents.support.test)"
    );
    let log = sb.wait_for_log(&duty(2), timeout).await;
    assert!(log.contains(&stray), "{log}");

    // The stray account becomes an agent, written before duty, whose jid
    // moves to line 8.
    let before = std::fs::read_to_string(&agents).unwrap();
    let with_stray = format!(
        "[[agent]]\njid = \"stray@agents.support.test\"\nname = \"Stray\"\n\
         protocols = [\"xmpp\"]\nmax_live = 1\n\n{before}"
    );
    std::fs::write(&agents, with_stray).unwrap();
    let log = sb.wait_for_log(&duty(8), timeout).await;
    assert_eq!(log.matches(&stray).count(), 1, "{log}");
}
