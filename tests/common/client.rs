//! [`Client`]: slixmpp (`tests/clients/xmppc.py`) driven over JSON lines.

use super::{clip, manifest_dir, python, Endpoint, START_TIMEOUT, TIMEOUT};
use serde_json::{json, Map, Value};
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How the client secures its stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)]
pub enum Tls {
    StartTls,
    Direct,
    None,
}

/// Options of a [`Client`]; each maps to a flag of xmppc.py.
#[derive(Clone, Debug)]
pub struct ClientOpts {
    pub tls: Tls,
    /// Force one SASL mechanism (SCRAM-SHA-256, SCRAM-SHA-1, PLAIN...).
    pub mech: Option<String>,
    pub resource: Option<String>,
    /// XEP-0198 with resumption.
    pub sm: bool,
    /// Enable XEP-0280 after session start.
    pub carbons: bool,
    /// Send initial presence.
    pub presence: bool,
    /// Fetch the roster at session start (makes the resource "interested",
    /// so it gets roster pushes).
    pub roster: bool,
    pub priority: Option<i32>,
    pub software_name: Option<String>,
    pub software_version: Option<String>,
    pub caps_node: Option<String>,
    /// Do not verify the server certificate.
    pub no_verify: bool,
    /// Further raw flags for xmppc.py.
    pub args: Vec<String>,
}

impl Default for ClientOpts {
    fn default() -> Self {
        ClientOpts {
            tls: Tls::StartTls,
            mech: None,
            resource: None,
            sm: true,
            carbons: false,
            presence: true,
            roster: true,
            priority: None,
            software_name: None,
            software_version: None,
            caps_node: None,
            no_verify: false,
            args: Vec::new(),
        }
    }
}

impl ClientOpts {
    pub fn tls(mut self, tls: Tls) -> Self {
        self.tls = tls;
        self
    }
    pub fn mech(mut self, mech: &str) -> Self {
        self.mech = Some(mech.to_string());
        self
    }
    pub fn resource(mut self, resource: &str) -> Self {
        self.resource = Some(resource.to_string());
        self
    }
    pub fn no_sm(mut self) -> Self {
        self.sm = false;
        self
    }
    pub fn carbons(mut self) -> Self {
        self.carbons = true;
        self
    }
    pub fn no_presence(mut self) -> Self {
        self.presence = false;
        self
    }
    pub fn no_roster(mut self) -> Self {
        self.roster = false;
        self
    }
    pub fn priority(mut self, priority: i32) -> Self {
        self.priority = Some(priority);
        self
    }
    pub fn software(mut self, name: &str, version: &str) -> Self {
        self.software_name = Some(name.to_string());
        self.software_version = Some(version.to_string());
        self
    }
    pub fn caps_node(mut self, node: &str) -> Self {
        self.caps_node = Some(node.to_string());
        self
    }

    fn to_args(&self) -> Vec<String> {
        let mut args = vec![
            "--tls".to_string(),
            match self.tls {
                Tls::StartTls => "starttls",
                Tls::Direct => "direct",
                Tls::None => "none",
            }
            .to_string(),
        ];
        let mut opt = |flag: &str, value: &Option<String>| {
            if let Some(v) = value {
                args.push(flag.to_string());
                args.push(v.clone());
            }
        };
        opt("--mech", &self.mech);
        opt("--resource", &self.resource);
        opt("--software-name", &self.software_name);
        opt("--software-version", &self.software_version);
        opt("--caps-node", &self.caps_node);
        opt("--priority", &self.priority.map(|p| p.to_string()));
        for (on, flag) in [
            (!self.sm, "--no-sm"),
            (self.carbons, "--carbons"),
            (!self.presence, "--no-presence"),
            (!self.roster, "--no-roster"),
            (self.no_verify, "--no-verify"),
        ] {
            if on {
                args.push(flag.to_string());
            }
        }
        args.extend(self.args.iter().cloned());
        args
    }
}

