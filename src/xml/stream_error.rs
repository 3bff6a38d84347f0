//! Stream errors (RFC 6120 §4.9): the conditions that end a stream, one
//! table for every layer that ends one (framing, negotiation, sessions).

use super::escape_attr;

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
