//! [`Browser`]: a real headless Chromium (Debian's `/usr/bin/chromium`)
//! driven by Playwright (`tests/web/lib/browser.mjs`) over JSON lines. It
//! serves `tests/web/pages/` and converse.js's `dist/` from a static server
//! of its own on 127.0.0.1 ([`Browser::origin`]), so pages have an http
//! origin and reach Switchboard's HTTP listener cross-origin, as a
//! company's site does.

use super::{manifest_dir, tail};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{mpsc as std_mpsc, Arc, Mutex};
use std::time::Duration;

pub struct Browser {
    child: Child,
    stdin: ChildStdin,
    replies: std_mpsc::Receiver<Value>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    origin: String,
    next_id: u64,
}

/// The Node.js the test command installed (`SWITCHBOARD_NODE`), else `node`.
fn node() -> PathBuf {
    std::env::var_os("SWITCHBOARD_NODE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("node"))
}

/// Where screenshots and other artifacts of the web tests go.
pub fn artifacts() -> PathBuf {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest_dir().join("target"))
        .join("web-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl Browser {
    pub fn start() -> Browser {
        let script = manifest_dir().join("tests/web/lib/browser.mjs");
        assert!(
            manifest_dir()
                .join("tests/web/node_modules/playwright-core")
                .is_dir(),
            "tests/web/node_modules is missing: run scripts/test --setup-only (npm ci in tests/web)"
        );
        let mut child = Command::new(node())
            .arg(&script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {} {}: {e}", node().display(), script.display()));
        let (tx, replies) = std_mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    if tx.send(v).is_err() {
                        break;
                    }
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
                if buf.len() >= 200 {
                    buf.pop_front();
                }
                buf.push_back(line);
            }
        });
        let stdin = child.stdin.take().unwrap();
        let mut b = Browser {
            child,
            stdin,
            replies,
            stderr,
            origin: String::new(),
            next_id: 0,
        };
        let ready = b.recv(Duration::from_secs(60));
        b.origin = ready["origin"]
            .as_str()
            .unwrap_or_else(|| b.fail(&format!("no origin in {ready}")))
            .to_string();
        b
    }

    /// The static server's origin (`http://127.0.0.1:PORT`).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    fn recv(&mut self, timeout: Duration) -> Value {
        match self.replies.recv_timeout(timeout) {
            Ok(v) => v,
            Err(_) => self.fail("no answer from the browser driver"),
        }
    }

    fn fail(&mut self, why: &str) -> ! {
        let stderr: Vec<String> = self.stderr.lock().unwrap().iter().cloned().collect();
        panic!(
            "browser: {why}\nbrowser.mjs stderr:\n{}",
            tail(&stderr.join("\n"), 40)
        );
    }

    /// Runs one command; its value, or a panic with the page's console.
    pub fn run(&mut self, mut cmd: Value) -> Value {
        self.try_run(&mut cmd).unwrap_or_else(|e| {
            let console = self.try_run(&mut json!({"cmd": "console"}));
            self.fail(&format!("{cmd} failed: {e}\npage console:\n{console:#?}"))
        })
    }

    /// Runs one command; Err with the driver's message if it failed.
    pub fn try_run(&mut self, cmd: &mut Value) -> Result<Value, String> {
        self.next_id += 1;
        let id = self.next_id;
        cmd["id"] = json!(id);
        let mut line = serde_json::to_string(cmd).unwrap();
        line.push('\n');
        if let Err(e) = self
            .stdin
            .write_all(line.as_bytes())
            .and_then(|_| self.stdin.flush())
        {
            self.fail(&format!("writing to the driver failed: {e}"));
        }
        // A command's own timeout is under this one.
        let limit = Duration::from_secs(90);
        loop {
            let v = self.recv(limit);
            if v["id"] != json!(id) {
                continue;
            }
            return if v["ok"] == json!(true) {
                Ok(v["value"].clone())
            } else {
                Err(v["error"].as_str().unwrap_or("?").to_string())
            };
        }
    }

    pub fn open(&mut self, url: &str) -> Value {
        self.run(json!({"cmd": "open", "url": url}))
    }

    pub fn eval(&mut self, js: &str) -> Value {
        self.run(json!({"cmd": "eval", "js": js}))
    }

    /// Waits until a JavaScript expression is truthy; its value.
    pub fn wait_js(&mut self, js: &str) -> Value {
        self.run(json!({"cmd": "wait_js", "js": js}))
    }

    /// Waits for an element matching `selector` that contains `text`.
    pub fn wait_text(&mut self, selector: &str, text: &str) -> String {
        let v = self.run(json!({"cmd": "wait_text", "selector": selector, "text": text}));
        v.as_str().unwrap_or_default().to_string()
    }

    pub fn screenshot(&mut self, name: &str) -> PathBuf {
        let path = artifacts().join(name);
        self.run(json!({"cmd": "screenshot", "path": path}));
        path
    }

    /// What the page logged since the last call.
    pub fn console(&mut self) -> Vec<String> {
        let v = self.run(json!({"cmd": "console"}));
        serde_json::from_value(v).unwrap_or_default()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.stdin.write_all(b"{\"cmd\":\"close\",\"id\":0}\n");
        let _ = self.stdin.flush();
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
