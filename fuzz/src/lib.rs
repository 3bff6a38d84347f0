//! The targets' bodies, shared with the normal test suite (`tests/fuzz.rs`):
//! what each afl binary runs is what `cargo test --test fuzz` replays.

#[path = "../../tests/fuzz_targets/mod.rs"]
mod targets;

pub use targets::*;
