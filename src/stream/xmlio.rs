//! A transport with a framer: read frames, write bytes, reset on restart.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::StreamError;
use crate::xml::{escape_attr, Frame, Framer};

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
        buf.reserve(4096);
        if io.read_buf(buf).await? == 0 {
            return Err(StreamError::Closed);
        }
    }
}

/// Our stream header (RFC 6120 §4.7), answering a peer's.
pub fn header(default_ns: &str, from: &str, to: Option<&str>, id: &str) -> String {
    let to = to
        .map(|t| format!(" to='{}'", escape_attr(t)))
        .unwrap_or_default();
    format!(
        "<?xml version='1.0'?><stream:stream xmlns='{default_ns}' \
         xmlns:stream='http://etherx.jabber.org/streams' from='{}'{to} id='{id}' \
         version='1.0' xml:lang='en'>",
        escape_attr(from)
    )
}
