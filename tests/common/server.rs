//! [`TestServer`]: a real `switchboard serve` in a temp dir.

use super::{addrs_of, bin, parse_ready, python, sigterm, tail, toml_str, wait_timeout};
use super::{stdout_of, Db, PgDatabase};
use super::{AGENT_DOMAIN, START_TIMEOUT, SUPPORT_DOMAIN};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{mpsc as std_mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// Options of a [`TestServer`].
#[derive(Clone, Debug)]
pub struct ServerOpts {
    /// Which store, when `db_url` is None: SQLite in the temp dir, or a
    /// fresh PostgreSQL database dropped with the server.
    pub db: Db,
    /// A database of the caller's (none: see `db`).
    pub db_url: Option<String>,
    pub require_encryption: bool,
    pub max_stanza_bytes: usize,
    /// Lines inside the generated `[limits]` table. The default lifts the
    /// per-address connection and login limits: the suite opens hundreds
    /// of connections from 127.0.0.1 and fails logins on purpose. The
    /// flood tests set "" (the shipped defaults) or their own.
    pub limits_toml: String,
    /// Appended to the generated switchboard.toml, after its last table
    /// (`[limits]`): start it with a table header of its own (`[s2s]`...).
    pub extra_toml: String,
    /// Extra lines inside the generated `[c2s]` table (`idle_timeout_secs = 1`).
    pub c2s_toml: String,
    /// Where s2s listens (default a free port on 127.0.0.1; federation tests
    /// give it a loopback address of its own on port 5269).
    pub s2s_listen: String,
    /// Extra lines inside the generated `[s2s]` table (`secure_auth = false`).
    pub s2s_toml: String,
    /// `[s2s] direct_tls` listener, if any (XEP-0368).
    pub s2s_direct_tls: Option<String>,
    /// (support, agent) domains; default support.test, agents.support.test.
    pub domains: Option<(String, String)>,
    /// A cert dir whose `ca.crt`/`ca.key` sign this server's dev
    /// certificates too, so two test servers trust each other.
    pub dev_ca_from: Option<PathBuf>,
    /// agents.toml and routing.toml, written beside switchboard.toml; None:
    /// one agent nobody logs in as, and one queue behind help@<support domain>.
    pub agents_toml: Option<String>,
    pub routing_toml: Option<String>,
    /// dialogs.toml, written beside them and named in `[gateway]`.
    pub dialogs_toml: Option<String>,
    /// categories.toml, likewise.
    pub categories_toml: Option<String>,
    /// `[s2s.hosts]` entries: (domain, "ip:port").
    pub s2s_hosts: Vec<(String, String)>,
    /// `tls.ca_file`, relative to the server's dir (e.g. "certs/ca.crt" to
    /// trust peers signed by the server's own dev CA).
    pub ca_file: String,
    /// (bare JID, password) created with `switchboard account set`.
    pub accounts: Vec<(String, String)>,
}

impl Default for ServerOpts {
    fn default() -> Self {
        ServerOpts {
            db: Db::Sqlite,
            db_url: None,
            require_encryption: true,
            max_stanza_bytes: 262_144,
            limits_toml: "connections_per_address = 0\n\
                          new_connections_per_second = 0\n\
                          login_failures_per_address = 0\n\
                          login_failures_per_account = 0\n"
                .to_string(),
            extra_toml: String::new(),
            c2s_toml: String::new(),
            s2s_listen: "127.0.0.1:0".to_string(),
            s2s_toml: String::new(),
            s2s_hosts: Vec::new(),
            s2s_direct_tls: None,
            domains: None,
            dev_ca_from: None,
            agents_toml: None,
            routing_toml: None,
            dialogs_toml: None,
            categories_toml: None,
            ca_file: String::new(),
            accounts: Vec::new(),
        }
    }
}

impl ServerOpts {
    pub fn account(mut self, jid: &str, password: &str) -> Self {
        self.accounts.push((jid.to_string(), password.to_string()));
        self
    }

    pub fn db(mut self, db: Db) -> Self {
        self.db = db;
        self
    }

    pub fn db_url(mut self, url: impl Into<String>) -> Self {
        self.db_url = Some(url.into());
        self
    }

    pub fn c2s_toml(mut self, line: &str) -> Self {
        self.c2s_toml.push_str(line);
        self.c2s_toml.push('\n');
        self
    }

    pub fn s2s_toml(mut self, line: &str) -> Self {
        self.s2s_toml.push_str(line);
        self.s2s_toml.push('\n');
        self
    }

    pub fn s2s_listen(mut self, addr: &str) -> Self {
        self.s2s_listen = addr.to_string();
        self
    }

    pub fn s2s_host(mut self, domain: &str, addr: &str) -> Self {
        self.s2s_hosts.push((domain.to_string(), addr.to_string()));
        self
    }

    pub fn agents_toml(mut self, toml: &str) -> Self {
        self.agents_toml = Some(toml.to_string());
        self
    }

    pub fn dialogs_toml(mut self, toml: &str) -> Self {
        self.dialogs_toml = Some(toml.to_string());
        self
    }

    pub fn categories_toml(mut self, toml: &str) -> Self {
        self.categories_toml = Some(toml.to_string());
        self
    }

    pub fn routing_toml(mut self, toml: &str) -> Self {
        self.routing_toml = Some(toml.to_string());
        self
    }

    pub fn domains(mut self, support: &str, agent: &str) -> Self {
        self.domains = Some((support.to_string(), agent.to_string()));
        self
    }

    pub fn s2s_direct_tls(mut self, addr: &str) -> Self {
        self.s2s_direct_tls = Some(addr.to_string());
        self
    }

    pub fn dev_ca_from(mut self, cert_dir: &Path) -> Self {
        self.dev_ca_from = Some(cert_dir.to_path_buf());
        self
    }

    pub fn ca_file(mut self, path: &str) -> Self {
        self.ca_file = path.to_string();
        self
    }

    /// Replaces the `[limits]` lines (see [`ServerOpts::limits_toml`]).
    pub fn limits_toml(mut self, lines: &str) -> Self {
        self.limits_toml = lines.to_string();
        self
    }

    pub fn extra_toml(mut self, toml: &str) -> Self {
        self.extra_toml.push_str(toml);
        self.extra_toml.push('\n');
        self
    }
}

/// A running `switchboard serve` with its own temp dir, config and ports.
pub struct TestServer {
    dir: Option<tempfile::TempDir>,
    config: PathBuf,
    child: Option<Child>,
    stdout: Arc<Mutex<Vec<String>>>,
    ready: HashMap<String, String>,
    addrs: HashMap<String, SocketAddr>,
    pub c2s: SocketAddr,
    pub direct_tls: SocketAddr,
    pub support_domain: String,
    pub agent_domain: String,
    pub ca_file: PathBuf,
    pub opts: ServerOpts,
    /// Last, so the database is dropped after the server stopped.
    pg: Option<PgDatabase>,
}

impl TestServer {
    /// Write the config, make dev certificates, create the accounts, start
    /// the server and wait for its `ready ...` line.
    pub fn start(opts: ServerOpts) -> TestServer {
        let dir = tempfile::Builder::new()
            .prefix("switchboard-test-")
            .tempdir()
            .expect("creating a temp dir");
        let root = dir.path().to_path_buf();
        std::fs::create_dir_all(root.join("data")).unwrap();
        let config = root.join("switchboard.toml");
        let pg = (opts.db_url.is_none() && opts.db == Db::Postgres).then(PgDatabase::create);
        let db_url = match (&opts.db_url, &pg) {
            (Some(url), _) => url.clone(),
            (None, Some(pg)) => pg.url.clone(),
            (None, None) => "sqlite://data/switchboard.db".to_string(),
        };
        let (support_domain, agent_domain) = opts
            .domains
            .clone()
            .unwrap_or((SUPPORT_DOMAIN.to_string(), AGENT_DOMAIN.to_string()));
        if let Some(from) = &opts.dev_ca_from {
            let certs = root.join("certs");
            std::fs::create_dir_all(&certs).unwrap();
            for f in ["ca.crt", "ca.key"] {
                std::fs::copy(from.join(f), certs.join(f)).unwrap();
            }
        }
        let gateway = format!(
            "[gateway]\n{}{}",
            if opts.dialogs_toml.is_some() {
                "dialogs = \"dialogs.toml\"\n"
            } else {
                ""
            },
            if opts.categories_toml.is_some() {
                "categories = \"categories.toml\"\n"
            } else {
                ""
            }
        );
        let toml = format!(
            "[server]\n\
             support_domain = {support}\n\
             agent_domain = {agent}\n\
             \n\
             [database]\n\
             url = {db}\n\
             \n\
             [tls]\n\
             cert_dir = \"certs\"\n\
             ca_file = {ca}\n\
             \n\
             [c2s]\n\
             listen = [\"127.0.0.1:0\"]\n\
             direct_tls = [\"127.0.0.1:0\"]\n\
             require_encryption = {require}\n\
             {c2s}\n\
             [s2s]\n\
             listen = [{s2s_listen}]\n\
             direct_tls = [{s2s_direct}]\n\
             {s2s}\n\
             [s2s.hosts]\n\
             {hosts}\n\
             [limits]\n\
             max_stanza_bytes = {max}\n\
             {limits}\n\
             {gateway}\n\
             {extra}\n",
            gateway = gateway,
            support = toml_str(&support_domain),
            agent = toml_str(&agent_domain),
            s2s_direct = opts
                .s2s_direct_tls
                .as_deref()
                .map(toml_str)
                .unwrap_or_default(),
            db = toml_str(&db_url),
            require = opts.require_encryption,
            c2s = opts.c2s_toml,
            limits = opts.limits_toml,
            ca = toml_str(&opts.ca_file),
            s2s_listen = toml_str(&opts.s2s_listen),
            s2s = opts.s2s_toml,
            hosts = opts
                .s2s_hosts
                .iter()
                .map(|(d, a)| format!("{} = {}\n", toml_str(d), toml_str(a)))
                .collect::<String>(),
            max = opts.max_stanza_bytes,
            extra = opts.extra_toml,
        );
        std::fs::write(&config, toml).unwrap();
        // A queue must have an agent able to serve it; this one never logs in.
        let agents = opts.agents_toml.clone().unwrap_or_else(|| {
            format!(
                "[[agent]]\njid = \"duty@{agent_domain}\"\nname = \"Duty\"\n\
                 protocols = [\"xmpp\"]\nmax_live = 1\n"
            )
        });
        let routing = opts.routing_toml.clone().unwrap_or_else(|| {
            format!(
                "[[queue]]\nname = \"general\"\nentry = [\"help@{support_domain}\"]\n\
                 skills = []\nstrategy = \"longest-idle\"\n"
            )
        });
        std::fs::write(root.join("agents.toml"), agents).unwrap();
        std::fs::write(root.join("routing.toml"), routing).unwrap();
        if let Some(d) = &opts.dialogs_toml {
            std::fs::write(root.join("dialogs.toml"), d).unwrap();
        }
        if let Some(c) = &opts.categories_toml {
            std::fs::write(root.join("categories.toml"), c).unwrap();
        }

        let mut server = TestServer {
            dir: Some(dir),
            config,
            child: None,
            stdout: Arc::default(),
            ready: HashMap::new(),
            addrs: HashMap::new(),
            c2s: "0.0.0.0:0".parse().unwrap(),
            direct_tls: "0.0.0.0:0".parse().unwrap(),
            support_domain,
            agent_domain,
            ca_file: root.join("certs").join("ca.crt"),
            opts: opts.clone(),
            pg,
        };
        server.cli_ok(&["certs", "dev"]);
        assert!(
            server.ca_file.is_file(),
            "`switchboard certs dev` wrote no {}",
            server.ca_file.display()
        );
        for (jid, password) in &opts.accounts {
            server.cli_ok(&["account", "set", jid, "--password", password]);
        }
        server.spawn();
        server
    }

    /// Start `serve` (again) with this config and wait for `ready`.
    fn spawn(&mut self) {
        assert!(self.child.is_none(), "server already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap();
        let mut child = Command::new(bin())
            .arg("serve")
            .arg("--config")
            .arg(&self.config)
            .current_dir(self.path())
            .env("RUST_LOG", "switchboard=debug")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {} serve: {e}", bin().display()));
        let (tx, rx) = std_mpsc::channel::<String>();
        let stdout = child.stdout.take().unwrap();
        let lines = Arc::clone(&self.stdout);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                lines.lock().unwrap().push(line.clone());
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + START_TIMEOUT;
        let ready = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(fields) = parse_ready(&line) {
                        break Ok(fields);
                    }
                }
                Err(std_mpsc::RecvTimeoutError::Timeout) => {
                    break Err(format!("no `ready` line within {START_TIMEOUT:?}"))
                }
                Err(std_mpsc::RecvTimeoutError::Disconnected) => {
                    let status = wait_timeout(&mut child, Duration::from_secs(5));
                    break Err(format!("serve exited ({status:?}) before `ready`"));
                }
            }
        };
        let fields = match ready {
            Ok(fields) => fields,
            Err(why) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "switchboard serve did not start: {why}\nstdout:\n{}\nserver.log (tail):\n{}",
                    self.stdout.lock().unwrap().join("\n"),
                    tail(&self.log(), 80)
                );
            }
        };
        self.addrs = addrs_of(&fields);
        self.ready = fields;
        self.child = Some(child);
        self.c2s = self.addr("c2s");
        self.direct_tls = self.addr("direct_tls");
    }

    /// An address from the `ready` line, e.g. `addr("c2s")`.
    pub fn addr(&self, name: &str) -> SocketAddr {
        match self.addrs.get(name) {
            Some(addr) => *addr,
            None => panic!(
                "the server's ready line has no address {name}=...; it said {:?}",
                self.ready
            ),
        }
    }

    /// All `name=value` fields of the `ready` line.
    pub fn ready_fields(&self) -> &HashMap<String, String> {
        &self.ready
    }

    pub fn path(&self) -> &Path {
        self.dir.as_ref().unwrap().path()
    }

    pub fn config_path(&self) -> &Path {
        &self.config
    }

    pub fn log_path(&self) -> PathBuf {
        self.path().join("server.log")
    }

    /// The whole server log (stderr of every `serve` run in this dir).
    pub fn log(&self) -> String {
        std::fs::read(self.log_path())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// Lines the server printed on stdout (the `ready` line among them).
    pub fn stdout_lines(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    /// Wait until the log contains `needle`; returns the log.
    pub async fn wait_for_log(&self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let log = self.log();
            if log.contains(needle) {
                return log;
            }
            if Instant::now() >= deadline {
                panic!(
                    "server.log has no {needle:?} after {timeout:?}; tail:\n{}",
                    tail(&log, 80)
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Run another subcommand with this config: `switchboard ARGS --config FILE`.
    pub fn run_cli(&self, args: &[&str]) -> Output {
        Command::new(bin())
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .current_dir(self.path())
            .env("RUST_LOG", "switchboard=debug")
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("running {} {args:?}: {e}", bin().display()))
    }

    /// [`run_cli`](Self::run_cli), panicking unless it succeeds; returns stdout.
    pub fn cli_ok(&self, args: &[&str]) -> String {
        let out = self.run_cli(args);
        assert!(
            out.status.success(),
            "switchboard {args:?} failed ({}):\nstdout:\n{}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// One value the store holds now, as text: `sql` (a single-value
    /// SELECT) run on the server's database, PostgreSQL or SQLite alike.
    pub fn db_value(&self, sql: &str) -> String {
        if let Some(pg) = &self.pg {
            return pg.query(sql);
        }
        assert!(
            self.opts.db_url.is_none(),
            "db_value reads the test's own stores only"
        );
        // Python's sqlite3, beside the running server (WAL lets it read).
        let mut read = Command::new(python());
        read.args([
            "-c",
            "import sqlite3, sys\n\
             c = sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True)\n\
             print(c.execute(sys.argv[2]).fetchone()[0])",
        ])
        .arg(self.path().join("data/switchboard.db"))
        .arg(sql);
        stdout_of(read, &format!("sqlite3 {sql}"))
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// The server's peak resident memory so far (VmHWM), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        let pid = self.pid().expect("server running");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no VmHWM in /proc/{pid}/status"))
    }

    /// SIGTERM the server and wait (up to 10 s) for it to exit.
    pub fn stop_gracefully(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("server is not running");
        sigterm(child.id());
        match wait_timeout(&mut child, Duration::from_secs(10)) {
            Some(status) => status,
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "server did not exit within 10 s of SIGTERM; log tail:\n{}",
                    tail(&self.log(), 80)
                );
            }
        }
    }

    /// Stop (SIGTERM) and start again with the same dir and config. Ports
    /// change: the fields are updated from the new `ready` line.
    pub fn restart(&mut self) {
        if self.child.is_some() {
            let status = self.stop_gracefully();
            assert!(status.success(), "server exited with {status} on SIGTERM");
        }
        self.spawn();
    }

    /// SIGKILL (a crash), without waiting for anything graceful.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            sigterm(child.id());
            if wait_timeout(&mut child, Duration::from_secs(5)).is_none() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        if std::thread::panicking() {
            eprintln!(
                "---- server.log (last 80 lines) of {} ----\n{}\n---- end of server.log ----",
                self.path().display(),
                tail(&self.log(), 80)
            );
            if std::env::var_os("SWITCHBOARD_TEST_KEEP").is_some() {
                if let Some(dir) = self.dir.as_mut() {
                    dir.disable_cleanup(true);
                    eprintln!("kept {}", dir.path().display());
                }
            }
        }
    }
}
