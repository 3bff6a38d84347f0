//! The self-service knowledge base: answers a customer can be given before
//! (or instead of) an agent, found from the customer's own words.
//!
//! A pure library: files in, ranked articles out. It knows nothing of
//! sessions or XMPP, so that the gateway's dialogs decide what to do with
//! a [`Verdict`], and so that the ranking can be tested and measured on
//! its own (`tests/kb_ranking.rs`, `benches/kb.rs`). It imports only
//! [`problem`](crate::problem), for [`Problem`], and [`text`](crate::text), for
//! the analysis it shares with the classifier.
//!
//! # Files
//!
//! `DIR/LANG/ID.md`: one article per file, in a folder per language
//! (`en`, `fr`, `pt-br`). The file stem is the article's id (lowercase
//! letters, digits, `-`, `_`); the same id in two folders is one article
//! translated. Anything else is ignored: files not ending in `.md`, and
//! `DIR/README.md` and other folders not named like a language. A file
//! is Markdown with a TOML front matter between `+++` lines (as Hugo
//! writes it):
//!
//! ```text
//! +++
//! title = "Reset your password"
//! questions = ["I forgot my password", "can't log in"]
//! keywords = ["password", "login"]
//! related = ["two-factor"]          # ids in the same language
//! links = [{ title = "Reset page", url = "https://shop.example/reset" }]
//! +++
//! Go to **Account → Security** and choose *Reset password*.
//! ```
//!
//! `title` and a non-empty answer are required; a key not listed here,
//! a link that is not `http(s)://`, a `related` id with no article in the
//! same language, or a file that is not UTF-8 is a [`Problem`] at its
//! line, and the whole base is refused: a half-loaded base would answer
//! some customers with nothing and nobody would know why.
//!
//! # Ranking
//!
//! BM25F over folded, stemmed words with typo tolerance, re-ranked by how
//! much of an article's title or question variant the question covers;
//! `index.rs` tells the method and what a score of 0..=1 means. Measured
//! by `tests/kb_ranking.rs` (accuracy on customers' phrasings) and
//! `benches/kb.rs` (10,000 articles).

mod article;
mod index;
mod typo;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use article::{Article, Link};

use crate::problem::Problem;
use crate::text::base_language;
use article::{is_language_folder, Parsed};
use index::LangIndex;

/// How sure the base must be to answer or to suggest.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tuning {
    /// The best hit's score from which it is given as the answer (if it is
    /// clearly ahead of the second, by [`LEAD`]).
    pub confident: f32,
    /// The score from which a hit is worth suggesting.
    pub relevant: f32,
    /// At most this many suggestions.
    pub suggestions: usize,
}

impl Default for Tuning {
    /// Calibrated on `conf/kb` with `tests/kb/phrasings.toml`: an article's
    /// own question variant scores 0.75 to 0.97, the right article for a
    /// customer's other wording 0.5 to 0.95, text about something else
    /// (the weather, a joke) at most about 0.3.
    fn default() -> Self {
        Tuning {
            confident: 0.6,
            relevant: 0.35,
            suggestions: 3,
        }
    }
}

/// How far the best hit must be ahead of the second, as a share of its
/// score, to be given as the answer: two articles that match about as well
/// are the customer's choice to make.
pub const LEAD: f32 = 0.15;

/// What to tell a customer who asked.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict<'a> {
    Answer(&'a Article),
    Suggest(Vec<&'a Article>),
    NoMatch,
}

/// An article found for a question.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit<'a> {
    pub article: &'a Article,
    /// 0..=1: half how much of the question (its words weighted by their
    /// rarity) the article matches, half how much of the article's best
    /// phrase (title, a question variant) the question matches.
    pub score: f32,
}

/// The articles of every language with their indexes; cheap to clone.
#[derive(Clone)]
pub struct KnowledgeBase {
    /// Sorted by language.
    langs: Arc<Vec<LangIndex>>,
}

