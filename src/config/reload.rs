//! Hot reload of the gateway configuration. A [`GatewayConfigHandle`] holds
//! the configuration in force; readers take an `Arc` snapshot without ever
//! blocking a reload. [`watch()`] reloads when `agents.toml`,
//! `routing.toml`, `dialogs.toml`, `categories.toml` or an article of the
//! knowledge base changes, or on SIGHUP. A version that fails validation is
//! refused, its problems logged as `file:line: message`, and the previous
//! configuration stays in force: a typo must not take the contact center
//! down.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwap;
use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecursiveMode, Watcher as _};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::gateway::GatewayConfig;
use super::problem::{ConfigError, Problem};
use super::settings::Settings;

/// Editors write a file in several steps (truncate and write, or write a
/// temporary file and rename it); reload once the burst is over.
const DEBOUNCE: Duration = Duration::from_millis(200);
/// ...but not later than this after the first event, however busy the
/// folder is.
const DEBOUNCE_MAX: Duration = Duration::from_secs(1);

/// The configuration in force and its change notifications. Clones share
/// the same state.
#[derive(Clone)]
pub struct GatewayConfigHandle {
    inner: Arc<Inner>,
}

struct Inner {
    current: ArcSwap<GatewayConfig>,
    /// The generation in force: 1 for the first configuration, one more for
    /// each one applied since.
    applied: watch::Sender<u64>,
    rejected: watch::Sender<Rejection>,
    /// Serialises reloads, so that a slower, older read never replaces a
    /// newer configuration; holds whether the last one was refused, so that
    /// the next valid one says the refusal is over (otherwise an admin who
    /// puts back the file in force would see "rejected" as the last word).
    reloading: Mutex<bool>,
}

/// The last reload that was refused.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rejection {
    /// How many reloads have been refused so far; 0: none yet.
    pub count: u64,
    pub problems: Vec<Problem>,
}

/// What [`GatewayConfigHandle::reload`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum ReloadOutcome {
    /// A new configuration is in force, with this generation.
    Applied(u64),
    /// The files say the same as the configuration in force.
    Unchanged(u64),
    /// The files are invalid; the configuration in force stays.
    Rejected(Vec<Problem>),
}

impl GatewayConfigHandle {
    pub fn new(config: GatewayConfig) -> Self {
        GatewayConfigHandle {
            inner: Arc::new(Inner {
                current: ArcSwap::from_pointee(config),
                applied: watch::Sender::new(1),
                rejected: watch::Sender::new(Rejection::default()),
                reloading: Mutex::new(false),
            }),
        }
    }

    /// Loads the files named in `settings` (see [`GatewayConfig::load`]).
    pub fn load(settings: &Settings) -> Result<Self, ConfigError> {
        GatewayConfig::load(settings).map(Self::new)
    }

    /// The configuration in force; hold the `Arc` for a consistent view
    /// across one decision.
    pub fn current(&self) -> Arc<GatewayConfig> {
        self.inner.current.load_full()
    }

    pub fn generation(&self) -> u64 {
        *self.inner.applied.borrow()
    }

