//! The fuzz targets' bodies: one function per target, each checking what
//! must hold of its input (not only that nothing panics). `tests/fuzz.rs`
//! replays the seed corpus, the committed regressions and fixed-seed
//! mutations through them; the afl binaries of `fuzz/` call the very same
//! functions (`fuzz/src/lib.rs` includes this folder).

pub mod auth;
pub mod files;
pub mod xml;

/// A target's body: panics when an invariant does not hold of the input.
pub type Target = fn(&[u8]);

/// Every target by its name (the folder names under `fuzz/corpus/`).
pub const TARGETS: &[(&str, Target)] = &[
    ("framer", xml::framer),
    ("stanza", xml::stanza),
    ("dialback", auth::dialback),
    ("jid", xml::jid),
    ("sasl", auth::sasl),
    ("component", auth::component),
    ("settings", files::settings),
    ("agents", files::agents),
    ("routing", files::routing),
    ("dialogs", files::dialogs),
    ("categories", files::categories),
    ("kb", files::kb),
];

/// Splits a fuzz input into parts at `0xff` bytes, which never occur in
/// UTF-8: a way to carry several strings in one input.
pub fn parts(data: &[u8]) -> Vec<&[u8]> {
    data.split(|&b| b == 0xff).collect()
}

/// The text of a part, lossily: invalid UTF-8 becomes U+FFFD.
pub fn text(part: &[u8]) -> String {
    String::from_utf8_lossy(part).into_owned()
}
