//! One article file: `LANG/ID.md`, a TOML front matter between `+++`
//! lines, then the answer in Markdown (see the module doc of `kb`). Every
//! problem is reported with the line it is on, counted in the whole file,
//! so that an admin's editor jumps to it.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_spanned::Spanned;

use crate::problem::{LineIndex, Problem};

/// An answer customers can be given, in one language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Article {
    /// The file stem; the same id in two languages is one article translated.
    pub id: String,
    /// The folder the file is in: "en", "fr", "pt-br".
    pub lang: String,
    pub title: String,
    /// The Markdown body, trimmed.
    pub answer: String,
    /// How customers ask for it, in their words.
    pub questions: Vec<String>,
    pub keywords: Vec<String>,
    pub links: Vec<Link>,
    /// Ids of articles of the same language.
    pub related: Vec<String>,
    pub file: PathBuf,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub title: String,
    pub url: String,
}

/// A parsed article with the lines of its `related` ids, which can only
/// be checked once every file of its language is read.
pub(super) struct Parsed {
    pub article: Article,
    pub related_lines: Vec<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Front {
    title: Option<Spanned<String>>,
    #[serde(default)]
    questions: Vec<Spanned<String>>,
    #[serde(default)]
    keywords: Vec<Spanned<String>>,
    #[serde(default)]
    related: Vec<Spanned<String>>,
    #[serde(default)]
    links: Vec<RawLink>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLink {
    title: Spanned<String>,
    url: Spanned<String>,
}

/// `[a-z0-9_-]+`: ids appear in `related` lists, logs and commands.
pub fn is_id(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// A folder named like a language tag: "en", "fr", "pt-br", "zh-hant".
pub fn is_language_folder(s: &str) -> bool {
    let mut parts = s.split('-');
    let first = parts.next().unwrap_or("");
    (2..=3).contains(&first.len())
        && first.bytes().all(|b| b.is_ascii_lowercase())
        && parts.all(|p| {
            (2..=8).contains(&p.len())
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// The file's language and id, from its folder and stem.
fn names(path: &Path) -> Result<(String, String), String> {
    let lang = path
        .parent()
        .and_then(Path::file_name)
        .and_then(|n| n.to_str())
        .unwrap_or("");
    if !is_language_folder(lang) {
        return Err(format!(
            "an article must be in a language folder such as en/ or pt-br/, not '{lang}'"
        ));
    }
    let id = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    if !is_id(id) {
        return Err(format!(
            "bad article id '{id}': a file name must be lowercase letters, digits, '_' or '-' (then .md)"
        ));
    }
    Ok((lang.to_string(), id.to_string()))
}

/// The line of the first invalid byte, for a file that is not UTF-8.
pub(super) fn not_utf8(path: &Path, bytes: &[u8], valid_up_to: usize) -> Problem {
    let line = 1 + bytes[..valid_up_to].iter().filter(|&&b| b == b'\n').count();
    Problem {
        file: path.to_path_buf(),
        line,
        message: "not UTF-8 text (save the file as UTF-8)".to_string(),
    }
}

/// Byte ranges of the front matter and the body, or the problem's line
/// and message.
fn split(text: &str) -> Result<(usize, usize, usize, usize), (usize, &'static str)> {
    let mut offset = 0;
    let mut open = None;
    for (n, line) in text.split_inclusive('\n').enumerate() {
        let next = offset + line.len();
        let fence = line.trim_end() == "+++";
        match open {
            None if fence => open = Some(next),
            None => return Err((
                n + 1,
                "no front matter: an article starts with a line '+++', its TOML, and another '+++'",
            )),
            Some(start) if fence => return Ok((start, offset, n + 1, next)),
            Some(_) => {}
        }
        offset = next;
    }
    match open {
        None => Err((
            1,
            "empty file: an article starts with a front matter between '+++' lines",
        )),
        Some(_) => Err((1, "the front matter opened here has no closing '+++' line")),
    }
}

/// Reads one article; `Err` with every problem found in it.
pub(super) fn parse(path: &Path, text: &str) -> Result<Parsed, Vec<Problem>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines = LineIndex::new(path, text);
    let (lang, id) = names(path).map_err(|m| vec![lines.problem_at(1, &m)])?;
    let (front_start, front_end, close_line, body_start) =
        split(text).map_err(|(line, m)| vec![lines.problem_at(line, m)])?;
    let at = |span: std::ops::Range<usize>| lines.line_of(front_start + span.start);
    let front: Front = toml::from_str(&text[front_start..front_end]).map_err(|e| {
        let line = e.span().map_or(1, at);
        // Some syntax errors come without a message.
        let message = match e.message().trim_end() {
            "" => "invalid TOML syntax",
            m => m,
        };
        vec![lines.problem_at(line, message)]
    })?;

    let mut problems = Vec::new();
    let title = match &front.title {
        None => {
            problems.push(lines.problem_at(1, "missing title"));
            String::new()
        }
        Some(t) if t.get_ref().trim().is_empty() => {
            problems.push(lines.problem_at(at(t.span()), "empty title"));
            String::new()
        }
        Some(t) => t.get_ref().trim().to_string(),
    };
    let answer = text[body_start..].trim().to_string();
    if answer.is_empty() {
        problems.push(lines.problem_at(
            close_line,
            "no answer: the article's text goes after this '+++'",
        ));
    }
    let mut texts = |list: &[Spanned<String>], what: &str| -> Vec<String> {
        let mut out = Vec::new();
        for item in list {
            let s = item.get_ref().trim();
            if s.is_empty() {
                problems.push(lines.problem_at(at(item.span()), &format!("empty {what}")));
            } else {
                out.push(s.to_string());
            }
        }
        out
    };
    let questions = texts(&front.questions, "question");
    let keywords = texts(&front.keywords, "keyword");
    let mut links = Vec::new();
    for link in &front.links {
        let url = link.url.get_ref().trim();
        match url::Url::parse(url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => links.push(Link {
                title: link.title.get_ref().trim().to_string(),
                url: url.to_string(),
            }),
            Ok(_) => problems.push(lines.problem_at(
                at(link.url.span()),
                &format!("link URL '{url}' is not http:// or https://"),
            )),
            Err(e) => problems.push(lines.problem_at(
                at(link.url.span()),
                &format!("link URL '{url}' is not a URL: {e}"),
            )),
        }
        if link.title.get_ref().trim().is_empty() {
            problems.push(lines.problem_at(at(link.title.span()), "empty link title"));
        }
    }
    let mut related = Vec::new();
    let mut related_lines = Vec::new();
    for r in &front.related {
        let line = at(r.span());
        let r_id = r.get_ref().trim();
        if !is_id(r_id) {
            problems.push(lines.problem_at(line, &format!("bad related id '{r_id}'")));
        } else if r_id == id {
            problems.push(lines.problem_at(line, "an article cannot be related to itself"));
        } else if !related.iter().any(|x| x == r_id) {
            related.push(r_id.to_string());
            related_lines.push(line);
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Parsed {
        article: Article {
            id,
            lang,
            title,
            answer,
            questions,
            keywords,
            links,
            related,
            file: path.to_path_buf(),
            line: 1,
        },
        related_lines,
    })
}

#[cfg(test)]
#[path = "article_tests.rs"]
mod tests;
