//! `file:line: message`: one thing wrong with a file an admin edits. Every
//! validator reports these, the configuration's and the knowledge base's
//! alike, so the type sits below both and imports nothing of the crate.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_spanned::Spanned;

/// One thing wrong with a file, at a 1-based line.
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
