//! Typo tolerance: the index's words within a few edits of a word it does
//! not know. Words as written (folded), not stems: "remboursment" is one
//! edit from "remboursement" but four from its stem "rembours". The
//! distance is optimal string alignment (a transposition is one edit):
//! one edit for words of 5 to 8 letters, two from 9; shorter words are left
//! alone, as too many short words are one edit apart. A letter-set filter
//! skips most of the vocabulary before any distance is computed: a word
//! with three letters the other lacks is at least three edits away.

use std::collections::HashMap;

struct Candidate {
    mask: u64,
    word: Box<str>,
    term: u32,
}

/// The known words by their length in characters.
pub(super) struct Typos {
    by_len: Vec<Vec<Candidate>>,
}

/// A letter set: bits for a–z and 0–9, the rest hashed into the high bits.
fn mask(word: &str) -> u64 {
    word.chars().fold(0, |m, c| {
        let bit = match c {
            'a'..='z' => c as u32 - 'a' as u32,
            '0'..='9' => 26 + c as u32 - '0' as u32,
            _ => 36 + (c as u32 % 28),
        };
        m | 1 << bit
    })
}

impl Typos {
    /// `words`: each known word and its term.
    pub fn new(words: &HashMap<String, u32>) -> Typos {
        let mut by_len: Vec<Vec<Candidate>> = Vec::new();
        for (word, &term) in words {
            let len = word.chars().count();
            if by_len.len() <= len {
                by_len.resize_with(len + 1, Vec::new);
            }
            by_len[len].push(Candidate {
                mask: mask(word),
                word: word.as_str().into(),
                term,
            });
        }
        for list in &mut by_len {
            // Deterministic order, so that ties resolve the same every run.
            list.sort_unstable_by(|a, b| a.word.cmp(&b.word));
        }
        Typos { by_len }
    }

    /// The terms of the words within reach of `word` with their distance,
    /// nearest first, then the commonest by `df` (the likelier intended
    /// word), at most `limit`.
    pub fn near(&self, word: &str, df: impl Fn(u32) -> usize, limit: usize) -> Vec<(u32, usize)> {
        let len = word.chars().count();
        let max = match len {
            0..=4 => return Vec::new(),
            5..=8 => 1,
            _ => 2,
        };
        let m = mask(word);
        let mut found: Vec<(usize, usize, u32)> = Vec::new();
        let lo = len.saturating_sub(max);
        for list in self.by_len.iter().take(len + max + 1).skip(lo) {
            for c in list {
                if (m & !c.mask).count_ones() as usize > max
                    || (c.mask & !m).count_ones() as usize > max
                {
                    continue;
                }
                let d = strsim::osa_distance(word, &c.word);
                if d <= max && !found.iter().any(|f| f.2 == c.term) {
                    found.push((d, usize::MAX - df(c.term), c.term));
                }
            }
        }
        found.sort_unstable();
        found.truncate(limit);
        found.into_iter().map(|(d, _, t)| (t, d)).collect()
    }
}
