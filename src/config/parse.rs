//! Parsing helpers shared by the validators of every file (settings,
//! agents, routing, queues, calendars, protocols, rules). A leaf: it imports only
//! the problem type, so that the validators, which use each other's
//! results in one direction only, need not import one another for these.

use std::collections::BTreeSet;
use std::ops::RangeInclusive;

use jid::BareJid;
use serde::de::DeserializeOwned;
use serde_spanned::Spanned;

use super::problem::{LineIndex, Problem};

/// Parses TOML into the file's serde structs; a syntax error or an unknown
/// key stops that file (serde cannot go on) with the line of the error.
pub(super) fn parse_toml<T: DeserializeOwned>(lines: &LineIndex, text: &str) -> Result<T, Problem> {
    toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(1, |s| lines.line_of(s.start));
        // Some syntax errors come without a message.
        let message = match e.message().trim_end() {
            "" => "invalid TOML syntax",
            m => m,
        };
        lines.problem_at(line, message)
    })
}

/// `[a-z0-9_-]+`: names that appear unquoted in rules, commands and logs.
pub(super) fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// A set of tokens (skills, protocols); problems for the malformed ones,
/// which are left out.
pub(super) fn tokens(
    lines: &LineIndex,
    list: &[Spanned<String>],
    what: &str,
    problems: &mut Vec<Problem>,
) -> BTreeSet<String> {
    let mut set = BTreeSet::new();
    for item in list {
        let s = item.get_ref();
        if is_token(s) {
            set.insert(s.clone());
        } else if s.is_empty() {
            problems.push(lines.problem(item, &format!("empty {what}")));
        } else {
            problems.push(lines.problem(
                item,
                &format!("{what} '{s}' must be lowercase letters, digits, '_' or '-'"),
            ));
        }
    }
    set
}

/// The value if within `range`; otherwise a problem and the nearest bound,
/// so later checks see a plausible number.
pub(super) fn ranged(
    lines: &LineIndex,
    value: &Spanned<i64>,
    range: RangeInclusive<i64>,
    key: &str,
    problems: &mut Vec<Problem>,
) -> i64 {
    let v = *value.get_ref();
    if !range.contains(&v) {
        problems.push(lines.problem(
            value,
            &format!(
                "{key} must be between {} and {}",
                range.start(),
                range.end()
            ),
        ));
    }
    v.clamp(*range.start(), *range.end())
}

/// A bare JID with a user part (`user@domain`), normalised (stringprep
/// lowercases it) so that lookups match whatever case the admin typed.
pub(super) fn user_jid(s: &str) -> Result<BareJid, String> {
    match BareJid::new(s) {
        Ok(j) if j.node().is_some() => Ok(j),
        Ok(_) => Err(format!("'{s}' has no user part: write user@domain")),
        Err(jid::Error::ResourceInBareJid) => Err(format!(
            "'{s}' has a resource: write the bare JID, user@domain"
        )),
        Err(e) => Err(format!("'{s}' is not a valid JID: {e}")),
    }
}

/// A domain must be a bare hostname: it becomes the domainpart of JIDs.
pub(super) fn validate_domain(d: &str) -> Result<(), String> {
    if d.is_empty() {
        return Err("domain is empty".into());
    }
    match jid::BareJid::new(d) {
        Ok(j) if j.node().is_none() => {}
        _ => return Err(format!("'{d}' is not a valid domain")),
    }
    if d.contains(['@', '/', ':', ' ']) || d.starts_with('.') || d.ends_with('.') {
        return Err(format!("'{d}' is not a valid domain"));
    }
    Ok(())
}

/// One of a fixed set of names.
pub(super) fn choice<T: Copy>(
    lines: &LineIndex,
    value: &Spanned<String>,
    key: &str,
    names: &[(&str, T)],
    problems: &mut Vec<Problem>,
) -> Option<T> {
    let found = names
        .iter()
        .find(|(n, _)| n == value.get_ref())
        .map(|(_, v)| *v);
    if found.is_none() {
        let all: Vec<_> = names.iter().map(|(n, _)| *n).collect();
        problems.push(lines.problem(
            value,
            &format!(
                "unknown {key} '{}': use {}",
                value.get_ref(),
                all.join(", ")
            ),
        ));
    }
    found
}

/// The `{name}`s of a template, in order; an unclosed `{` is a problem.
pub(super) fn placeholder_names(template: &str) -> Result<Vec<&str>, String> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            return Err("a '{' without its '}'".into());
        };
        names.push(&after[..close]);
        rest = &after[close + 1..];
    }
    Ok(names)
}

/// An IANA time zone name, or a problem at it.
pub(super) fn zone(
    lines: &LineIndex,
    name: &Spanned<String>,
    problems: &mut Vec<Problem>,
) -> Option<jiff::tz::TimeZone> {
    match jiff::tz::TimeZone::get(name.get_ref()) {
        Ok(tz) => Some(tz),
        Err(_) => {
            problems.push(lines.problem(
                name,
                &format!(
                    "unknown timezone '{}': use an IANA name like Europe/Paris, America/New_York or UTC",
                    name.get_ref()
                ),
            ));
            None
        }
    }
}
