//! Stream-level errors (RFC 6120 §4.9): everything that ends a stream, with
//! the condition sent to the peer before closing.

use crate::xml::FrameError;
pub use crate::xml::StreamErrorCondition;

#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The peer broke the protocol: tell it why, then close.
    #[error("{}: {text}", .condition.name())]
    Protocol {
        condition: StreamErrorCondition,
        text: String,
    },
    /// The peer closed the stream or the connection.
    #[error("closed by peer")]
    Closed,
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

impl StreamError {
    pub fn protocol(condition: StreamErrorCondition, text: impl Into<String>) -> Self {
        StreamError::Protocol {
            condition,
            text: text.into(),
        }
    }
}

impl From<FrameError> for StreamError {
    fn from(e: FrameError) -> Self {
        StreamError::protocol(e.condition(), e.to_string())
    }
}
