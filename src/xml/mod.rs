//! The XML edge of the server: framing a byte stream into stream headers and
//! top-level elements, and the [`Stanza`] type that carries an element through
//! the router without building a tree unless someone needs one.
//!
//! Why not a DOM per stanza: relaying is the hot path, and reading the routing
//! attributes of a framed element is several times cheaper than building a
//! tree (see DESIGN.md). Code that must understand a stanza calls
//! [`Stanza::element`].

pub mod build;
mod framer;
pub mod ns;
mod peek;
mod stanza;

pub use framer::{Frame, FrameError, Framer, StreamHeader};
pub use peek::body_of;
pub use stanza::{escape_attr, Kind, Stanza, StanzaParseError};
