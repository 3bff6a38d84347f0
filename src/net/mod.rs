//! Sockets and TLS: listeners, the transport type streams run over, and the
//! certificates behind them; for s2s also where a peer is (DNS) and whether
//! its certificate names it.

pub mod certs;
pub mod pki;
pub mod resolve;
mod server_tls;
pub mod tls;
mod transport;

pub use transport::{FramedIo, Transport};
