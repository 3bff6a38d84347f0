//! Switchboard: a contact-center gateway that is a real XMPP server.
//!
//! Layers, from the socket up (see ARCHITECTURE.md): [`net`] and [`stream`]
//! (sockets, TLS, negotiation), [`session`] (a bound client), [`router`]
//! (JID → session, stanza dispatch), [`store`] (sqlx), [`config`].

pub mod config;
pub mod gateway;
pub mod net;
pub mod router;
pub mod server;
pub mod session;
pub mod store;
pub mod stream;
pub mod util;
pub mod xml;
