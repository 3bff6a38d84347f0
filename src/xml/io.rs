//! A transport with a framer: read frames, write bytes, reset on restart.
//! Generic over the transport, so every layer that reads a stream (the
//! negotiation, the session reader, components) shares one reading loop.

use std::cell::RefCell;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

use super::{Frame, Framer, StreamError};

pub struct XmlIo<T> {
    pub io: T,
    pub framer: Framer,
}

impl<T: AsyncRead + AsyncWrite + Unpin> XmlIo<T> {
    pub fn new(io: T, max_stanza: usize) -> Self {
        XmlIo {
            io,
            framer: Framer::new(max_stanza),
        }
    }

    pub async fn next(&mut self) -> Result<Frame, StreamError> {
        read_frame(&mut self.io, &mut self.framer).await
    }

    pub async fn send(&mut self, data: &[u8]) -> Result<(), StreamError> {
        self.io.write_all(data).await?;
        self.io.flush().await?;
        Ok(())
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
