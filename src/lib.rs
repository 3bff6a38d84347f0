//! Switchboard: a contact-center gateway that is a real XMPP server.
//!
//! # Layout
//!
//! Layers point down only (`tests/layers.rs` holds the code to it). What a
//! layer needs of a higher one it declares as a trait, which the higher one
//! implements and [`server`] wires in:
//!
//! - [`server`]: the wiring. Binds the listeners, builds the store, the
//!   router, the gateway and the context each layer gets
//!   ([`stream::StreamContext`], [`session::SessionContext`]), runs the
//!   accept loops and shuts down gracefully. `main.rs` (the CLI) sits on it.
//! - [`gateway`]: the contact center. One actor task reacts to what the
//!   router hands it of the support domain (see [`router::domains`]), to
//!   its own events and to its timers; it reaches the rest of the server
//!   only through [`gateway::ports`] (an `Outbox` the router implements,
//!   and a `Clock`). Its state (sessions, agents) changes only through
//!   `gateway/state.rs`, store first, and each change is handed to the
//!   features (work list, bridge, waiting line, entry presence...), one
//!   module each. Decisions that can be pure are ([`gateway::assign`]).
//! - [`router`]: JID → session table and the dispatch of every stanza; the
//!   s2s pool (behind [`router::S2sLinks`]); the RFC 6121 rules (presence,
//!   roster, offline storage). It is the [`session::SessionRouter`] and the
//!   [`stream::StreamRouter`].
//! - [`stream`]: negotiation per role (c2s, s2s in and out, components),
//!   handing bound client streams to [`session`] and stanzas to the router.
//! - [`session`]: a bound client: its mailbox ([`session::SessionHandle`],
//!   which the router's table holds), the reader routes what the client
//!   sends, the writer drains the session's bounded queue with XEP-0198.
//! - The ground floor, importing nothing above: [`xml`] (framing and
//!   reading frames off a transport, the byte level [`xml::Stanza`], the
//!   protocol vocabulary), [`net`] (TLS, DNS),
//!   [`store`] (sqlx, SQLite and PostgreSQL), [`config`] (typed, validated
//!   configuration and hot reload), [`util`], [`limit`] (connections, logins and bytes per
//!   second per address, account and stream: `[limits]`), [`problem`] (the `file:line`
//!   problem every validator of an admin's file reports), [`receipt`]
//!   (what a stream acknowledges only once a stanza is stored, delivered
//!   or answered, carried up with it), [`delivery`] (the notice a relayed
//!   stanza carries to where it reaches its recipient, so that the bridge
//!   marks a message delivered only then), [`text`] (the
//!   folding, stop words and stemming that the knowledge base and the
//!   classifier share), and [`slot`] (XEP-0363
//!   upload slots: the signature the gateway makes and the HTTP front
//!   checks, so that neither imports the other).
//! - [`kb`]: the self-service knowledge base (articles and their ranking),
//!   a pure library that `config` loads with dialogs.toml, reporting its
//!   files' [`problem`]s, for the gateway's self-service.
//! - [`mood`]: the customer's frustration read from their words, per
//!   message and per session; pure, for rules and supervisors.
//! - [`classify`]: which of the admin's categories a conversation is
//!   about, learnt from the examples of `categories.toml` (which `config`
//!   loads and trains it on); pure, for escalation to the right second
//!   level. It imports only [`text`], [`problem`] and [`util`].
//! - [`when`]: the time a customer means when booking a callback, read
//!   from their words in English or French; pure, imports nothing of ours.
//!
//! ARCHITECTURE.md walks a stanza through these layers.

pub mod classify;
pub mod config;
pub mod delivery;
pub mod gateway;
pub mod http;
pub mod kb;
pub mod limit;
pub mod mood;
pub mod net;
pub mod problem;
pub mod receipt;
pub mod router;
pub mod server;
pub mod session;
pub mod slot;
pub mod store;
pub mod stream;
pub mod text;
pub mod util;
pub mod when;
pub mod xml;
