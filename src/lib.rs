//! Switchboard: a contact-center gateway that is a real XMPP server.
//!
//! # Layout
//!
//! Layers point down only (`tests/layers.rs` holds the code to it, listing
//! the few arrows still being turned round):
//!
//! - [`server`]: the wiring. Binds the listeners, builds the store, the
//!   router and the gateway, runs the accept loops and shuts down
//!   gracefully. `main.rs` (the CLI) sits on it.
//! - [`gateway`]: the contact center. One actor task owns customers,
//!   sessions, agents and queues; the router hands it the support domain
//!   (see [`router::domains`]). Decisions that can be pure are
//!   ([`gateway::assign`]).
//! - [`router`]: JID → session table and the dispatch of every stanza; the
//!   s2s pool; the RFC 6121 rules (presence, roster, offline storage).
//! - [`stream`]: negotiation per role (c2s, s2s in and out, components),
//!   handing bound client streams to [`session`].
//! - [`session`]: a bound client: the reader routes what the client sends,
//!   the writer drains the session's bounded queue with XEP-0198.
//! - The ground floor, importing nothing above: [`xml`] (framing, the byte
//!   level [`xml::Stanza`], the protocol vocabulary), [`net`] (TLS, DNS),
//!   [`store`] (sqlx, SQLite and PostgreSQL), [`config`] (typed, validated
//!   configuration and hot reload), [`util`].
//!
//! ARCHITECTURE.md walks a stanza through these layers.

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
