//! [`RawConn`]: plain TCP for feeding a server bad input.

use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A plain TCP connection for feeding a server bad input.
pub struct RawConn {
    stream: TcpStream,
    received: Vec<u8>,
    consumed: usize,
    closed: bool,
}

impl RawConn {
    pub async fn connect(addr: SocketAddr) -> RawConn {
        let stream = TcpStream::connect(addr)
            .await
            .unwrap_or_else(|e| panic!("connecting to {addr}: {e}"));
        RawConn {
            stream,
            received: Vec::new(),
            consumed: 0,
            closed: false,
        }
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream
            .write_all(bytes)
            .await
            .unwrap_or_else(|e| panic!("RawConn send failed: {e}"));
    }

    /// Send, ignoring errors (the server may already have closed).
    pub async fn try_send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await
    }

    /// Read until the text received since the previous match contains
    /// `needle`; returns that text (lossy UTF-8). Panics with what it got on
    /// timeout or close.
    pub async fn read_until(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let pending = &self.received[self.consumed..];
            if let Some(pos) = find(pending, needle.as_bytes()) {
                let text = String::from_utf8_lossy(pending).into_owned();
                self.consumed += pos + needle.len();
                return text;
            }
            if self.closed {
                panic!(
                    "connection closed before {needle:?}; got: {:?}",
                    String::from_utf8_lossy(pending)
                );
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "no {needle:?} within {timeout:?}; got: {:?}",
                    String::from_utf8_lossy(pending)
                );
            }
            self.read_some(deadline).await;
        }
    }

    /// Read until the peer closes; returns all text not yet returned.
    pub async fn read_to_close(&mut self, timeout: Duration) -> String {
        let deadline = tokio::time::Instant::now() + timeout;
        while !self.closed {
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "connection still open after {timeout:?}; got: {:?}",
                    String::from_utf8_lossy(&self.received[self.consumed..])
                );
            }
            self.read_some(deadline).await;
        }
        let text = String::from_utf8_lossy(&self.received[self.consumed..]).into_owned();
        self.consumed = self.received.len();
        text
    }

    /// Everything received so far (lossy), including what was returned.
    pub fn received(&self) -> String {
        String::from_utf8_lossy(&self.received).into_owned()
    }

    pub fn is_closed(&self) -> bool {
        self.closed
    }

    async fn read_some(&mut self, deadline: tokio::time::Instant) {
        let mut buf = [0u8; 16384];
        match tokio::time::timeout_at(deadline, self.stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => self.closed = true, // EOF or reset
            Ok(Ok(n)) => self.received.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}
