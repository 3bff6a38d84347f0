pub mod xml;
pub mod config;
