//! Servers a [`Client`](super::Client) can log in to, and [`Prosody`], a real
//! Prosody started by `tests/peers/prosody.py`.

use super::{addrs_of, manifest_dir, parse_ready, python, tail, TestServer, Tls};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Anything a [`Client`] can log in to.
pub trait Endpoint {
    /// The c2s address for this kind of TLS.
    fn c2s_addr(&self, tls: Tls) -> SocketAddr;
    /// The CA that signed its certificates.
    fn ca(&self) -> &Path;
}

impl Endpoint for TestServer {
    fn c2s_addr(&self, tls: Tls) -> SocketAddr {
        match tls {
            Tls::Direct => self.direct_tls,
            Tls::StartTls | Tls::None => self.c2s,
        }
    }
    fn ca(&self) -> &Path {
        &self.ca_file
    }
}

/// Options of a [`Prosody`] peer.
#[derive(Clone, Debug, Default)]
pub struct ProsodyOpts {
    /// VirtualHosts; default `customer.test`.
    pub domains: Vec<String>,
    /// (bare JID, password).
    pub users: Vec<(String, String)>,
    /// Loopback address to listen on; default 127.0.0.1.
    pub ip: Option<String>,
    /// Further arguments of `prosody.py start` (`--s2s-port 5269`,
    /// `--trust FILE`, `--host NAME=IP`, `--password-hash SHA-1`...).
    pub args: Vec<String>,
}

impl ProsodyOpts {
    pub fn domain(mut self, domain: &str) -> Self {
        self.domains.push(domain.to_string());
        self
    }
    pub fn user(mut self, jid: &str, password: &str) -> Self {
        self.users.push((jid.to_string(), password.to_string()));
        self
    }
    pub fn ip(mut self, ip: &str) -> Self {
        self.ip = Some(ip.to_string());
        self
    }
    pub fn arg(mut self, arg: &str) -> Self {
        self.args.push(arg.to_string());
        self
    }
    /// Federated with a Switchboard on `sb_ip:5269` from `ip:5269`: the
    /// support and agent domains resolve to it, and Prosody's certificates
    /// are signed by the CA in `certs` (Switchboard's), so that each
    /// trusts the other.
    pub fn federated(self, ip: &str, sb_ip: &str, certs: &std::path::Path) -> Self {
        self.ip(ip)
            .arg("--s2s-port")
            .arg("5269")
            .arg("--host")
            .arg(&format!("support.test={sb_ip}"))
            .arg("--host")
            .arg(&format!("agents.support.test={sb_ip}"))
            .arg("--ca-cert")
            .arg(certs.join("ca.crt").to_str().unwrap())
            .arg("--ca-key")
            .arg(certs.join("ca.key").to_str().unwrap())
    }
}

/// A real Prosody, started from a temp dir by `tests/peers/prosody.py`.
pub struct Prosody {
    dir: Option<tempfile::TempDir>,
    addrs: HashMap<String, SocketAddr>,
    pub ca_file: PathBuf,
    pub domains: Vec<String>,
}

impl Prosody {
    pub fn start(opts: ProsodyOpts) -> Prosody {
        let dir = tempfile::Builder::new()
            .prefix("prosody-test-")
            .tempdir()
            .expect("creating a temp dir");
        let domains = if opts.domains.is_empty() {
            vec!["customer.test".to_string()]
        } else {
            opts.domains.clone()
        };
        let fields = start_peer(
            "prosody.py",
            dir.path(),
            opts.ip.as_deref(),
            &domains,
            &opts.users,
            &opts.args,
        );
        Prosody {
            addrs: addrs_of(&fields),
            ca_file: PathBuf::from(&fields["ca"]),
            dir: Some(dir),
            domains,
        }
    }

    pub fn addr(&self, name: &str) -> SocketAddr {
        *self
            .addrs
            .get(name)
            .unwrap_or_else(|| panic!("prosody has no address {name}: {:?}", self.addrs))
    }

    pub fn path(&self) -> &Path {
        self.dir.as_ref().unwrap().path()
    }

    pub fn log(&self) -> String {
        std::fs::read(self.path().join("prosody.log"))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// Freezes the server (SIGSTOP): its sockets stay open, nothing is
    /// read or answered. It thaws when the guard is dropped.
    pub fn freeze(&self) -> Frozen {
        let pid = std::fs::read_to_string(self.path().join("server.pid"))
            .expect("prosody's pid file")
            .trim()
            .to_string();
        signal(&pid, "-STOP");
        Frozen(pid)
    }

    pub fn register(&self, jid: &str, password: &str) {
        let out = Command::new(python())
            .arg(manifest_dir().join("tests/peers/prosody.py"))
            .arg("register")
            .arg(self.path())
            .args([jid, password])
            .output()
            .expect("running prosody.py register");
        assert!(
            out.status.success(),
            "prosody.py register {jid}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Endpoint for Prosody {
    fn c2s_addr(&self, tls: Tls) -> SocketAddr {
        self.addr(if tls == Tls::Direct {
            "direct_tls"
        } else {
            "c2s"
        })
    }
    fn ca(&self) -> &Path {
        &self.ca_file
    }
}

impl Drop for Prosody {
    fn drop(&mut self) {
        let _ = Command::new(python())
            .arg(manifest_dir().join("tests/peers/prosody.py"))
            .arg("stop")
            .arg(self.path())
            .stderr(Stdio::null())
            .status();
        if std::thread::panicking() {
            eprintln!(
                "---- prosody.log (last 60 lines) of {} ----\n{}\n---- end ----",
                self.path().display(),
                tail(&self.log(), 60)
            );
        }
    }
}

/// Runs `tests/peers/<script> start DIR ...` (the peers share one command
/// line) and returns the fields of the `ready` line it prints.
pub(super) fn start_peer(
    script: &str,
    dir: &Path,
    ip: Option<&str>,
    domains: &[String],
    users: &[(String, String)],
    args: &[String],
) -> HashMap<String, String> {
    let mut cmd = Command::new(python());
    cmd.arg(manifest_dir().join("tests/peers").join(script))
        .arg("start")
        .arg(dir);
    if let Some(ip) = ip {
        cmd.args(["--ip", ip]);
    }
    for d in domains {
        cmd.args(["--domain", d]);
    }
    for (jid, pw) in users {
        cmd.arg("--user").arg(format!("{jid}={pw}"));
    }
    let out = cmd
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running tests/peers/{script}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let fields = stdout.lines().find_map(parse_ready);
    match fields.filter(|_| out.status.success()) {
        Some(f) => f,
        None => panic!(
            "{script} start failed ({}):\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// A frozen peer server, thawed (SIGCONT) when dropped.
pub struct Frozen(String);

impl Drop for Frozen {
    fn drop(&mut self) {
        signal(&self.0, "-CONT");
    }
}

/// The shell's own `kill`: a fresh machine may have no procps.
fn signal(pid: &str, sig: &str) {
    let ok = Command::new("sh")
        .arg("-c")
        .arg(format!("kill {sig} {pid}"))
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill {sig} {pid}");
}
