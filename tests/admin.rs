//! The admin's first hour: the built binary finds its configuration from
//! any directory, and says so when it cannot.

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
