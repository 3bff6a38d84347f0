//! A short run of every fuzz target in the normal suite: the seed corpus
//! (`fuzz/corpus/TARGET/`), every crash or hang afl found and that was
//! fixed (`fuzz/regressions/TARGET/`), and fixed-seed mutations of each
//! corpus file (bit flips, inserted and deleted bytes, dictionary tokens
//! from `fuzz/dict/`, splices of two files) go through the same
//! invariant-checking functions the afl binaries run. A failure prints the
//! input, escaped, to be saved under `fuzz/regressions/`.

mod fuzz_targets;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use fuzz_targets::TARGETS;

/// Mutations of each corpus file per target: enough to catch a broken
/// invariant near the seeds, few enough for the whole file to run in a
/// few seconds in release mode.
fn mutations(target: &str) -> usize {
    match target {
        "framer" | "stanza" | "jid" | "dialback" | "component" | "sasl" => 600,
        "kb" | "settings" | "agents" => 100,
        _ => 40,
    }
}

fn dict_for(target: &str) -> &'static str {
    match target {
        "sasl" => "sasl.dict",
        "settings" | "agents" | "routing" | "dialogs" | "categories" | "kb" => "toml.dict",
        _ => "xml.dict",
    }
}

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

fn files_in(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != "README.md"))
        .map(|p| {
            let data = std::fs::read(&p).unwrap();
            (p, data)
        })
        .collect();
    files.sort();
    files
}

/// The values of an afl dictionary (`name="value"`, `\xNN` escapes).
fn dictionary(name: &str) -> Vec<Vec<u8>> {
    let text = std::fs::read_to_string(fuzz_dir().join("dict").join(name)).unwrap();
    let mut tokens = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (_, value) = line.split_once('=').expect("name=\"value\"");
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .expect("quoted");
        let mut out = Vec::new();
        let mut bytes = value.bytes();
        while let Some(b) = bytes.next() {
            if b != b'\\' {
                out.push(b);
                continue;
            }
            match bytes.next() {
                Some(b'x') => {
                    let hex = [bytes.next().unwrap(), bytes.next().unwrap()];
                    let hex = std::str::from_utf8(&hex).unwrap();
                    out.push(u8::from_str_radix(hex, 16).unwrap());
                }
                Some(other) => out.push(other),
                None => panic!("a dangling escape in {name}"),
            }
        }
        tokens.push(out);
    }
    assert!(!tokens.is_empty());
    tokens
}

/// xorshift64*: fixed seeds, the same inputs on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, data: &[u8], dict: &[Vec<u8>], others: &[(PathBuf, Vec<u8>)]) -> Vec<u8> {
    let mut out = data.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(6) {
            0 if !out.is_empty() => {
                let i = at.min(out.len() - 1);
                out[i] ^= 1 << rng.below(8);
            }
            1 => out.insert(at, rng.next() as u8),
            2 if !out.is_empty() => {
                let n = 1 + rng.below(8);
                let end = (at + n).min(out.len());
                out.drain(at.min(end)..end);
            }
            3 | 4 => {
                let token = &dict[rng.below(dict.len())];
                out.splice(at..at, token.iter().copied());
            }
            _ => {
                // The head of this input, the tail of another.
                let (_, other) = &others[rng.below(others.len())];
                let from = rng.below(other.len() + 1);
                out.truncate(at);
                out.extend_from_slice(&other[from..]);
            }
        }
    }
    out
}

fn escaped(data: &[u8]) -> String {
    data.iter()
        .flat_map(|&b| std::ascii::escape_default(b))
        .map(char::from)
        .collect()
}

/// Runs one target on its corpus, regressions and mutations; fails listing
/// every input that broke an invariant.
fn replay(target: &str) {
    let (_, run) = TARGETS.iter().find(|(name, _)| *name == target).unwrap();
    let corpus = files_in(&fuzz_dir().join("corpus").join(target));
    assert!(!corpus.is_empty(), "no seed corpus for {target}");
    let regressions = files_in(&fuzz_dir().join("regressions").join(target));
    let dict = dictionary(dict_for(target));
    let mut failures = Vec::new();
    let mut check = |what: String, data: &[u8]| {
        if catch_unwind(AssertUnwindSafe(|| run(data))).is_err() {
            failures.push(format!("{what}: b\"{}\"", escaped(data)));
        }
    };
    for (path, data) in corpus.iter().chain(&regressions) {
        check(path.display().to_string(), data);
    }
    let seed = target.bytes().fold(0x9E37_79B9_7F4A_7C15u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01B3)
    });
    let mut rng = Rng(seed | 1);
    for (path, data) in &corpus {
        for n in 0..mutations(target) {
            let input = mutate(&mut rng, data, &dict, &corpus);
            check(format!("mutation {n} of {}", path.display()), &input);
        }
    }
    assert!(
        failures.is_empty(),
        "{target}: {} failing inputs:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

macro_rules! targets {
    ($($name:ident),*) => {
        $(#[test] fn $name() { replay(stringify!($name)); })*

        #[test]
        fn every_target_is_replayed() {
            let tested = [$(stringify!($name)),*];
            for (name, _) in TARGETS {
                assert!(tested.contains(name), "{name} has no test here");
            }
            assert_eq!(tested.len(), TARGETS.len());
        }
    };
}

targets!(
    framer, stanza, dialback, jid, sasl, component, settings, agents, routing, dialogs, categories,
    kb
);
