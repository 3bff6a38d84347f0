//! TLS as the server, over rustls's unbuffered API, with the buffers owned
//! here.
//!
//! Why not tokio-rustls's `TlsStream`: a rustls `ServerConnection` keeps a
//! 4 KB receive buffer for as long as the connection lives, and most client
//! sessions are idle most of the time (it was the largest single item of an
//! idle session's memory). Here ciphertext is read into a per-thread
//! scratch buffer and decrypted from there; a connection keeps received
//! bytes only while a record is incomplete, and keeps nothing between
//! messages. Writes encrypt straight into the outgoing buffer, without
//! rustls's intermediate copy.

use std::cell::RefCell;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use rustls::server::{ServerConnectionData, UnbufferedServerConnection};
use rustls::unbuffered::{
    ConnectionState, EncodeError, EncodeTlsData, EncryptError, InsufficientSizeError,
    UnbufferedStatus,
};
use rustls_pki_types::CertificateDer;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Room for the largest TLS record (16 KB of payload plus header, padding
/// and tag), so one read never has to be split for lack of space.
const SCRATCH: usize = 18 * 1024;

/// Unsent ciphertext beyond which writers wait for the socket.
const HIGH_WATER: usize = 64 * 1024;

/// Bytes a record adds to its payload (TLS 1.3: header, content type, tag;
/// TLS 1.2 AES-GCM: header, explicit nonce, tag), per started 16 KB.
const RECORD_OVERHEAD: usize = 5 + 8 + 16 + 1;
const MAX_FRAGMENT: usize = 16 * 1024;

thread_local! {
    static SCRATCH_BUF: RefCell<Box<[u8]>> = RefCell::new(vec![0; SCRATCH].into_boxed_slice());
    /// The SNI name the last ClientHello on this thread asked for: the
    /// unbuffered connection does not keep it, the certificate resolver
    /// sees it (see `CertResolver`), and a handshake step runs on one
    /// thread without yielding.
    static SEEN_SNI: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Called by the certificate resolver with the ClientHello's server name.
pub(crate) fn note_sni(name: Option<&str>) {
    SEEN_SNI.with(|s| *s.borrow_mut() = name.map(str::to_string));
}

pub struct ServerTls {
    tcp: TcpStream,
    conn: UnbufferedServerConnection,
    /// Received ciphertext not processed yet: an incomplete record at most,
    /// and no allocation at all between messages.
    incoming: Vec<u8>,
    /// Decrypted bytes the reader has not taken yet, from `plain_at`.
    plain: Vec<u8>,
    plain_at: usize,
    /// Ciphertext to send, from `sent`.
    outgoing: Vec<u8>,
    sent: usize,
    sni: Option<String>,
    handshaking: bool,
    /// The peer closed its side (close_notify), or the TCP stream ended.
    eof: bool,
    /// Set once we queued our own close_notify.
    closing: bool,
}

impl ServerTls {
    /// Runs the server side of the handshake on `tcp`.
    pub async fn accept(
        tcp: TcpStream,
        config: Arc<rustls::ServerConfig>,
    ) -> io::Result<ServerTls> {
        let conn = UnbufferedServerConnection::new(config).map_err(tls_error)?;
        let mut tls = ServerTls {
            tcp,
            conn,
            incoming: Vec::new(),
            plain: Vec::new(),
            plain_at: 0,
            outgoing: Vec::new(),
            sent: 0,
            sni: None,
            handshaking: true,
            eof: false,
            closing: false,
        };
        std::future::poll_fn(|cx| tls.poll_handshake(cx)).await?;
        Ok(tls)
    }

    /// The name the client asked for (SNI), if any.
    pub fn server_name(&self) -> Option<&str> {
        self.sni.as_deref()
    }

    /// The client's certificate chain, if it showed one.
    pub fn peer_certificates(&self) -> Option<&[CertificateDer<'static>]> {
        self.conn.peer_certificates()
    }

    fn poll_handshake(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            // Our flight goes out before we wait for theirs.
            ready!(self.poll_send(cx))?;
            if !self.handshaking {
                return Poll::Ready(Ok(()));
            }
            if self.eof {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed during the TLS handshake",
                )));
            }
            ready!(self.poll_receive(cx, None))?;
        }
    }

    /// Runs rustls over `buf`: handshake messages are answered into
    /// `outgoing`, application data goes to `out` as far as it has room and
    /// to `plain` after. Returns how many bytes of `buf` were used; the rest
    /// is an incomplete record.
    fn process(&mut self, buf: &mut [u8], mut out: Option<&mut ReadBuf<'_>>) -> io::Result<usize> {
        let mut used = 0;
        loop {
            if self.handshaking {
                note_sni(None);
            }
            let UnbufferedStatus { mut discard, state } =
                self.conn.process_tls_records(&mut buf[used..]);
            let state = match state {
                Ok(state) => state,
                Err(e) => {
                    self.queue_alert();
                    return Err(tls_error(e));
                }
            };
            let mut done = false;
            match state {
                ConnectionState::ReadTraffic(mut r) => {
                    while let Some(record) = r.next_record() {
                        let record = record.map_err(tls_error)?;
                        discard += record.discard;
                        let mut payload = record.payload;
                        if let Some(out) = out.as_deref_mut() {
                            let n = payload.len().min(out.remaining());
                            out.put_slice(&payload[..n]);
                            payload = &payload[n..];
                        }
                        self.plain.extend_from_slice(payload);
                    }
                }
                ConnectionState::EncodeTlsData(mut e) => encode(&mut self.outgoing, &mut e)?,
                // Everything encoded so far sits in `outgoing`, which is
                // sent in order before anything encoded later.
                ConnectionState::TransmitTlsData(t) => t.done(),
                ConnectionState::PeerClosed | ConnectionState::Closed => {
                    self.eof = true;
                    done = true;
                }
                ConnectionState::BlockedHandshake => done = true,
                ConnectionState::WriteTraffic(_) => {
                    self.handshaking = false;
                    done = true;
                }
                ConnectionState::ReadEarlyData(_) => {
                    return Err(io::Error::other("TLS early data, which was not offered"))
                }
                other => return Err(io::Error::other(format!("TLS state {other:?}"))),
            }
            if self.handshaking && self.sni.is_none() {
                self.sni = SEEN_SNI.with(|s| s.borrow_mut().take());
            }
            used += discard;
            if done {
                return Ok(used);
            }
        }
    }

    /// After a fatal error rustls has an alert to send; it goes out if the
    /// socket takes it now, and is dropped otherwise.
    fn queue_alert(&mut self) {
        let UnbufferedStatus { state, .. } = self.conn.process_tls_records(&mut []);
        if let Ok(ConnectionState::EncodeTlsData(mut e)) = state {
            let mut alert = [0u8; 64];
            if let Ok(n) = e.encode(&mut alert) {
                let _ = self.tcp.try_write(&alert[..n]);
            }
        }
    }

    /// Reads what the socket has and processes it. Ready(Ok) means progress
    /// (data, a handshake step or EOF).
    fn poll_receive(
        &mut self,
        cx: &mut Context<'_>,
        out: Option<&mut ReadBuf<'_>>,
    ) -> Poll<io::Result<()>> {
        SCRATCH_BUF.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            // poll_read, not try_read: after a short read it marks the
            // socket not ready, where try_read left the next read to find
            // out with a recvfrom failing EAGAIN (one syscall in three of
            // plain relay at 2,000 msg/s).
            let mut filled = ReadBuf::new(&mut scratch[..]);
            ready!(Pin::new(&mut self.tcp).poll_read(cx, &mut filled))?;
            let n = filled.filled().len();
            if n == 0 {
                self.eof = true;
                return Poll::Ready(Ok(()));
            }
            if self.incoming.is_empty() {
                let used = self.process(&mut scratch[..n], out)?;
                self.incoming.extend_from_slice(&scratch[used..n]);
            } else {
                let mut incoming = std::mem::take(&mut self.incoming);
                incoming.extend_from_slice(&scratch[..n]);
                let used = self.process(&mut incoming, out)?;
                incoming.drain(..used);
                if !incoming.is_empty() {
                    self.incoming = incoming;
                }
            }
            Poll::Ready(Ok(()))
        })
    }

    /// Writes `outgoing` until it is empty, then releases it.
    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.outgoing.len() {
            let n = ready!(Pin::new(&mut self.tcp).poll_write(cx, &self.outgoing[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        self.outgoing = Vec::new();
        self.sent = 0;
        Poll::Ready(Ok(()))
    }

    /// Encrypts `data` into `outgoing`.
    fn encrypt(&mut self, data: &[u8]) -> io::Result<()> {
        let records = data.len().div_ceil(MAX_FRAGMENT).max(1);
        let mut need = data.len() + records * RECORD_OVERHEAD;
        loop {
            let UnbufferedStatus { state, .. } = self.conn.process_tls_records(&mut []);
            match state.map_err(tls_error)? {
                ConnectionState::WriteTraffic(mut w) => {
                    let at = self.outgoing.len();
                    self.outgoing.resize(at + need, 0);
                    match w.encrypt(data, &mut self.outgoing[at..]) {
                        Ok(n) => {
                            self.outgoing.truncate(at + n);
                            return Ok(());
                        }
                        Err(EncryptError::InsufficientSize(InsufficientSizeError {
                            required_size,
                        })) if required_size > need => {
                            self.outgoing.truncate(at);
                            need = required_size;
                        }
                        Err(e) => return Err(io::Error::other(format!("TLS encrypt: {e}"))),
                    }
                }
                ConnectionState::ReadTraffic(mut r) => {
                    // Decrypted earlier but not handed out: keep it.
                    while let Some(record) = r.next_record() {
                        self.plain
                            .extend_from_slice(record.map_err(tls_error)?.payload);
                    }
                }
                // A key update to answer, say.
                ConnectionState::EncodeTlsData(mut e) => encode(&mut self.outgoing, &mut e)?,
                ConnectionState::TransmitTlsData(t) => t.done(),
                ConnectionState::PeerClosed => self.eof = true,
                _ => return Err(io::ErrorKind::BrokenPipe.into()),
            }
        }
    }

    fn take_plain(&mut self, buf: &mut ReadBuf<'_>) {
        let n = (self.plain.len() - self.plain_at).min(buf.remaining());
        buf.put_slice(&self.plain[self.plain_at..self.plain_at + n]);
        self.plain_at += n;
        if self.plain_at == self.plain.len() {
            self.plain = Vec::new();
            self.plain_at = 0;
        }
    }
}

impl AsyncRead for ServerTls {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.plain_at < this.plain.len() {
                this.take_plain(buf);
                return Poll::Ready(Ok(()));
            }
            if this.eof {
                return Poll::Ready(Ok(()));
            }
            // Answers rustls owes the peer (a key update, tickets) go out
            // first; a full socket does not stop the reader.
            if this.sent < this.outgoing.len() {
                if let Poll::Ready(Err(e)) = this.poll_send(cx) {
                    return Poll::Ready(Err(e));
                }
            }
            let before = buf.filled().len();
            ready!(this.poll_receive(cx, Some(&mut *buf)))?;
            if buf.filled().len() > before {
                return Poll::Ready(Ok(()));
            }
        }
    }
}

