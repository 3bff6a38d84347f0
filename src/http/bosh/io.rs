//! A BOSH session as the byte stream of an XMPP stream: the c2s
//! negotiation and the session read the payloads of the client's requests
//! (with the stream headers a creation and a restart stand for), and what
//! they write is cut back into elements ([`Reframer`]) for the responses.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

use super::session::{Session, INBOUND_LIMIT};
use super::Sessions;
use crate::http::Slot;
use crate::xml::framing::{Outbound, Reframer};

/// Bytes the server may have queued for a session with no request to
/// carry them before its writer waits (a slow browser slows it down).
const QUEUE_LIMIT: usize = 64 * 1024;

pub struct BoshIo {
    session: Arc<Session>,
    sessions: Sessions,
    reframer: Reframer,
    /// The client address's place, for as long as the stream lasts.
    _slot: Slot,
}

impl BoshIo {
    pub(super) fn new(session: Arc<Session>, sessions: Sessions, slot: Slot, max: usize) -> BoshIo {
        BoshIo {
            session,
            sessions,
            reframer: Reframer::new(max),
            _slot: slot,
        }
    }
}

impl AsyncRead for BoshIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut st = self.session.lock();
        if !st.inbound.is_empty() {
            let n = st.inbound.len().min(buf.remaining());
            buf.put_slice(&st.inbound.split_to(n));
            if st.inbound.is_empty() {
                // An idle session keeps no buffer.
                st.inbound = Default::default();
            }
            if st.inbound.len() <= INBOUND_LIMIT {
                self.session.drained.notify_waiters();
            }
            return Poll::Ready(Ok(()));
        }
        if st.over.is_some() {
            // The end of the connection, as a TCP stream's would read.
            return Poll::Ready(Ok(()));
        }
        st.read_waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl AsyncWrite for BoshIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let session = &this.session;
        let mut st = session.lock();
        if st.over.is_some() {
            // Nobody will read it; the stream ends on its own side.
            return Poll::Ready(Ok(data.len()));
        }
        if st.queue.len() >= QUEUE_LIMIT {
            session.deliver(&mut st, Instant::now());
            if st.queue.len() >= QUEUE_LIMIT {
                st.write_waker = Some(cx.waker().clone());
                return Poll::Pending;
            }
        }
        let mut frames = Vec::new();
        this.reframer
            .push(data, &mut frames)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        for f in frames {
            match f {
                Outbound::Open(h) => st.authid = h.id,
                Outbound::Element(s) => {
                    if s.bytes().starts_with(b"<stream:error") {
                        st.stream_error = true;
                    }
                    st.queue.extend_from_slice(s.bytes());
                }
                Outbound::Close => st.closed = true,
            }
        }
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut st = self.session.lock();
        self.session.deliver(&mut st, Instant::now());
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut st = self.session.lock();
        st.closed = true;
        self.session.deliver(&mut st, Instant::now());
        Poll::Ready(Ok(()))
    }
}

impl Drop for BoshIo {
    fn drop(&mut self) {
        // The stream is over. A request held now learns it at once; if
        // none is, the next one does (the session stays findable until
        // then, or until its inactivity runs out).
        let mut st = self.session.lock();
        st.closed = true;
        self.session.deliver(&mut st, Instant::now());
        if st.over.is_some() {
            drop(st);
            self.sessions.remove(&self.session.terms.sid);
        }
    }
}
