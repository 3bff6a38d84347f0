//! Stream negotiation per role (RFC 6120 §4-§7): one state machine per
//! file. Streams own sockets; they hand bound sessions to [`crate::session`]
//! and stanzas to the router, which they reach as a [`StreamRouter`].

pub mod c2s;
pub mod component;
mod context;
pub mod s2s;
pub mod sasl;
pub mod web_login;

pub use context::{StreamContext, StreamRouter};

use crate::xml::escape_attr;

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

/// Turns away a connection the door refused, before reading a byte of it:
/// a header of ours and `<policy-violation/>` (RFC 6120 §4.9.3.15, §4.9.1.1:
/// the header goes first even before the peer's). A connection that
/// expects TLS from its first byte only gets closed: a TLS handshake is
/// the very work the limit is there to spare. Bounded in time, since a
/// flood's peers need not read.
pub async fn refuse(
    mut tcp: tokio::net::TcpStream,
    default_ns: &'static str,
    from: String,
    direct_tls: bool,
    why: crate::limit::Refused,
) {
    use tokio::io::AsyncWriteExt;
    if !direct_tls {
        let out = header(default_ns, &from, None, &crate::util::random_id(16))
            + &crate::xml::StreamErrorCondition::PolicyViolation.to_xml(Some(&why.to_string()));
        let write = async {
            let _ = tcp.write_all(out.as_bytes()).await;
            let _ = tcp.shutdown().await;
        };
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), write).await;
    }
}
