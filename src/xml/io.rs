//! A transport with a framer: read frames, write bytes, reset on restart.
//! Generic over the transport, so every layer that reads a stream (the
//! negotiation, the session reader, components) shares one reading loop.

use std::cell::RefCell;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

use super::{Frame, Framer, StreamError, StreamErrorCondition};

pub struct XmlIo<T> {
    pub io: T,
    pub framer: Framer,
    /// A write the peer does not take within this fails like a broken
    /// stream (`[limits] send_timeout_secs`): a peer that stops reading
    /// must not hold its senders forever.
    pub send_timeout: std::time::Duration,
}

impl<T: AsyncRead + AsyncWrite + Unpin> XmlIo<T> {
    pub fn new(io: T, max_stanza: usize) -> Self {
        XmlIo {
            io,
            framer: Framer::new(max_stanza),
            send_timeout: std::time::Duration::from_secs(15),
        }
    }

    pub async fn next(&mut self) -> Result<Frame, StreamError> {
        read_frame(&mut self.io, &mut self.framer).await
    }

    pub async fn send(&mut self, data: &[u8]) -> Result<(), StreamError> {
        let write = async {
            self.io.write_all(data).await?;
            self.io.flush().await
        };
        match tokio::time::timeout(self.send_timeout, write).await {
            Ok(done) => Ok(done?),
            Err(_) => Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the peer took nothing for [limits] send_timeout_secs",
            )
            .into()),
        }
    }
}

/// Reads until the framer yields a frame. Shared by negotiation and the
/// session reader, which own the two halves differently.
pub async fn read_frame<R: AsyncRead + Unpin>(
    io: &mut R,
    framer: &mut Framer,
) -> Result<Frame, StreamError> {
    loop {
        if let Some(frame) = framer.next_frame()? {
            return Ok(frame);
        }
        if framer.is_closed() {
            return Err(StreamError::Closed);
        }
        let buf = framer.buffer();
        if buf.is_empty() {
            // Everything was framed: hand the storage back (stanzas still
            // in flight keep their part of it alive on their own).
            *buf = BytesMut::new();
        }
        let n = std::future::poll_fn(|cx| poll_read_into(Pin::new(&mut *io), cx, buf)).await?;
        if n == 0 {
            return Err(StreamError::Closed);
        }
        // Shaping by not reading: what the peer sends beyond its rate
        // waits in its socket and in the network, not in our memory.
        match framer.allowance.read(n) {
            Ok(None) => {}
            Ok(Some(pause)) => tokio::time::sleep(pause).await,
            Err(spent) => {
                return Err(StreamError::protocol(
                    StreamErrorCondition::PolicyViolation,
                    spent.to_string(),
                ))
            }
        }
    }
}

/// Per worker thread: what a read lands in before it is appended to the
/// stream's own buffer.
const SCRATCH: usize = 16 * 1024;

thread_local! {
    static SCRATCH_BUF: RefCell<Box<[u8]>> = RefCell::new(vec![0; SCRATCH].into_boxed_slice());
}

/// Reads through a per-thread scratch buffer, so a stream waiting for data
/// owns no read buffer: most client sessions are idle most of the time, and
/// a buffer reserved for the next read was 4-8 KB each. The copy is of
/// bytes just read, cheap next to the read itself.
fn poll_read_into<R: AsyncRead + Unpin>(
    io: Pin<&mut R>,
    cx: &mut Context<'_>,
    dst: &mut BytesMut,
) -> Poll<std::io::Result<usize>> {
    SCRATCH_BUF.with(|scratch| {
        let mut scratch = scratch.borrow_mut();
        let mut rb = ReadBuf::new(&mut scratch[..]);
        match io.poll_read(cx, &mut rb) {
            Poll::Ready(Ok(())) => {
                dst.extend_from_slice(rb.filled());
                Poll::Ready(Ok(rb.filled().len()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    })
}
