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
//!
//! Delivery: a customer's message is stored undelivered, and its relay to
//! the agent carries a [`Delivery`] notice that the agent's session gives
//! when the client acknowledges it (or it is written, or stored offline).
//! The journal marks those rows delivered in its next commit, with the
//! appends: a crash before that relays them again after the restart
//! (twice at worst, with the same id, for the crash's last round trip),
//! never loses one that sat in a queue.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::task::TaskTracker;
use tracing::error;

use super::ports::{Clock, Outbox};
use crate::delivery::{Delivery, Notices};
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
    /// How many of `then`, from the first, relay `row` to its recipient:
    /// they carry its delivery notice.
    pub tracked: usize,
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
    Flush(oneshot::Sender<()>),
}

#[derive(Clone)]
pub(super) struct Journal {
    tx: mpsc::Sender<Op>,
    notices: Notices,
}

impl Journal {
    pub fn start(store: Store, out: Arc<dyn Outbox>, clock: Clock, tasks: &TaskTracker) -> Journal {
        let (tx, rx) = mpsc::channel(CAPACITY);
        let (notices, marks) = mpsc::unbounded_channel();
        let journal = Journal { tx, notices };
        tasks.spawn(run(rx, marks, journal.notices.clone(), store, out, clock));
        journal
    }

    pub async fn append(&self, entry: Entry) {
        // Fails only at shutdown, when nothing is relayed any more.
        let _ = self.tx.send(Op::Append(entry)).await;
    }

    /// The notice for a stored row relayed from outside the journal (what
    /// waited in the transcript): marked delivered when it is given.
    pub fn delivery(&self, row: i64) -> Delivery {
        Delivery::new(row, self.notices.clone())
    }

    /// Returns once everything appended before is stored and relayed, and
    /// every delivery notice given before is marked.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Op::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

/// How long delivery marks wait for a batch of appends to ride with
/// before they are committed alone. While customers write, a batch comes
/// sooner and the marks cost no commit of their own (committed alone, they
/// doubled the commits under load: a third less throughput); when they
/// stop, a crash in this window relays the marked-to-be lines again.
const MARK_DELAY: Duration = Duration::from_millis(10);
/// How long marks that failed to commit wait before another try when
/// nothing else comes to carry them.
const MARK_RETRY: Duration = Duration::from_secs(1);

async fn run(
    mut rx: mpsc::Receiver<Op>,
    mut marks: mpsc::UnboundedReceiver<i64>,
    notices: Notices,
    store: Store,
    out: Arc<dyn Outbox>,
    clock: Clock,
) {
    let mut writer = store.transcript_writer();
    let mut batch: Vec<Entry> = Vec::new();
    let mut flushes: Vec<oneshot::Sender<()>> = Vec::new();
    let mut delivered: Vec<i64> = Vec::new();
    // When the marks waiting go without a batch.
    let mut due: Option<Instant> = None;
    loop {
        let first = tokio::select! {
            op = rx.recv() => match op {
                Some(op) => Some(op),
                None => break,
            },
            Some(id) = marks.recv() => {
                delivered.push(id);
                due.get_or_insert_with(|| Instant::now() + MARK_DELAY);
                continue;
            }
            _ = tokio::time::sleep_until(due.unwrap_or_else(Instant::now)), if due.is_some() => None,
        };
        let mut next = first;
        loop {
            match next.take() {
                Some(Op::Append(e)) => batch.push(e),
                Some(Op::Flush(done)) => flushes.push(done),
                None => {}
            }
            if batch.len() >= MAX_BATCH {
                break;
            }
            match rx.try_recv() {
                Ok(op) => next = Some(op),
                Err(_) => break,
            }
        }
        // Every notice given before a flush was asked is in by now.
        while let Ok(id) = marks.try_recv() {
            delivered.push(id);
        }
        writer.mark_delivered(&delivered, clock.now_ms());
        delivered.clear();
        if batch.is_empty() {
            if let Err(e) = writer.commit_marks().await {
                // Kept for the next commit; undelivered meanwhile, they
                // would be relayed again: twice, not never.
                error!(error = %e, rows = writer.marks_pending(), "marking relayed messages delivered failed");
            }
        } else {
            commit(&mut writer, &*out, &notices, std::mem::take(&mut batch)).await;
        }
        due = (writer.marks_pending() > 0).then(|| Instant::now() + MARK_RETRY);
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
    }
    // Shutting down: what was delivered is marked, not relayed again after
    // the restart.
    while let Ok(id) = marks.try_recv() {
        delivered.push(id);
    }
    writer.mark_delivered(&delivered, clock.now_ms());
    if let Err(e) = writer.commit_marks().await {
        error!(error = %e, "marking relayed messages delivered at shutdown failed");
    }
}

async fn commit(
    writer: &mut TranscriptWriter,
    out: &dyn Outbox,
    notices: &Notices,
    batch: Vec<Entry>,
) {
    let mut batch = batch;
    let had_row: Vec<bool> = batch.iter().map(|e| e.row.is_some()).collect();
    let rows: Vec<NewMessage> = batch.iter_mut().filter_map(|e| e.row.take()).collect();
    let (ids, failed) = writer.append_isolating(&rows).await;
    for (range, err) in failed {
        if range.len() == 1 {
            let row = &rows[range.start];
            error!(error = %err, session = %row.session_id, direction = %row.direction,
                "a bridged message could not be stored; its sender is told");
        } else {
            error!(error = %err, rows = range.len(), "storing bridged messages failed");
        }
    }
    let mut ids = ids.into_iter();
    for (e, had_row) in batch.into_iter().zip(had_row) {
        let id = if had_row { ids.next().flatten() } else { None };
        // Entries without a row (chat states and the like) always go.
        if !had_row || id.is_some() {
            for (i, s) in e.then.into_iter().enumerate() {
                let s = match id {
                    Some(id) if i < e.tracked => {
                        s.with_delivery(Delivery::new(id, notices.clone()))
                    }
                    _ => s,
                };
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
