//! Stream negotiation per role (RFC 6120 §4-§7): one state machine per
//! file. Streams own sockets; they hand bound sessions to [`crate::session`]
//! and stanzas to [`crate::router`].

pub mod c2s;
pub mod component;
mod error;
pub mod s2s;
pub mod sasl;
pub mod xmlio;

pub use error::{StreamError, StreamErrorCondition};
pub use xmlio::{header, XmlIo};