impl AsyncWrite for ServerTls {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.outgoing.len() - this.sent >= HIGH_WATER {
            ready!(this.poll_send(cx))?;
        }
        this.encrypt(data)?;
        // Sent at once when the socket takes it; flush finishes the rest.
        if let Poll::Ready(Err(e)) = this.poll_send(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_send(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.closing {
            this.closing = true;
            let UnbufferedStatus { state, .. } = this.conn.process_tls_records(&mut []);
            if let Ok(ConnectionState::WriteTraffic(mut w)) = state {
                let mut alert = [0u8; 64];
                if let Ok(n) = w.queue_close_notify(&mut alert) {
                    this.outgoing.extend_from_slice(&alert[..n]);
                }
            }
        }
        ready!(this.poll_send(cx))?;
        Pin::new(&mut this.tcp).poll_shutdown(cx)
    }
}

/// Appends a handshake (or alert) record rustls has ready to `out`.
fn encode(out: &mut Vec<u8>, e: &mut EncodeTlsData<'_, ServerConnectionData>) -> io::Result<()> {
    let at = out.len();
    let mut room = 1024;
    loop {
        out.resize(at + room, 0);
        match e.encode(&mut out[at..]) {
            Ok(n) => {
                out.truncate(at + n);
                return Ok(());
            }
            Err(EncodeError::InsufficientSize(InsufficientSizeError { required_size }))
                if required_size > room =>
            {
                room = required_size;
            }
            Err(err) => {
                out.truncate(at);
                return Err(io::Error::other(format!("TLS encode: {err}")));
            }
        }
    }
}

fn tls_error(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

#[cfg(test)]
#[path = "server_tls_tests.rs"]
mod tests;
