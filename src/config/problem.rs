//! The error that carries a configuration's `file:line` problems; the
//! problem and the line index that places it are `crate::problem`'s, which
//! the knowledge base reports too. The bottom of the config modules: it
//! imports none of them, so that every file's validator can report
//! problems without depending on another.

use std::path::PathBuf;

pub use crate::problem::{LineIndex, Problem};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Everything found wrong, in file order.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Problem>),
}
