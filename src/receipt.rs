//! Receipts for stanzas a peer will be told were handled (XEP-0198 `h`).
//!
//! A stream that acknowledges what it receives must not count a stanza
//! that is still only in memory: a crash would lose it while the sender
//! believes it arrived. So each stanza read gets a [`Receipt`] that
//! travels with it (through the router, into a handler and its journal)
//! and is given back where the stanza is done with: stored, delivered to
//! a session's queue, or answered with an error. Stanzas finish out of
//! order (a presence at once, a message after its commit), while `h` is a
//! count of the first stanzas: [`Receipts::handled`] is the length of the
//! prefix whose receipts are all given back.
//!
//! Imports nothing of ours: streams issue receipts, and the layers above
//! carry them.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

/// The receipts one stream issued, in the order of its stanzas.
#[derive(Default)]
pub struct Receipts {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    state: Mutex<State>,
    advanced: Notify,
}

#[derive(Default)]
struct State {
    /// Stanzas handled: the prefix whose receipts are all given back.
    handled: u64,
    /// For each stanza after the prefix, whether its receipt is back.
    /// The front is always `false` (the first one still out).
    after: VecDeque<bool>,
}

impl Receipts {
    pub fn new() -> Receipts {
        Receipts::default()
    }

    /// The receipt of the next stanza read.
    pub fn issue(&self) -> Receipt {
        let mut s = self.inner.lock();
        let seq = s.handled + s.after.len() as u64;
        s.after.push_back(false);
        Receipt {
            of: Some((self.inner.clone(), seq)),
        }
    }

    /// How many of the stanzas read so far, from the first, are handled.
    pub fn handled(&self) -> u64 {
        self.inner.lock().handled
    }

    /// How many were read (receipts issued).
    pub fn issued(&self) -> u64 {
        let s = self.inner.lock();
        s.handled + s.after.len() as u64
    }

    /// Resolves when [`Receipts::handled`] may have grown since the last
    /// time it resolved (a permit is kept if it grew in between).
    pub async fn advanced(&self) {
        self.inner.advanced.notified().await
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding it leaves counts only: still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Given back ([`Receipt::done`]) when its stanza is stored, delivered or
/// answered. One dropped without that (a handler's queue dropped at
/// shutdown, a task that died) was not handled: the stream never counts
/// it, so its peer resends or bounces it. The default receipt belongs to
/// no stream (stanzas nobody acknowledges).
#[derive(Default)]
pub struct Receipt {
    of: Option<(Arc<Inner>, u64)>,
}

impl std::fmt::Debug for Receipt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.of {
            Some((_, seq)) => write!(f, "Receipt({seq})"),
            None => f.write_str("Receipt(none)"),
        }
    }
}

impl Receipt {
    /// A receipt of no stream.
    pub fn none() -> Receipt {
        Receipt::default()
    }

    /// The stanza is handled: its stream may count it.
    pub fn done(mut self) {
        let Some((inner, seq)) = self.of.take() else {
            return;
        };
        let mut s = inner.lock();
        let Some(i) = seq.checked_sub(s.handled) else {
            return;
        };
        if let Some(done) = s.after.get_mut(i as usize) {
            *done = true;
        }
        let mut grew = false;
        while s.after.front() == Some(&true) {
            s.after.pop_front();
            s.handled += 1;
            grew = true;
        }
        drop(s);
        if grew {
            inner.advanced.notify_one();
        }
    }
}

impl Drop for Receipt {
    fn drop(&mut self) {
        if let Some((_, seq)) = &self.of {
            tracing::debug!(seq, "a stanza's receipt was dropped unhandled");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handled_is_the_prefix_of_dropped_receipts() {
        let r = Receipts::new();
        let a = r.issue();
        let b = r.issue();
        let c = r.issue();
        assert_eq!((r.handled(), r.issued()), (0, 3));
        b.done();
        assert_eq!(r.handled(), 0, "the first is still out");
        a.done();
        assert_eq!(r.handled(), 2);
        let d = r.issue();
        d.done();
        assert_eq!(r.handled(), 2, "c is still out");
        c.done();
        assert_eq!(r.handled(), 4);
    }

    #[test]
    fn a_receipt_dropped_unhandled_is_never_counted() {
        let r = Receipts::new();
        let a = r.issue();
        let b = r.issue();
        drop(a);
        b.done();
        assert_eq!(r.handled(), 0, "the peer must resend or bounce the first");
    }

    #[test]
    fn a_receipt_of_no_stream_counts_nowhere() {
        let r = Receipts::new();
        Receipt::none().done();
        assert_eq!(r.handled(), 0);
    }

    #[tokio::test]
    async fn growth_wakes_the_stream() {
        let r = Receipts::new();
        let a = r.issue();
        std::thread::spawn(move || a.done());
        r.advanced().await;
        assert_eq!(r.handled(), 1);
    }
}