static TAGS: AtomicU64 = AtomicU64::new(1);

/// A real XMPP client (slixmpp in `tests/clients/xmppc.py`), driven over
/// JSON lines. Events not consumed by one `expect` stay in a backlog for the
/// next.
pub struct Client {
    pub name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    events: mpsc::UnboundedReceiver<Value>,
    backlog: VecDeque<Value>,
    seen: Vec<Value>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    /// A panic message already carried the diagnostics.
    reported: bool,
}

impl Client {
    /// Start a client logging in to `server` as `jid` (bare) with `password`;
    /// it trusts the server's CA and verifies its certificate for the JID's
    /// domain. Returns at once: see [`wait_session_start`](Self::wait_session_start)
    /// or [`login`](Self::login).
    pub fn connect(server: &impl Endpoint, jid: &str, password: &str, opts: ClientOpts) -> Client {
        Client::connect_to(
            server.c2s_addr(opts.tls),
            Some(server.ca()),
            jid,
            password,
            opts,
        )
    }

    /// [`connect`](Self::connect) and wait for the session to start.
    pub async fn login(
        server: &impl Endpoint,
        jid: &str,
        password: &str,
        opts: ClientOpts,
    ) -> Client {
        let mut client = Client::connect(server, jid, password, opts);
        client.wait_session_start().await;
        client
    }

    /// Connect to an explicit address; `ca`: the CA file to trust.
    pub fn connect_to(
        addr: SocketAddr,
        ca: Option<&Path>,
        jid: &str,
        password: &str,
        opts: ClientOpts,
    ) -> Client {
        let mut cmd = Command::new(python());
        cmd.arg(manifest_dir().join("tests/clients/xmppc.py"))
            .args(["--jid", jid, "--password", password])
            .args(["--host", &addr.ip().to_string()])
            .args(["--port", &addr.port().to_string()])
            .args(["--log-level", "DEBUG"])
            .args(opts.to_args());
        if let Some(ca) = ca {
            cmd.arg("--ca").arg(ca);
        }
        let name = match &opts.resource {
            Some(r) => format!("{jid}/{r}"),
            None => jid.to_string(),
        };
        Client::spawn(cmd, name)
    }

    /// A transport component (`tests/clients/transport.py`, slixmpp)
    /// connected to `addr` as `domain` with `secret`; `args` are more of its
    /// flags (`--max-length 160`, `--silent-disco`...). Waits until the
    /// handshake is accepted.
    pub async fn transport(addr: SocketAddr, domain: &str, secret: &str, args: &[&str]) -> Client {
        let mut cmd = Command::new(python());
        cmd.arg(manifest_dir().join("tests/clients/transport.py"))
            .args(["--domain", domain, "--secret", secret])
            .args(["--host", &addr.ip().to_string()])
            .args(["--port", &addr.port().to_string()])
            .args(["--log-level", "DEBUG"])
            .args(args);
        let mut t = Client::spawn(cmd, domain.to_string());
        t.expect_event("session_start").await;
        t
    }

