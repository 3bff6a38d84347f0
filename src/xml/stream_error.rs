//! Stream errors (RFC 6120 §4.9): the conditions that end a stream, one
//! table for every layer that ends one (framing, negotiation, sessions),
//! and [`StreamError`], what ends a stream, as every reader of one reports it.

use super::{escape_attr, FrameError};

/// RFC 6120 §4.9.3 conditions this server sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamErrorCondition {
    BadFormat,
    Conflict,
    ConnectionTimeout,
    HostUnknown,
    ImproperAddressing,
    InternalServerError,
    InvalidFrom,
    InvalidNamespace,
    NotAuthorized,
    NotWellFormed,
    PolicyViolation,
    ResourceConstraint,
    RestrictedXml,
    SystemShutdown,
    UnsupportedEncoding,
    UnsupportedStanzaType,
    UnsupportedVersion,
}

impl StreamErrorCondition {
    pub fn name(self) -> &'static str {
        use StreamErrorCondition::*;
        match self {
            BadFormat => "bad-format",
            Conflict => "conflict",
            ConnectionTimeout => "connection-timeout",
            HostUnknown => "host-unknown",
            ImproperAddressing => "improper-addressing",
            InternalServerError => "internal-server-error",
            InvalidFrom => "invalid-from",
            InvalidNamespace => "invalid-namespace",
            NotAuthorized => "not-authorized",
            NotWellFormed => "not-well-formed",
            PolicyViolation => "policy-violation",
            ResourceConstraint => "resource-constraint",
            RestrictedXml => "restricted-xml",
            SystemShutdown => "system-shutdown",
            UnsupportedEncoding => "unsupported-encoding",
            UnsupportedStanzaType => "unsupported-stanza-type",
            UnsupportedVersion => "unsupported-version",
        }
    }

    /// `<stream:error>` followed by the stream's end.
    pub fn to_xml(self, text: Option<&str>) -> String {
        let text = text
            .map(|t| {
                format!(
                    "<text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>{}</text>",
                    escape_attr(t)
                )
            })
            .unwrap_or_default();
        format!(
            "<stream:error><{} xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>{text}</stream:error></stream:stream>",
            self.name()
        )
    }
}

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
    Io(std::io::Error),
}

/// A framing below the XML stream (WebSocket, BOSH) found the peer broke
/// its rules. It travels inside an `io::Error`, the only error a byte
/// transport can return, and becomes the stream error it names, so the
/// reader answers it like any other protocol violation.
#[derive(Debug, thiserror::Error)]
#[error("{}: {text}", .condition.name())]
pub struct TransportViolation {
    pub condition: StreamErrorCondition,
    pub text: String,
}

impl TransportViolation {
    pub fn io(condition: StreamErrorCondition, text: impl Into<String>) -> std::io::Error {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            TransportViolation {
                condition,
                text: text.into(),
            },
        )
    }
}

impl From<std::io::Error> for StreamError {
    fn from(e: std::io::Error) -> Self {
        match e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<TransportViolation>())
        {
            Some(v) => StreamError::protocol(v.condition, v.text.clone()),
            None => StreamError::Io(e),
        }
    }
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
