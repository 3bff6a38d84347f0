//! WAL checkpoints for a SQLite file, copied into the database by a
//! connection of their own instead of by whichever commit crosses SQLite's
//! threshold.
//!
//! SQLite's automatic checkpoint runs inside the commit that made the WAL
//! long enough, so the journal's batch that triggers it waits for every page
//! changed since the last one to be copied and synced: with a 40 MB
//! threshold that stall was the p99 of support chat at 4,000 msg/s (96 ms
//! against 33 ms with the default 4 MB). Here a connection of our own, on its
//! own sqlx worker thread, runs a PASSIVE checkpoint every
//! [`INTERVAL`], which neither blocks nor is blocked by writers. The
//! automatic checkpoint stays on as the only thing that can *restart* the WAL
//! under continuous writes (a restart needs every frame copied when a writer
//! begins, which a checkpointer running beside the writer never sees): when it
//! fires, the background has already copied nearly everything, so the commit
//! that triggers it copies only the tail.

use std::sync::Arc;
use std::time::Duration;

use sqlx::any::AnyConnectOptions;
use sqlx::{AnyConnection, ConnectOptions, Connection};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{query_err, StoreError};

/// How often the background connection copies the WAL into the database.
/// At 25,000-32,000 support messages/s the WAL grows 40 MB in well under a
/// second, so with 500 ms the commit that crossed it still copied a large
/// tail: p99 61-77 ms at 25,000/s, 29-32 ms with 100 ms, for the same CPU
/// (`BENCH_SUPPORT_MAX=25000 scripts/bench --only support-max`). Shorter
/// copies hot index pages more often for nothing.
const INTERVAL: Duration = Duration::from_millis(100);

/// Handle to the background checkpoint task; shared by a `Store`'s clones.
#[derive(Debug)]
pub(crate) struct Checkpointer {
    stop: CancellationToken,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Checkpointer {
    /// Opens the checkpoint connection and starts its task.
    pub(crate) async fn start(options: &AnyConnectOptions) -> Result<Arc<Self>, StoreError> {
        let conn = options.connect().await.map_err(StoreError::Connect)?;
        let stop = CancellationToken::new();
        let task = tokio::spawn(run(conn, stop.clone()));
        Ok(Arc::new(Checkpointer {
            stop,
            task: Mutex::new(Some(task)),
        }))
    }

    /// Stops the task after its current checkpoint and closes its connection.
    pub(crate) async fn stop(&self) {
        self.stop.cancel();
        if let Some(task) = self.task.lock().await.take() {
            // A panic in the task has already been reported by tokio; there
            // is nothing left to close.
            let _ = task.await;
        }
    }
}

impl Drop for Checkpointer {
    /// A `Store` dropped without `close` must not leave the task polling a
    /// database nobody uses.
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn run(mut conn: AnyConnection, stop: CancellationToken) {
    let mut tick = tokio::time::interval(INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = tick.tick() => {}
        }
        if let Err(e) = checkpoint(&mut conn).await {
            // The automatic checkpoint still bounds the WAL; a failure here
            // (disk full, I/O error) costs latency, not data.
            tracing::warn!(error = %e, "background WAL checkpoint failed");
        }
    }
    if let Err(e) = conn.close().await {
        tracing::debug!(error = %e, "closing the checkpoint connection");
    }
}

async fn checkpoint(conn: &mut AnyConnection) -> Result<(), StoreError> {
    // Returns (busy, frames in the WAL, frames copied); busy only means
    // another checkpoint was running, which is as good.
    let _: (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(conn)
        .await
        .map_err(query_err("WAL checkpoint"))?;
    Ok(())
}
