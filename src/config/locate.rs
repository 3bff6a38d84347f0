//! Where `switchboard.toml` is when `--config` does not say: the first of
//! these that exists.
//!
//! 1. `conf/switchboard.toml` under the current directory: running from a
//!    checkout, as `cargo run` does.
//! 2. `conf/switchboard.toml` of the checkout the binary was built in, when
//!    the binary is `CHECKOUT/target/PROFILE/switchboard`: the path printed
//!    by `cargo build` works from any directory.
//! 3. `/etc/switchboard/switchboard.toml`: an installed server.
//!
//! A binary elsewhere (`~/.cargo/bin`, `/usr/bin`) has no checkout: looking
//! two folders above it would find an unrelated `conf/` by chance.

use std::fmt;
use std::path::{Path, PathBuf};

/// Under the current directory, and under the binary's checkout.
pub const IN_CHECKOUT: &str = "conf/switchboard.toml";
/// An installed server's, as `contrib/switchboard.service` runs it.
pub const SYSTEM: &str = "/etc/switchboard/switchboard.toml";

/// None of the places exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoConfig {
    /// Every place looked at, in order, with why it was a candidate.
    pub looked_at: Vec<(PathBuf, &'static str)>,
}

impl fmt::Display for NoConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "no configuration file found; looked at, in order:")?;
        for (path, why) in &self.looked_at {
            writeln!(f, "  {} ({why})", path.display())?;
        }
        write!(f, "name one with --config PATH")
    }
}

impl std::error::Error for NoConfig {}

/// The configuration file to use, for a process running in `cwd` from the
/// binary `exe` (`std::env::current_exe`, whose symlinks Linux resolves).
/// The current directory's candidate is returned as the relative
/// `conf/switchboard.toml`, so that messages name it as the admin would.
pub fn find_config(cwd: &Path, exe: Option<&Path>) -> Result<PathBuf, NoConfig> {
    let mut looked_at = vec![(cwd.join(IN_CHECKOUT), "from the current directory")];
    if let Some(checkout) = exe.and_then(checkout_of) {
        looked_at.push((checkout.join(IN_CHECKOUT), "from the binary's checkout"));
    }
    looked_at.push((PathBuf::from(SYSTEM), "system-wide"));
    match looked_at.iter().position(|(path, _)| path.is_file()) {
        Some(0) => Ok(PathBuf::from(IN_CHECKOUT)),
        Some(i) => Ok(looked_at.swap_remove(i).0),
        None => Err(NoConfig { looked_at }),
    }
}

/// `CHECKOUT` for `CHECKOUT/target/PROFILE/switchboard`.
fn checkout_of(exe: &Path) -> Option<&Path> {
    let target = exe.parent()?.parent()?;
    (target.file_name()? == "target").then_some(target.parent()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "").unwrap();
    }

    #[test]
    fn the_current_directory_then_the_binary_s_checkout() {
        let dir = tempfile::tempdir().unwrap();
        let (cwd, checkout) = (dir.path().join("cwd"), dir.path().join("checkout"));
        std::fs::create_dir_all(&cwd).unwrap();
        let exe = checkout.join("target/release/switchboard");
        touch(&exe);
        touch(&checkout.join(IN_CHECKOUT));
        assert_eq!(
            find_config(&cwd, Some(&exe)),
            Ok(checkout.join(IN_CHECKOUT))
        );
        touch(&cwd.join(IN_CHECKOUT));
        assert_eq!(
            find_config(&cwd, Some(&exe)),
            Ok(PathBuf::from(IN_CHECKOUT))
        );
    }

    #[test]
    fn a_binary_outside_a_target_folder_has_no_checkout() {
        assert_eq!(
            checkout_of(Path::new("/src/sb/target/debug/switchboard")),
            Some(Path::new("/src/sb"))
        );
        assert_eq!(
            checkout_of(Path::new("/home/a/.cargo/bin/switchboard")),
            None
        );
        assert_eq!(checkout_of(Path::new("/switchboard")), None);
        if Path::new(SYSTEM).exists() {
            return; // this machine has an installed server: it would be found
        }
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("bin/switchboard");
        let err = find_config(dir.path(), Some(&exe)).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "no configuration file found; looked at, in order:\n  \
                 {}/conf/switchboard.toml (from the current directory)\n  \
                 /etc/switchboard/switchboard.toml (system-wide)\n\
                 name one with --config PATH",
                dir.path().display()
            )
        );
    }
}