/// Equal when they hold the same articles: the indexes follow from them.
/// A reload compares configurations, so an edited article must count.
impl PartialEq for KnowledgeBase {
    fn eq(&self, o: &Self) -> bool {
        self.langs.len() == o.langs.len()
            && self
                .langs
                .iter()
                .zip(o.langs.iter())
                .all(|(a, b)| a.lang == b.lang && a.articles == b.articles)
    }
}

impl std::fmt::Debug for KnowledgeBase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.langs.iter().map(|l| (&l.lang, l.articles.len())))
            .finish()
    }
}

fn problem(file: &Path, line: usize, message: String) -> Problem {
    Problem {
        file: file.to_path_buf(),
        line,
        message,
    }
}

impl KnowledgeBase {
    pub fn empty() -> KnowledgeBase {
        KnowledgeBase {
            langs: Arc::new(Vec::new()),
        }
    }

    /// `dir/LANG/*.md`; every problem of every file, sorted by file then line.
    pub fn load(dir: &Path) -> Result<KnowledgeBase, Vec<Problem>> {
        let unreadable =
            |path: &Path, e: std::io::Error| vec![problem(path, 1, format!("cannot read: {e}"))];
        let mut folders = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|e| unreadable(dir, e))? {
            let path = entry.map_err(|e| unreadable(dir, e))?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if path.is_dir() && is_language_folder(name) {
                folders.push(path);
            }
        }
        folders.sort();
        let mut files = Vec::new();
        let mut problems = Vec::new();
        for folder in folders {
            let entries = std::fs::read_dir(&folder).map_err(|e| unreadable(&folder, e))?;
            for entry in entries {
                let path = entry.map_err(|e| unreadable(&folder, e))?.path();
                if path.extension().is_none_or(|e| e != "md") || !path.is_file() {
                    continue;
                }
                match std::fs::read(&path) {
                    Err(e) => problems.extend(unreadable(&path, e)),
                    Ok(bytes) => match String::from_utf8(bytes) {
                        Ok(text) => files.push((path, text)),
                        Err(e) => {
                            let valid = e.utf8_error().valid_up_to();
                            problems.push(article::not_utf8(&path, e.as_bytes(), valid));
                        }
                    },
                }
            }
        }
        Self::build(files, problems)
    }

    /// Articles from memory: each path includes its language folder
    /// (`en/reset-password.md`); as in a folder, paths not ending in `.md`
    /// or not in a language folder, and `README.md` files, are ignored.
    pub fn from_files(files: Vec<(PathBuf, String)>) -> Result<KnowledgeBase, Vec<Problem>> {
        Self::build(files, Vec::new())
    }

    fn build(
        files: Vec<(PathBuf, String)>,
        mut problems: Vec<Problem>,
    ) -> Result<KnowledgeBase, Vec<Problem>> {
        let mut by_lang: BTreeMap<String, Vec<Parsed>> = BTreeMap::new();
        for (path, text) in files {
            let folder = path.parent().and_then(Path::file_name);
            let in_language = folder
                .and_then(|f| f.to_str())
                .is_some_and(is_language_folder);
            // A README explains a folder; it is never an article.
            let readme = path
                .file_stem()
                .is_some_and(|s| s.eq_ignore_ascii_case("readme"));
            if path.extension().is_none_or(|e| e != "md") || !in_language || readme {
                continue;
            }
            match article::parse(&path, &text) {
                Ok(p) => by_lang.entry(p.article.lang.clone()).or_default().push(p),
                Err(mut found) => problems.append(&mut found),
            }
        }
        let mut langs = Vec::new();
        for (lang, mut parsed) in by_lang {
            // Sorted by id, so that ties in ranking break the same way
            // whatever order the folder lists its files in.
            parsed.sort_by(|a, b| a.article.id.cmp(&b.article.id));
            for pair in parsed.windows(2) {
                if pair[0].article.id == pair[1].article.id {
                    problems.push(problem(
                        &pair[1].article.file,
                        1,
                        format!(
                            "duplicate article id '{}' (also {})",
                            pair[1].article.id,
                            pair[0].article.file.display()
                        ),
                    ));
                }
            }
            for p in &parsed {
                for (id, &line) in p.article.related.iter().zip(&p.related_lines) {
                    if parsed.binary_search_by(|q| q.article.id.cmp(id)).is_err() {
                        problems.push(problem(
                            &p.article.file,
                            line,
                            format!("related article '{id}' does not exist in {lang}/"),
                        ));
                    }
                }
            }
            let articles = parsed.into_iter().map(|p| p.article).collect();
            langs.push(LangIndex::build(&lang, articles));
        }
        if !problems.is_empty() {
            problems.sort_by(|a, b| a.file.cmp(&b.file).then(a.line.cmp(&b.line)));
            return Err(problems);
        }
        Ok(KnowledgeBase {
            langs: Arc::new(langs),
        })
    }

    /// Articles in all languages.
    pub fn len(&self) -> usize {
        self.langs.iter().map(|l| l.articles.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The language folders, sorted.
    pub fn languages(&self) -> Vec<&str> {
        self.langs.iter().map(|l| l.lang.as_str()).collect()
    }

    /// The folder for a customer's language tag: the tag itself ("pt-BR" →
    /// "pt-br"), else its language ("fr-CA" → "fr").
    fn index(&self, lang: &str) -> Option<&LangIndex> {
        let lower = lang.trim().to_ascii_lowercase().replace('_', "-");
        let base = base_language(&lower);
        self.langs
            .iter()
            .find(|l| l.lang == lower)
            .or_else(|| self.langs.iter().find(|l| l.lang == base))
    }

    pub fn has_language(&self, lang: &str) -> bool {
        self.index(lang).is_some()
    }

    /// The language to use for a customer's `lang` ("fr-CA" → "fr"); for an
    /// unknown one or none, `default` if the base has it, else the first.
    pub fn pick_language(&self, lang: Option<&str>, default: &str) -> Option<&str> {
        lang.and_then(|l| self.index(l))
            .or_else(|| self.index(default))
            .or_else(|| self.langs.first())
            .map(|l| l.lang.as_str())
    }

    pub fn article(&self, lang: &str, id: &str) -> Option<&Article> {
        let index = self.index(lang)?;
        index.by_id.get(id).map(|&i| &index.articles[i])
    }

    /// The same article in another language, if it is translated.
    pub fn translation(&self, a: &Article, lang: &str) -> Option<&Article> {
        self.article(lang, &a.id)
    }

    /// The best `limit` articles for `text` in `lang`, best first.
    pub fn search(&self, lang: &str, text: &str, limit: usize) -> Vec<Hit<'_>> {
        let Some(index) = self.index(lang) else {
            return Vec::new();
        };
        index
            .search(text, limit)
            .into_iter()
            .map(|(i, score)| Hit {
                article: &index.articles[i],
                score,
            })
            .collect()
    }

    /// The answer when the best hit reaches `confident` and is clearly ahead
    /// of the second ([`LEAD`]); else the best hits that reach `relevant`
    /// as suggestions; else nothing.
    pub fn ask(&self, lang: &str, text: &str, tuning: &Tuning) -> Verdict<'_> {
        let hits = self.search(lang, text, tuning.suggestions.max(2));
        let Some(best) = hits.first() else {
            return Verdict::NoMatch;
        };
        let second = hits.get(1).map_or(0.0, |h| h.score);
        if best.score >= tuning.confident && second <= best.score * (1.0 - LEAD) {
            return Verdict::Answer(best.article);
        }
        let suggested: Vec<&Article> = hits
            .iter()
            .filter(|h| h.score >= tuning.relevant)
            .take(tuning.suggestions)
            .map(|h| h.article)
            .collect();
        if suggested.is_empty() {
            Verdict::NoMatch
        } else {
            Verdict::Suggest(suggested)
        }
    }

    /// The articles `a` names in `related`, in its order.
    pub fn related(&self, a: &Article) -> Vec<&Article> {
        a.related
            .iter()
            .filter_map(|id| self.article(&a.lang, id))
            .collect()
    }
}

#[cfg(test)]
#[path = "mod_tests.rs"]
mod tests;
