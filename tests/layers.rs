//! The layers of `src/` point down only: `server` (wiring) → `gateway`
//! and `http` (siblings, which do not import each other) → `router` →
//! `stream` → `session` → `config` (which loads the knowledge base) →
//! `xml`, `net`, `store`, `slot`, `kb`, `mood`, `classify` → `util`,
//! `problem`, `text`, `when`, `receipt`, `delivery`, `limit`. Read from the
//! code's own `crate::…` paths, so that an import
//! against the grain fails here, in review, rather than in a tangle found
//! later. No arrow points the wrong way, and none may: a layer that needs
//! something of a higher one takes it as a trait that layer implements.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Rank of each top-level module of the library: a file may name only
/// modules of lower rank (and its own).
fn rank(module: &str) -> Option<u8> {
    Some(match module {
        "server" => 7,
        "gateway" | "http" => 6,
        "router" => 5,
        "stream" => 4,
        "session" => 3,
        "config" => 2,
        "xml" | "net" | "store" | "slot" | "kb" | "mood" | "classify" => 1,
        "util" | "problem" | "text" | "when" | "receipt" | "delivery" | "limit" => 0,
        _ => return None,
    })
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file under `src/` belongs to (`None`: the crate
/// root, `main.rs` and the binaries, which sit above every layer).
fn module_of(rel: &str) -> Option<&str> {
    let rest = rel.strip_prefix("src/")?;
    if rest.starts_with("bin/") || rest == "main.rs" || rest == "lib.rs" {
        return None;
    }
    Some(rest.split(['/', '.']).next().unwrap())
}

/// Top-level modules the file names as `crate::NAME`, outside comments.
fn named_modules(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if rank(&name).is_some() {
                found.insert(name);
            }
        }
        // `use crate::{a, b}` names several at once.
        if let Some(i) = code.find("crate::{") {
            for part in code[i + "crate::{".len()..].split([',', '}']) {
                let name = part.trim().split("::").next().unwrap_or("").trim();
                if rank(name).is_some() {
                    found.insert(name.to_string());
                }
            }
        }
    }
    found
}

#[test]
fn layers_point_down() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    let mut wrong = BTreeSet::new();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in &files {
        let rel = path
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let Some(from) = module_of(&rel) else {
            continue;
        };
        let text = std::fs::read_to_string(path).unwrap();
        for to in named_modules(&text) {
            if to == from {
                continue;
            }
            graph
                .entry(from.to_string())
                .or_default()
                .insert(to.clone());
            if rank(&to) >= rank(from) {
                wrong.insert((rel.clone(), to));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers (file -> module it names): {wrong:?}"
    );
    // Within rank 1 nothing may go round in a circle either.
    for (a, targets) in &graph {
        for b in targets {
            let back = graph.get(b).is_some_and(|t| t.contains(a));
            assert!(!back, "{a} and {b} import each other");
        }
    }
}

/// The reader of paths sees what it must, so the test above can fail.
#[test]
fn named_modules_reads_paths_and_groups() {
    let text = "use crate::router::Router;\n// crate::gateway in a comment\n\
                use crate::{store::Store, xml::Stanza};\nlet x = crate::util::now_ms();";
    let got: Vec<String> = named_modules(text).into_iter().collect();
    assert_eq!(got, ["router", "store", "util", "xml"]);
    assert_eq!(module_of("src/router/mod.rs"), Some("router"));
    assert_eq!(module_of("src/server.rs"), Some("server"));
    assert_eq!(module_of("src/main.rs"), None);
}
