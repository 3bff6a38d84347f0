//! `file:line: message`: a problem found in a configuration file, the
//! error that carries them, and the line index that places them. The
//! bottom of the config modules: it imports none of them, so that every
//! file's validator can report problems without depending on another.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_spanned::Spanned;

/// One thing wrong with a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
    }
}

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

/// Maps byte offsets to 1-based line numbers.
pub struct LineIndex<'a> {
    file: &'a Path,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub fn new(file: &'a Path, text: &str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex { file, starts }
    }

    pub fn line_of(&self, offset: usize) -> usize {
        self.starts.partition_point(|&s| s <= offset)
    }

    pub fn problem<T>(&self, at: &Spanned<T>, message: &str) -> Problem {
        self.problem_at(self.line_of(at.span().start), message)
    }

    pub fn problem_at(&self, line: usize, message: &str) -> Problem {
        Problem {
            file: self.file.to_path_buf(),
            line: line.max(1),
            message: message.to_string(),
        }
    }
}
