//! The bridge's group commit: every message a customer or an agent writes
//! is stored before it is relayed, but the actor does not wait for each
//! insert. It hands the journal the row and the stanzas to relay once the
//! row is stored; the journal task commits whatever accumulated while the
//! previous commit ran, in one transaction, then relays in order. A row the
//! database refuses is found and left out, and its writer gets an error;
//! if the database cannot be reached, nothing is relayed and each writer
//! gets an error: nothing is lost silently.
//!
//! Order: everything the bridge relays goes through the journal, rows or
//! not (a chat state after a message must not overtake it). Reads of the
//! transcript call [`Journal::flush`] first, so they see every row handed
//! over before.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio_util::task::TaskTracker;
use tracing::error;

use super::ports::Outbox;
use crate::receipt::Receipt;
use crate::store::{NewMessage, Store, TranscriptWriter};
use crate::xml::Stanza;
use crate::xml::{error_reply, Condition};

/// Rows per commit at most: bounds the latency one commit adds (about 5 µs
/// a row). Large because a commit's cost is mostly one index page per
/// session it touches, so the more rows each session has in a batch, the
/// cheaper each row: under overload the batches grow and the bridge takes
/// more (support chat beyond saturation: 32,700 msg/s with 512, 36,000-
/// 40,800 with 4,096; `scripts/bench --only support-max`).
const MAX_BATCH: usize = 4096;
/// Entries waiting at most; beyond it the actor waits (backpressure).
const CAPACITY: usize = 8192;

/// One thing to store and relay.
pub(super) struct Entry {
    pub row: Option<NewMessage>,
    /// Routed in order once `row` is stored.
    pub then: Vec<Stanza>,
    /// Bounced with `internal-server-error` if the row cannot be stored.
    pub writer: Option<Stanza>,
    /// Of the stanza `row` came from: given back once the row is stored (or
    /// its writer told it is not), so its stream acknowledges it then.
    pub receipt: Receipt,
}

// Nearly every op is an Append: boxing it would cost an allocation per
// message to save space on the rare Flush.
#[allow(clippy::large_enum_variant)]
enum Op {
    Append(Entry),
    /// Messages relayed from the transcript: marked once the batch before
    /// them is committed. Nothing waits for the mark but the next read of
    /// what is undelivered, which flushes first.
    Delivered(Vec<i64>, i64),
    Flush(oneshot::Sender<()>),
}

#[derive(Clone)]
pub(super) struct Journal {
    tx: mpsc::Sender<Op>,
}

impl Journal {
    pub fn start(store: Store, out: Arc<dyn Outbox>, tasks: &TaskTracker) -> Journal {
        let (tx, rx) = mpsc::channel(CAPACITY);
        tasks.spawn(run(rx, store, out));
        Journal { tx }
    }

    pub async fn append(&self, entry: Entry) {
        // Fails only at shutdown, when nothing is relayed any more.
        let _ = self.tx.send(Op::Append(entry)).await;
    }

    /// Marks stored messages delivered, off the actor's loop.
    pub async fn delivered(&self, ids: Vec<i64>, at_ms: i64) {
        let _ = self.tx.send(Op::Delivered(ids, at_ms)).await;
    }

    /// Returns once everything appended before is stored and relayed.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Op::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

async fn run(mut rx: mpsc::Receiver<Op>, store: Store, out: Arc<dyn Outbox>) {
    let mut writer = store.transcript_writer();
    let mut batch: Vec<Entry> = Vec::new();
    let mut flushes: Vec<oneshot::Sender<()>> = Vec::new();
    let mut marks: Vec<(Vec<i64>, i64)> = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(op) = next.take() {
            match op {
                Op::Append(e) => batch.push(e),
                Op::Delivered(ids, at) => marks.push((ids, at)),
                Op::Flush(done) => flushes.push(done),
            }
            if batch.len() >= MAX_BATCH {
                break;
            }
            next = rx.try_recv().ok();
        }
        commit(&mut writer, &*out, std::mem::take(&mut batch)).await;
        for (ids, at) in marks.drain(..) {
            if let Err(e) = store.messages_mark_delivered(&ids, at).await {
                // Left undelivered, they are relayed again: twice, not never.
                error!(error = %e, rows = ids.len(), "marking relayed messages delivered failed");
            }
        }
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
    }
}

async fn commit(writer: &mut TranscriptWriter, out: &dyn Outbox, batch: Vec<Entry>) {
    let mut batch = batch;
    let had_row: Vec<bool> = batch.iter().map(|e| e.row.is_some()).collect();
    let rows: Vec<NewMessage> = batch.iter_mut().filter_map(|e| e.row.take()).collect();
    let mut stored = vec![true; rows.len()];
    for (range, err) in writer.append_isolating(&rows).await {
        if range.len() == 1 {
            let row = &rows[range.start];
            error!(error = %err, session = %row.session_id, direction = %row.direction,
                "a bridged message could not be stored; its sender is told");
        } else {
            error!(error = %err, rows = range.len(), "storing bridged messages failed");
        }
        stored[range].fill(false);
    }
    let mut stored = stored.into_iter();
    for (e, had_row) in batch.into_iter().zip(had_row) {
        // Entries without a row (chat states and the like) always go.
        if !had_row || stored.next() == Some(true) {
            for s in e.then {
                out.route(s).await;
            }
        } else if let Some(w) = e.writer {
            let text = Some("not stored; please send again");
            // `w` came in addressed to the support domain: the reply's
            // `from` is always its `to`, never the fallback.
            if let Some(reply) = error_reply(&w, Condition::InternalServerError, text, "") {
                out.route(reply).await;
            }
        }
        e.receipt.done();
    }
}
