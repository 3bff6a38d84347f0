//! [`Dnsmasq`]: a real DNS server on loopback, serving SRV and address
//! records for `.test` domains to the server under test.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream, UdpSocket};

const DNSMASQ: &str = "/usr/sbin/dnsmasq";

/// A dnsmasq serving `records` (its command-line options), killed by PID
/// when dropped.
pub struct Dnsmasq {
    child: Child,
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Dnsmasq {
    pub async fn start(records: &[String]) -> Dnsmasq {
        Dnsmasq::start_on(None, records).await
    }

    /// On `port` (a free one if None; a given port is not retried).
    pub async fn start_on(fixed: Option<u16>, records: &[String]) -> Dnsmasq {
        assert!(
            std::path::Path::new(DNSMASQ).exists(),
            "{DNSMASQ} is missing: install the Debian package dnsmasq-base (scripts/test does)"
        );
        // The port is free when we look; another process may take it before
        // dnsmasq binds it, so a start that loses that race is retried.
        for _ in 0..5 {
            let port = match fixed {
                Some(p) => p,
                None => free_udp_port().await,
            };
            let dir = tempfile::tempdir().unwrap();
            let log: PathBuf = dir.path().join("dnsmasq.log");
            let child = Command::new(DNSMASQ)
                .args([
                    "--no-daemon",
                    "--conf-file=/dev/null",
                    "--no-resolv",
                    "--no-hosts",
                    "--bind-interfaces",
                    "--listen-address=127.0.0.1",
                    // Names under .test that we did not define are NXDOMAIN,
                    // not REFUSED for want of an upstream server.
                    "--local=/test/",
                ])
                .arg(format!("--port={port}"))
                .arg(format!("--pid-file={}", dir.path().join("pid").display()))
                .args(records)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).unwrap())
                .spawn()
                .expect("start dnsmasq");
            let mut dns = Dnsmasq {
                child,
                addr: SocketAddr::from(([127, 0, 0, 1], port)),
                _dir: dir,
            };
            if dns.ready().await {
                return dns;
            }
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            assert!(
                fixed.is_none() && text.contains("in use"),
                "dnsmasq did not start:\n{text}"
            );
        }
        panic!("dnsmasq found no free port");
    }

    /// Waits until dnsmasq accepts DNS over TCP on its port (it binds UDP
    /// and TCP together, before serving), or exits, or 10 s pass.
    async fn ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if self.child.try_wait().unwrap().is_some() {
                return false;
            }
            if TcpStream::connect(self.addr).await.is_ok() {
                return true;
            }
            assert!(Instant::now() < deadline, "dnsmasq did not answer in 10 s");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// A port free now for both UDP and TCP (dnsmasq binds both), from below
/// the kernel's ephemeral range (32768-60999 on Linux): a port handed out
/// for `:0` binds and outgoing connections, as the servers started after
/// the pick make, never lands there.
pub async fn free_udp_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    // Spread over the range by process, then stepped per call, so that
    // test binaries running side by side start apart.
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let base = 20_000 + (std::process::id() % 1_000) as u16 * 12;
    for _ in 0..2_000 {
        let port = 20_000 + (base - 20_000 + NEXT.fetch_add(1, Ordering::Relaxed)) % 12_000;
        let addr = ("127.0.0.1", port);
        if let (Ok(_udp), Ok(_tcp)) = (UdpSocket::bind(addr).await, TcpListener::bind(addr).await) {
            return port;
        }
    }
    panic!("no port free for both UDP and TCP below the ephemeral range");
}
