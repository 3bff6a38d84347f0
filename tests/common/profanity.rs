//! [`Profanity`]: a real terminal client (Debian's profanity) in a tmux
//! server of its own, driven by keystrokes and read off its screen, for
//! tests of what an agent sees in a client that is not ours.
//!
//! Each instance has its own temp dir: HOME and the XDG dirs (profanity's
//! config, its debug log with every stanza sent and received), the CA it
//! trusts, and tmux's socket (`TMUX_TMPDIR`, with `-L`), so nothing of the
//! user's own profanity or tmux is read or touched. Waits poll the screen
//! for the text expected, with a timeout; none sleeps for a fixed time.

use super::{tail, TestServer, START_TIMEOUT};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The tmux session (and target) profanity runs in.
const TARGET: &str = "p";
/// Wide and tall enough that the lines a test looks for are neither
/// wrapped by profanity nor scrolled away too soon.
const COLUMNS: &str = "240";
const ROWS: &str = "60";
/// How often the screen is read while waiting.
const POLL: Duration = Duration::from_millis(50);

pub struct Profanity {
    dir: tempfile::TempDir,
    socket: String,
    /// The tmux server's and profanity's own, to stop them for sure.
    pids: Vec<u32>,
}

impl Profanity {
    /// Starts profanity and waits for its first screen.
    pub async fn start() -> Profanity {
        let installed = Command::new("profanity")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            installed,
            "no profanity on PATH: apt-get install profanity tmux (scripts/test does)"
        );
        let dir = tempfile::Builder::new()
            .prefix("switchboard-profanity-")
            .tempdir()
            .expect("creating a temp dir");
        let socket = format!("sb-profanity-{}", std::process::id());
        let mut p = Profanity {
            dir,
            socket,
            pids: Vec::new(),
        };
        let home = p.home();
        let out = p.tmux(&[
            "-u",
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            TARGET,
            "-x",
            COLUMNS,
            "-y",
            ROWS,
            "-P",
            "-F",
            "#{pid} #{pane_pid}",
            // Debug: the log holds every stanza, for a failure's report.
            &format!(
                "exec env HOME={h} XDG_CONFIG_HOME={h}/.config XDG_DATA_HOME={h}/.local/share \
                 profanity -l DEBUG",
                h = home.display()
            ),
        ]);
        assert!(
            out.status.success(),
            "tmux new-session: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        p.pids = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        p.wait_for("Type /help for help", START_TIMEOUT).await;
        p
    }

    /// Starts profanity, trusts `server`'s CA and logs in as `jid` over
    /// STARTTLS on its c2s port.
    pub async fn login(server: &TestServer, jid: &str, password: &str) -> Profanity {
        let p = Profanity::start().await;
        p.trust(&server.ca_file).await;
        p.type_line(&format!(
            "/connect {jid} server {} port {} tls force",
            server.c2s.ip(),
            server.c2s.port()
        ));
        p.wait_for("Enter password:", START_TIMEOUT).await;
        p.type_line(password);
        p.wait_for(&format!("{jid}/"), START_TIMEOUT).await;
        p.wait_for("logged in successfully", START_TIMEOUT).await;
        p
    }

    /// Makes profanity trust the CA in `ca_file`: a certificate directory
    /// in OpenSSL's hashed layout (`openssl rehash`).
    pub async fn trust(&self, ca_file: &Path) {
        let certs = self.dir.path().join("ca");
        std::fs::create_dir_all(&certs).unwrap();
        std::fs::copy(ca_file, certs.join("ca.pem")).unwrap();
        let out = Command::new("openssl")
            .arg("rehash")
            .arg(&certs)
            .output()
            .expect("running openssl rehash");
        assert!(
            out.status.success(),
            "openssl rehash: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.type_line(&format!("/tls certpath set {}", certs.display()));
        self.wait_for("Certificate path set to", START_TIMEOUT)
            .await;
    }

    /// Types `text` and Enter, as a person would.
    pub fn type_line(&self, text: &str) {
        // `-l`: the text as it is, never read as key names.
        let out = self.tmux(&[
            "send-keys",
            "-t",
            TARGET,
            "-l",
            text,
            ";",
            "send-keys",
            "-t",
            TARGET,
            "Enter",
        ]);
        assert!(
            out.status.success(),
            "tmux send-keys: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// What the screen shows now.
    pub fn screen(&self) -> String {
        let out = self.tmux(&["capture-pane", "-p", "-J", "-t", TARGET]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the screen shows `text`, and returns the screen; panics
    /// after `timeout` with the screen and the end of profanity's log.
    pub async fn wait_for(&self, text: &str, timeout: Duration) -> String {
        self.wait_until(&format!("{text:?}"), |s| s.contains(text), timeout)
            .await
    }

    /// Waits until the screen satisfies `ok` (`what` names it for the
    /// failure's report).
    pub async fn wait_until(
        &self,
        what: &str,
        ok: impl Fn(&str) -> bool,
        timeout: Duration,
    ) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return screen;
            }
            if Instant::now() >= deadline {
                panic!(
                    "profanity did not show {what} within {timeout:?}\n\
                     --- screen ---\n{screen}\n--- profanity.log (tail) ---\n{}",
                    tail(&self.log(), 40)
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Profanity's debug log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    pub fn log_path(&self) -> PathBuf {
        self.home()
            .join(".local/share/profanity/logs/profanity.log")
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// Runs a tmux command against this instance's server, in a clean
    /// environment: no user config, no outer tmux, UTF-8 for the
    /// customer-facing texts.
    fn tmux(&self, args: &[&str]) -> Output {
        let home = self.home();
        std::fs::create_dir_all(&home).unwrap();
        Command::new("tmux")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &home)
            .env("LANG", "C.UTF-8")
            .env("TERM", "xterm-256color")
            .env("TMUX_TMPDIR", self.dir.path())
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("running tmux (apt-get install tmux; scripts/test does)")
    }
}

impl Drop for Profanity {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- profanity's last screen ---\n{}", self.screen());
        }
        let _ = self.tmux(&["kill-server"]);
        // kill-server hangs profanity up; whatever still runs is killed.
        let deadline = Instant::now() + Duration::from_secs(2);
        while self.pids.iter().any(|p| alive(*p)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        for pid in self.pids.iter().filter(|p| alive(**p)) {
            let _ = Command::new("sh")
                .arg("-c")
                .arg(format!("kill -KILL {pid}"))
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Whether `pid` still runs (a zombie waiting for its parent does not).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        // The state follows the command name, which may hold spaces.
        stat.rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z'))
    })
}
