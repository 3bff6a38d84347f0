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
