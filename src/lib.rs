pub mod xml;
pub mod config;
pub mod net;
