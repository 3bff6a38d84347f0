//! [`Ejabberd`], a real ejabberd started by `tests/peers/ejabberd.py`, as a
//! peer server (the counterpart of [`Prosody`](super::Prosody)).

use super::{addrs_of, manifest_dir, python, tail, Endpoint, Tls};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Options of an [`Ejabberd`] peer.
#[derive(Clone, Debug, Default)]
pub struct EjabberdOpts {
    /// Virtual hosts; default `other.test`.
    pub domains: Vec<String>,
    /// (bare JID, password).
    pub users: Vec<(String, String)>,
    /// Loopback address to listen on; default 127.0.0.1.
    pub ip: Option<String>,
    /// Further arguments of `ejabberd.py start` (`--s2s-port 5269`,
    /// `--trust FILE`, `--host NAME=IP`, `--insecure-s2s`, `--ca-cert FILE
    /// --ca-key FILE`, `--loglevel debug`...).
    pub args: Vec<String>,
}

impl EjabberdOpts {
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
}

/// A real ejabberd, started from a temp dir by `tests/peers/ejabberd.py`;
/// stopped (SIGTERM to its beam.smp) on drop.
pub struct Ejabberd {
    dir: Option<tempfile::TempDir>,
    addrs: HashMap<String, SocketAddr>,
    pub ca_file: PathBuf,
    pub domains: Vec<String>,
}

fn script() -> PathBuf {
    manifest_dir().join("tests/peers/ejabberd.py")
}

impl Ejabberd {
    pub fn start(opts: EjabberdOpts) -> Ejabberd {
        let dir = tempfile::Builder::new()
            .prefix("ejabberd-test-")
            .tempdir()
            .expect("creating a temp dir");
        let domains = if opts.domains.is_empty() {
            vec!["other.test".to_string()]
        } else {
            opts.domains.clone()
        };
        let fields = super::peers::start_peer(
            "ejabberd.py",
            dir.path(),
            opts.ip.as_deref(),
            &domains,
            &opts.users,
            &opts.args,
        );
        Ejabberd {
            addrs: addrs_of(&fields),
            ca_file: PathBuf::from(&fields["ca"]),
            dir: Some(dir),
            domains,
        }
    }

    /// `c2s` or `s2s`.
    pub fn addr(&self, name: &str) -> SocketAddr {
        *self
            .addrs
            .get(name)
            .unwrap_or_else(|| panic!("ejabberd has no address {name}: {:?}", self.addrs))
    }

    pub fn path(&self) -> &Path {
        self.dir.as_ref().unwrap().path()
    }

    /// `log/ejabberd.log` (info level unless started with `--loglevel debug`,
    /// which logs every XML element sent and received).
    pub fn log(&self) -> String {
        std::fs::read(self.path().join("log/ejabberd.log"))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// Wait until the log contains `needle` (ejabberd's file logger lags
    /// behind by some 0.1-0.2 s); panics after `timeout`.
    pub fn wait_log(&self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.log().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "ejabberd log has no {needle:?} after {timeout:?}:\n{}",
                tail(&self.log(), 40)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Add a user to the running server (`ejabberdctl register`).
    pub fn register(&self, jid: &str, password: &str) {
        let out = Command::new(python())
            .arg(script())
            .arg("register")
            .arg(self.path())
            .args([jid, password])
            .output()
            .expect("running ejabberd.py register");
        assert!(
            out.status.success(),
            "ejabberd.py register {jid}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Endpoint for Ejabberd {
    fn c2s_addr(&self, tls: Tls) -> SocketAddr {
        assert!(
            tls != Tls::Direct,
            "the ejabberd peer has no direct-TLS port"
        );
        self.addr("c2s")
    }
    fn ca(&self) -> &Path {
        &self.ca_file
    }
}

impl Drop for Ejabberd {
    fn drop(&mut self) {
        let _ = Command::new(python())
            .arg(script())
            .arg("stop")
            .arg(self.path())
            .stderr(Stdio::null())
            .status();
        if std::thread::panicking() {
            eprintln!(
                "---- ejabberd.log (last 60 lines) of {} ----\n{}\n---- end ----",
                self.path().display(),
                tail(&self.log(), 60)
            );
        }
    }
}
