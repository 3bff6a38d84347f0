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