    /// Changes to the generation in force: wakes after each applied reload,
    /// when the gateway should re-evaluate its queues.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.applied.subscribe()
    }

    /// Wakes after each refused reload.
    pub fn rejections(&self) -> watch::Receiver<Rejection> {
        self.inner.rejected.subscribe()
    }

    /// Puts `config` in force and returns its generation.
    pub fn replace(&self, config: GatewayConfig) -> u64 {
        self.inner.current.store(Arc::new(config));
        let mut generation = 0;
        self.inner.applied.send_modify(|g| {
            *g += 1;
            generation = *g;
        });
        generation
    }

    /// Reads and validates the files again (blocking file I/O): applies
    /// them if valid and different; if invalid, logs every problem at
    /// `error` and keeps the configuration in force. The first valid
    /// version after a refused one, changed or not, logs "gateway
    /// configuration valid again".
    pub fn reload(&self, settings: &Settings) -> ReloadOutcome {
        let mut refused = self
            .inner
            .reloading
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let problems = match GatewayConfig::load(settings) {
            Ok(config) if config == *self.current() => {
                let generation = self.generation();
                if std::mem::take(&mut *refused) {
                    tracing::info!(
                        generation,
                        "gateway configuration valid again: the same as the one in force"
                    );
                } else {
                    tracing::debug!("gateway configuration unchanged");
                }
                return ReloadOutcome::Unchanged(generation);
            }
            Ok(config) => {
                if std::mem::take(&mut *refused) {
                    tracing::info!("gateway configuration valid again");
                }
                let agents = config.agents.len();
                let (queues, rules) = (config.routing.queues().len(), config.routing.rules().len());
                let generation = self.replace(config);
                tracing::info!(
                    generation,
                    agents,
                    queues,
                    rules,
                    "gateway configuration reloaded"
                );
                return ReloadOutcome::Applied(generation);
            }
            Err(ConfigError::Invalid(problems)) => problems,
            Err(ConfigError::Read { path, source }) => vec![Problem {
                file: path,
                line: 1,
                message: format!("cannot read: {source}"),
            }],
        };
        for p in &problems {
            tracing::error!("{p}");
        }
        tracing::error!(
            generation = self.generation(),
            "gateway configuration rejected: the previous one stays in force"
        );
        *refused = true;
        self.inner.rejected.send_modify(|r| {
            r.count += 1;
            r.problems = problems.clone();
        });
        ReloadOutcome::Rejected(problems)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("cannot start a file watcher: {0}")]
    Init(#[source] notify::Error),
    #[error("cannot watch {}: {source}", dir.display())]
    Notify {
        dir: PathBuf,
        #[source]
        source: notify::Error,
    },
    #[error("cannot listen for SIGHUP: {0}")]
    Signal(#[source] std::io::Error),
}

/// Watches the gateway files until `shutdown`; see [`Watcher`].
pub async fn watch(
    settings: Settings,
    handle: GatewayConfigHandle,
    shutdown: CancellationToken,
) -> Result<(), WatchError> {
    Watcher::start(settings, handle)?.run(shutdown).await;
    Ok(())
}

/// A file watcher and SIGHUP listener, set up by [`Watcher::start`] so that
/// changes made from then on are seen even before [`Watcher::run`] polls.
pub struct Watcher {
    settings: Settings,
    handle: GatewayConfigHandle,
    events: mpsc::UnboundedReceiver<notify::Result<notify::Event>>,
    /// Kept alive: dropping it stops the events.
    _notify: notify::RecommendedWatcher,
    /// File names whose changes matter (the files, and their targets when
    /// they are symlinks).
    names: Vec<OsString>,
    /// The knowledge base's folder, watched whole: any article's change
    /// matters.
    kb: Option<PathBuf>,
    hangup: tokio::signal::unix::Signal,
}

impl Watcher {
    /// Watches the folders of both files (editors replace a file by
    /// renaming a new one over it, which a watch on the file itself would
    /// lose) and listens for SIGHUP. Must run inside a Tokio runtime.
    pub fn start(settings: Settings, handle: GatewayConfigHandle) -> Result<Watcher, WatchError> {
        let (tx, events) = mpsc::unbounded_channel();
        let mut notify = notify::recommended_watcher(move |ev| {
            let _ = tx.send(ev);
        })
        .map_err(WatchError::Init)?;
        let mut files = vec![
            settings.gateway.agents_file.as_path(),
            settings.gateway.routing_file.as_path(),
        ];
        files.extend(settings.gateway.dialogs_file.as_deref());
        files.extend(settings.gateway.categories_file.as_deref());
        let (dirs, names) = folders(&files);
        for dir in &dirs {
            notify
                .watch(dir, RecursiveMode::NonRecursive)
                .map_err(|source| WatchError::Notify {
                    dir: dir.clone(),
                    source,
                })?;
        }
        // The folder of the knowledge base in force at start; one that a
        // reload names instead is read on each reload (and SIGHUP) but only
        // watched after a restart.
        let kb = handle
            .current()
            .dialogs
            .self_service()
            .and_then(|s| std::fs::canonicalize(&s.dir).ok());
        if let Some(dir) = &kb {
            notify
                .watch(dir, RecursiveMode::Recursive)
                .map_err(|source| WatchError::Notify {
                    dir: dir.clone(),
                    source,
                })?;
        }
        let hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .map_err(WatchError::Signal)?;
        tracing::info!(folders = ?dirs, knowledge_base = ?kb, "watching the gateway configuration");
        Ok(Watcher {
            settings,
            handle,
            events,
            _notify: notify,
            names,
            kb,
            hangup,
        })
    }

    /// Reloads on file changes (debounced) and on SIGHUP until `shutdown`.
    pub async fn run(mut self, shutdown: CancellationToken) {
        // (first event, last event) of the burst being debounced.
        let mut burst: Option<(Instant, Instant)> = None;
        loop {
            let due = burst.map(|(first, last)| (last + DEBOUNCE).min(first + DEBOUNCE_MAX));
            tokio::select! {
                _ = shutdown.cancelled() => break,
                ev = self.events.recv() => match ev {
                    Some(Ok(ev)) if self.relevant(&ev) => {
                        let now = Instant::now();
                        burst = Some((burst.map_or(now, |(first, _)| first), now));
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => tracing::warn!(error = %e, "watching the gateway configuration"),
                    // Only when the watcher is dropped, which `self` prevents.
                    None => break,
                },
                Some(()) = self.hangup.recv() => {
                    tracing::info!("SIGHUP: reloading the gateway configuration");
                    burst = None;
                    self.reload().await;
                }
                _ = sleep_until(due) => {
                    burst = None;
                    self.reload().await;
                }
            }
        }
    }

    async fn reload(&self) {
        let (handle, settings) = (self.handle.clone(), self.settings.clone());
        if let Err(e) = tokio::task::spawn_blocking(move || handle.reload(&settings)).await {
            tracing::error!(error = %e, "reloading the gateway configuration failed");
        }
    }

    /// Whether `ev` may have changed one of the files. Opening and reading
    /// are not changes (our own reads would otherwise trigger reloads).
    /// Names starting with `..` are also taken: Kubernetes swaps a
    /// `..data` symlink to update mounted files all at once.
    fn relevant(&self, ev: &notify::Event) -> bool {
        if let EventKind::Access(kind) = ev.kind {
            if kind != AccessKind::Close(AccessMode::Write) {
                return false;
            }
        }
        let in_kb = |p: &Path| self.kb.as_ref().is_some_and(|kb| p.starts_with(kb));
        ev.paths.iter().any(|p| in_kb(p))
            || ev
                .paths
                .iter()
                .filter_map(|p| p.file_name())
                .any(|n| self.names.iter().any(|m| m == n) || n.to_string_lossy().starts_with(".."))
    }
}

/// The folders to watch for `files`, each once, and the file names whose
/// changes matter there. A file's own folder and, when it is a symlink,
/// its target's (a symlinked file changes where it points to). Folders are
/// compared canonical: `conf/agents.toml` (relative to the working
/// directory) and the absolute target of `conf/routing.toml` are one
/// folder, watched and logged once.
fn folders(files: &[&Path]) -> (Vec<PathBuf>, Vec<OsString>) {
    let (mut dirs, mut names): (Vec<PathBuf>, Vec<OsString>) = (Vec::new(), Vec::new());
    for file in files {
        let target = std::fs::canonicalize(file).ok();
        for f in std::iter::once(*file).chain(target.as_deref()) {
            let dir = match f.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => Path::new("."),
            };
            let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
            if let Some(name) = f.file_name() {
                if !names.iter().any(|n| n == name) {
                    names.push(name.to_os_string());
                }
            }
        }
    }
    (dirs, names)
}

async fn sleep_until(due: Option<Instant>) {
    match due {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
#[path = "reload_tests.rs"]
mod tests;
