//! Sockets and TLS: listeners, the transport type streams run over, and the
//! certificates behind them.

pub mod certs;
pub mod tls;
mod transport;

pub use transport::Transport;
