//! A PostgreSQL of the test's own: `initdb` in a temp dir, started with
//! `pg_ctl` on a loopback address of its own, so that a test may restart
//! or crash it without touching the machine's server that other tests
//! share. Runs as the `postgres` user (initdb refuses root), which the
//! Debian package creates.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub struct PrivatePostgres {
    dir: tempfile::TempDir,
    ip: String,
    port: u16,
}

fn bin(name: &str) -> PathBuf {
    let base = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<PathBuf> = std::fs::read_dir(base)
        .expect("PostgreSQL is installed (scripts/test installs it)")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    versions.sort();
    versions
        .last()
        .expect("a PostgreSQL version under /usr/lib/postgresql")
        .join("bin")
        .join(name)
}

/// Runs a PostgreSQL tool as the `postgres` user (or as ourselves when we
/// are not root).
fn as_postgres(tool: &str) -> Command {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    let mut cmd = if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin(tool));
        c
    } else {
        Command::new(bin(tool))
    };
    cmd.stdin(Stdio::null());
    cmd
}

impl PrivatePostgres {
    pub fn start(ip: &str) -> PrivatePostgres {
        let dir = tempfile::Builder::new().prefix("sb-pg-").tempdir().unwrap();
        let _ = Command::new("chown")
            .arg("postgres")
            .arg(dir.path())
            .status();
        let port = {
            let l = std::net::TcpListener::bind((ip, 0)).unwrap();
            l.local_addr().unwrap().port()
        };
        let out = as_postgres("initdb")
            .arg("-D")
            .arg(dir.path().join("data"))
            .args(["-A", "trust", "-U", "postgres", "--no-sync"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let pg = PrivatePostgres {
            dir,
            ip: ip.to_string(),
            port,
        };
        pg.ctl(&["start", "-w"]);
        pg
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@{}:{}/postgres", self.ip, self.port)
    }

    /// `pg_ctl` with our data dir, address and socket dir.
    fn ctl(&self, args: &[&str]) {
        let opts = format!(
            "-p {} -c listen_addresses={} -k {} -c fsync=off",
            self.port,
            self.ip,
            self.dir.path().display()
        );
        let out = as_postgres("pg_ctl")
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .arg("-l")
            .arg(self.dir.path().join("log"))
            .arg("-o")
            .arg(opts)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_ctl {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            self.log()
        );
    }

    /// A crash (`immediate`: no checkpoint, every connection cut, recovery
    /// at the next start) and a start again, waiting until it accepts
    /// connections.
    pub fn crash_and_restart(&self) {
        self.ctl(&["restart", "-m", "immediate", "-w"]);
    }

    /// Runs one statement; returns its output (unaligned, tuples only).
    pub fn query(&self, sql: &str) -> String {
        super::run_psql(&self.url(), sql)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = as_postgres("pg_ctl")
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["stop", "-m", "immediate"])
            .output();
    }
}
