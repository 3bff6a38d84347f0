//! The files an admin edits: every problem found in one names a file it
//! was given, a line within that file, and says something.

use std::path::{Path, PathBuf};

use switchboard::config::{ConfigError, GatewayConfig, Problem, Settings};
use switchboard::kb::KnowledgeBase;

use super::{parts, text};

/// The shipped files, which the one fuzzed file is checked against.
const AGENTS: &str = include_str!("../../conf/agents.toml");
const ROUTING: &str = include_str!("../../conf/routing.toml");
const DOMAIN: &str = "support.example";

/// In a folder that does not exist: what a file names relative to it is
/// unreadable (a problem at line 1 of the file that names it) rather than
/// read from wherever the fuzzer runs.
const DIR: &str = "/nonexistent/switchboard-fuzz";

fn path(name: &str) -> PathBuf {
    Path::new(DIR).join(name)
}

/// The highest line a problem in `text` may be at.
fn lines(text: &str) -> usize {
    text.split('\n').count()
}

fn check_problems(problems: &[Problem], files: &[(&Path, &str)]) {
    assert!(!problems.is_empty(), "an error without a problem");
    for p in problems {
        assert!(
            !p.message.trim().is_empty(),
            "a problem with no message: {p:?}"
        );
        match files.iter().find(|(f, _)| *f == p.file) {
            Some((_, text)) => assert!(
                (1..=lines(text)).contains(&p.line),
                "{p} is not a line of a file of {} lines",
                lines(text)
            ),
            // A file the given one names and that could not be read.
            None => {
                assert!(
                    p.file.starts_with(DIR),
                    "a problem in a file never given: {p}"
                );
                assert_eq!(p.line, 1, "{p}");
            }
        }
    }
}

fn check_config(result: Result<GatewayConfig, ConfigError>, files: &[(&Path, &str)]) {
    match result {
        Ok(_) => {}
        Err(ConfigError::Invalid(problems)) => check_problems(&problems, files),
        Err(e @ ConfigError::Read { .. }) => panic!("nothing was read from disk: {e}"),
    }
}

/// `switchboard.toml`.
pub fn settings(data: &[u8]) {
    let text = text(data);
    let file = path("switchboard.toml");
    match Settings::from_str(&file, &text) {
        Ok(_) => {}
        Err(ConfigError::Invalid(problems)) => check_problems(&problems, &[(&file, &text)]),
        Err(e @ ConfigError::Read { .. }) => panic!("nothing was read from disk: {e}"),
    }
}

/// `agents.toml`, with the shipped routing file.
pub fn agents(data: &[u8]) {
    let text = text(data);
    let (a, r) = (path("agents.toml"), path("routing.toml"));
    let result = GatewayConfig::from_strs(DOMAIN, (&a, &text), (&r, ROUTING));
    check_config(result, &[(&a, &text), (&r, ROUTING)]);
}

/// `routing.toml` (queues, rules, calendars, texts), with the shipped agents.
pub fn routing(data: &[u8]) {
    let text = text(data);
    let (a, r) = (path("agents.toml"), path("routing.toml"));
    let result = GatewayConfig::from_strs(DOMAIN, (&a, AGENTS), (&r, &text));
    check_config(result, &[(&a, AGENTS), (&r, &text)]);
}

/// `dialogs.toml`, with the shipped agents and routing.
pub fn dialogs(data: &[u8]) {
    let text = text(data);
    let (a, r, d) = (
        path("agents.toml"),
        path("routing.toml"),
        path("dialogs.toml"),
    );
    let result =
        GatewayConfig::from_strs_with_dialogs(DOMAIN, (&a, AGENTS), (&r, ROUTING), (&d, &text));
    check_config(result, &[(&a, AGENTS), (&r, ROUTING), (&d, &text)]);
}

/// `categories.toml`, with the shipped agents and routing.
pub fn categories(data: &[u8]) {
    let text = text(data);
    let (a, r, c) = (
        path("agents.toml"),
        path("routing.toml"),
        path("categories.toml"),
    );
    let result =
        GatewayConfig::from_strs_with_categories(DOMAIN, (&a, AGENTS), (&r, ROUTING), (&c, &text));
    if let Ok(config) = &result {
        // The classifier trained on it answers.
        let _ = config.categories.classifier();
    }
    check_config(result, &[(&a, AGENTS), (&r, ROUTING), (&c, &text)]);
}

/// Knowledge-base articles: up to four files (split at `0xff`), in two
/// languages so that translations and related ids meet.
pub fn kb(data: &[u8]) {
    const NAMES: [&str; 4] = [
        "en/reset-password.md",
        "en/cancel-order.md",
        "fr/reset-password.md",
        "en/x.md",
    ];
    let files: Vec<(PathBuf, String)> = parts(data)
        .into_iter()
        .zip(NAMES)
        .map(|(part, name)| (path(name), text(part)))
        .collect();
    let given: Vec<(PathBuf, String)> = files.clone();
    match KnowledgeBase::from_files(files) {
        Ok(kb) => {
            for lang in kb.languages() {
                let query = given
                    .first()
                    .map(|(_, t)| t.chars().take(80).collect::<String>());
                for hit in kb.search(lang, &query.unwrap_or_default(), 3) {
                    let _ = kb.related(hit.article);
                }
            }
        }
        Err(problems) => {
            let refs: Vec<(&Path, &str)> = given
                .iter()
                .map(|(p, t)| (p.as_path(), t.as_str()))
                .collect();
            check_problems(&problems, &refs);
        }
    }
}