    fn spawn(mut cmd: Command, name: String) -> Client {
        let mut child = cmd
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {} for {name}: {e}", python().display()));

        let (tx, events) = mpsc::unbounded_channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let event = serde_json::from_str(&line)
                    .unwrap_or_else(|_| json!({"event": "_unparsed", "line": line}));
                if tx.send(event).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        let sink = Arc::clone(&stderr);
        let pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                let mut buf = sink.lock().unwrap();
                if buf.len() >= 400 {
                    buf.pop_front();
                }
                buf.push_back(line);
            }
        });
        Client {
            name,
            stdin: child.stdin.take(),
            child,
            events,
            backlog: VecDeque::new(),
            seen: Vec::new(),
            stderr,
            reported: false,
        }
    }

    /// Send one command, e.g. `json!({"cmd": "presence", "show": "away"})`.
    pub fn send(&mut self, cmd: Value) {
        let mut line = serde_json::to_string(&cmd).unwrap();
        line.push('\n');
        let stdin = self
            .stdin
            .as_mut()
            .expect("stdin of xmppc.py already closed");
        if let Err(e) = stdin.write_all(line.as_bytes()).and_then(|_| stdin.flush()) {
            self.fail(format!("writing to xmppc.py failed ({e}); has it exited?"));
        }
    }

    /// Wait for an event matching `pred` (looking at the backlog first);
    /// unmatched events stay in the backlog. Panics on timeout or if the
    /// client exits, listing what it saw.
    pub async fn expect(&mut self, pred: impl Fn(&Value) -> bool, timeout: Duration) -> Value {
        self.expect_what("an event matching the predicate", pred, timeout)
            .await
    }

    /// [`expect`](Self::expect) with a description for the panic message.
    pub async fn expect_what(
        &mut self,
        what: &str,
        pred: impl Fn(&Value) -> bool,
        timeout: Duration,
    ) -> Value {
        if let Some(i) = self.backlog.iter().position(&pred) {
            return self.backlog.remove(i).unwrap();
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(event)) => {
                    self.seen.push(event.clone());
                    if pred(&event) {
                        return event;
                    }
                    self.backlog.push_back(event);
                }
                Ok(None) => self.fail(format!("xmppc.py exited while waiting for {what}")),
                Err(_) => self.fail(format!("no {what} within {timeout:?}")),
            }
        }
    }

    /// The next event named `event` (e.g. "presence", "sm").
    pub async fn expect_event(&mut self, event: &str) -> Value {
        self.expect_what(
            &format!("{event:?} event"),
            |e| e["event"] == event,
            TIMEOUT,
        )
        .await
    }

    /// Assert that no event matching `pred` arrives within `within`
    /// (others go to the backlog). Checks the backlog too.
    pub async fn expect_none(&mut self, pred: impl Fn(&Value) -> bool, within: Duration) {
        if let Some(e) = self.backlog.iter().find(|&e| pred(e)).cloned() {
            self.fail(format!("unexpected event {e}"));
        }
        let deadline = tokio::time::Instant::now() + within;
        while let Ok(Some(event)) = tokio::time::timeout_at(deadline, self.events.recv()).await {
            self.seen.push(event.clone());
            if pred(&event) {
                self.fail(format!("unexpected event {event}"));
            }
            self.backlog.push_back(event);
        }
    }

    /// Send `cmd` with a fresh tag and return its one tagged reply: the
    /// answer event, `{"event":"ok"}`, `{"event":"error"}`, or an `iq_result`
    /// of type "error".
    pub async fn request(&mut self, cmd: Value) -> Value {
        self.request_timeout(cmd, Duration::from_secs(30)).await
    }

    pub async fn request_timeout(&mut self, mut cmd: Value, timeout: Duration) -> Value {
        let tag = format!("r{}", TAGS.fetch_add(1, Ordering::Relaxed));
        let what = format!("reply tagged {tag} to {cmd}");
        cmd.as_object_mut()
            .expect("a command is a JSON object")
            .insert("tag".into(), Value::String(tag.clone()));
        self.send(cmd);
        self.expect_what(&what, |e| e["tag"] == tag.as_str(), timeout)
            .await
    }

    /// [`request`](Self::request), panicking if the reply is an error.
    pub async fn request_ok(&mut self, cmd: Value) -> Value {
        let what = cmd.to_string();
        let reply = self.request(cmd).await;
        let failed = reply["event"] == "error"
            || (reply["event"] == "iq_result" && reply["type"] == "error");
        if failed {
            self.fail(format!("{what} failed: {reply}"));
        }
        reply
    }

    /// Wait for the session (after roster, presence, carbons and SM
    /// negotiation); returns the bound full JID. Panics at once if the login
    /// fails (auth, TLS, stream error, disconnection).
    pub async fn wait_session_start(&mut self) -> String {
        let event = self
            .expect_what(
                "session_start",
                |e| {
                    let ev = &e["event"];
                    ev == "session_start"
                        || ev == "auth_failed"
                        || ev == "negotiation_failed"
                        || ev == "tls_failed"
                        || ev == "connection_failed"
                        || ev == "stream_error"
                        || ev == "disconnected"
                },
                START_TIMEOUT,
            )
            .await;
        if event["event"] != "session_start" {
            self.fail(format!("login failed: {event}"));
        }
        event["jid"].as_str().unwrap_or_default().to_string()
    }

    /// Send a chat message; returns its id.
    pub async fn message(&mut self, to: &str, body: &str) -> String {
        let reply = self
            .request_ok(json!({"cmd": "message", "to": to, "body": body}))
            .await;
        reply["id"].as_str().unwrap_or_default().to_string()
    }

    /// Wait for a message whose `from` starts with `from_prefix` and whose
    /// body is `body`.
    pub async fn expect_message(&mut self, from_prefix: &str, body: &str) -> Value {
        let what = format!("message from {from_prefix}* with body {body:?}");
        self.expect_what(
            &what,
            |e| {
                e["event"] == "message"
                    && e["body"] == body
                    && e["from"]
                        .as_str()
                        .is_some_and(|f| f.starts_with(from_prefix))
            },
            TIMEOUT,
        )
        .await
    }

    /// Wait for a presence from `from_prefix*` of `type_` ("available",
    /// "unavailable", "subscribe"...).
    pub async fn expect_presence(&mut self, from_prefix: &str, type_: &str) -> Value {
        let what = format!("presence type={type_} from {from_prefix}*");
        self.expect_what(
            &what,
            |e| {
                e["event"] == "presence"
                    && e["type"] == type_
                    && e["from"]
                        .as_str()
                        .is_some_and(|f| f.starts_with(from_prefix))
            },
            TIMEOUT,
        )
        .await
    }

    /// Every event received so far, matched or not.
    pub fn seen(&self) -> &[Value] {
        &self.seen
    }

    /// Events received but not yet matched by an `expect`.
    pub fn backlog(&self) -> &VecDeque<Value> {
        &self.backlog
    }

    /// Close the stream cleanly and wait for the process to exit.
    pub async fn disconnect(mut self) {
        self.request(json!({"cmd": "disconnect"})).await;
        self.expect_event("disconnected").await;
        self.stdin = None;
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.fail("xmppc.py did not exit after disconnect".to_string());
    }

    /// Panic with `msg` and this client's diagnostics.
    fn fail(&mut self, msg: String) -> ! {
        self.reported = true;
        panic!("{}: {msg}\n{}", self.name, self.diagnostics());
    }

    /// The last events and stderr lines, for panic messages.
    pub fn diagnostics(&self) -> String {
        let mut out = String::from("events seen (last 40):\n");
        let start = self.seen.len().saturating_sub(40);
        for e in &self.seen[start..] {
            let _ = writeln!(out, "  {}", clip(&e.to_string(), 400));
        }
        out.push_str("xmppc.py stderr (last 40 lines):\n");
        let err = self.stderr.lock().unwrap();
        let start = err.len().saturating_sub(40);
        for line in err.iter().skip(start) {
            let _ = writeln!(out, "  {}", clip(line, 400));
        }
        out
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if std::thread::panicking() && !self.reported {
            eprintln!("---- client {} ----\n{}", self.name, self.diagnostics());
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Build a command object: `cmd("message", json!({"to": .., "body": ..}))`.
pub fn cmd(name: &str, fields: Value) -> Value {
    let mut obj = match fields {
        Value::Object(map) => map,
        Value::Null => Map::new(),
        other => panic!("command fields must be an object, not {other}"),
    };
    obj.insert("cmd".into(), Value::String(name.into()));
    Value::Object(obj)
}
