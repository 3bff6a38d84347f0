//! `[upload]`: XEP-0363 HTTP File Upload on the support domain. The
//! section being there turns the service on; it needs the HTTP listener
//! (`[http]`), where files are PUT and fetched.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_spanned::Spanned;

use super::parse::ranged;
use super::problem::{LineIndex, Problem};
use super::web::Http;

/// `[upload]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawUpload {
    pub directory: Spanned<String>,
    pub max_file_bytes: Spanned<i64>,
    pub allowed_types: Vec<Spanned<String>>,
    pub expire_days: Spanned<i64>,
    pub slot_secs: Spanned<i64>,
}

impl Default for RawUpload {
    fn default() -> Self {
        let at = |s: &str| Spanned::new(0..0, s.to_string());
        RawUpload {
            directory: at("data/uploads"),
            max_file_bytes: Spanned::new(0..0, 10 * 1024 * 1024),
            allowed_types: vec![at("image/*"), at("application/pdf"), at("text/plain")],
            expire_days: Spanned::new(0..0, 30),
            slot_secs: Spanned::new(0..0, 300),
        }
    }
}

/// The upload service, validated.
#[derive(Debug, Clone)]
pub struct Upload {
    /// Where files are kept (absolute).
    pub directory: PathBuf,
    pub max_file_bytes: u64,
    /// MIME type patterns (`image/*`, `application/pdf`, `*/*`), lowercase.
    pub allowed_types: Vec<String>,
    /// A file is deleted this long after its upload.
    pub expire: Duration,
    /// How long a slot's PUT URL is valid after it was granted.
    pub slot: Duration,
}

impl Upload {
    /// Whether a file of `content_type` (a bare `type/subtype`, lowercase)
    /// may be uploaded.
    pub fn allows(&self, content_type: &str) -> bool {
        let (kind, _) = content_type.split_once('/').unwrap_or((content_type, ""));
        self.allowed_types.iter().any(|p| match p.split_once('/') {
            Some(("*", "*")) => true,
            Some((k, "*")) => k == kind,
            _ => p == content_type,
        })
    }
}

/// `type/subtype` with RFC 6838 name characters: what a MIME type must be.
pub fn is_mime_type(s: &str) -> bool {
    let name = |p: &str| {
        !p.is_empty()
            && p.len() <= 127
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    matches!(s.split_once('/'), Some((t, sub)) if name(t) && name(sub))
}

fn is_pattern(p: &str) -> bool {
    match p.split_once('/') {
        Some(("*", "*")) => true,
        Some((t, "*")) => is_mime_type(&format!("{t}/x")),
        _ => is_mime_type(p),
    }
}

/// `raw` is the section when the file has one; `base` is the config
/// file's folder, which a relative directory is relative to.
pub(super) fn upload(
    lines: &LineIndex,
    raw: Option<&Spanned<RawUpload>>,
    http: &Http,
    base: &Path,
    problems: &mut Vec<Problem>,
) -> Option<Upload> {
    let section = raw?;
    let raw = section.get_ref();
    if !http.enabled() {
        problems.push(lines.problem(
            section,
            "[upload] needs the HTTP listener, where files are sent and fetched: set [http] listen",
        ));
    } else if http.public_url.is_empty() && unspecified(http) {
        problems.push(lines.problem(
            section,
            "[upload] makes links for browsers and clients: set [http] public_url, since the \
             first HTTP listener's address (0.0.0.0 or ::) is not one they can reach",
        ));
    }
    let dir = raw.directory.get_ref();
    if dir.is_empty() {
        problems.push(lines.problem(&raw.directory, "directory is empty"));
    }
    let max = ranged(
        lines,
        &raw.max_file_bytes,
        1..=4 * 1024 * 1024 * 1024,
        "max_file_bytes",
        problems,
    );
    let mut allowed = Vec::new();
    for t in &raw.allowed_types {
        let p = t.get_ref().trim().to_ascii_lowercase();
        if is_pattern(&p) {
            allowed.push(p);
        } else {
            problems.push(lines.problem(
                t,
                &format!(
                    "'{}' is not a MIME type pattern like image/*, application/pdf or */*",
                    t.get_ref()
                ),
            ));
        }
    }
    if raw.allowed_types.is_empty() {
        problems.push(lines.problem(
            section,
            "allowed_types is empty, so no file could be uploaded: list types, or \"*/*\" for any",
        ));
    }
    let days = ranged(lines, &raw.expire_days, 1..=3650, "expire_days", problems);
    let slot = ranged(lines, &raw.slot_secs, 10..=86_400, "slot_secs", problems);
    Some(Upload {
        directory: base.join(dir),
        max_file_bytes: max as u64,
        allowed_types: allowed,
        expire: Duration::from_secs(days as u64 * 86_400),
        slot: Duration::from_secs(slot as u64),
    })
}

/// The first listener (plain first, as the URL is made) is on a wildcard
/// address.
fn unspecified(http: &Http) -> bool {
    let first: Option<&SocketAddr> = http.listen.first().or(http.listen_tls.first());
    first.is_some_and(|a| a.ip().is_unspecified())
}
