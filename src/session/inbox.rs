//! A session writer's bounded queue, kept inside the session's handle.
//!
//! Why not a tokio mpsc channel: each allocates a 512-byte shared part and
//! a first block of 32 slots up front, and a session has two of them (the
//! router's stanzas and the control messages): 1.6 KB that every idle
//! session kept, of about 10. This one is a `VecDeque` (no allocation while
//! empty) behind a lock that is only held to push or pop, a semaphore
//! counting free slots (senders wait on it: a slow client pauses whoever
//! writes to it, never buffers without bound), and a `Notify` for the one
//! consumer, the writer.

use std::collections::VecDeque;
use std::sync::Mutex;

use tokio::sync::{Notify, Semaphore};

pub struct Inbox<T> {
    inner: Mutex<Inner<T>>,
    /// Free slots; closed once the writer is gone.
    space: Semaphore,
    ready: Notify,
}

struct Inner<T> {
    items: VecDeque<T>,
    /// Set under the lock, so no item is pushed after `close` drained.
    closed: bool,
}

impl<T> Inner<T> {
    fn pop(&mut self) -> Option<T> {
        let item = self.items.pop_front();
        if self.items.is_empty() && self.items.capacity() > KEEP {
            // A burst is over: an idle session keeps no room for the next.
            self.items = VecDeque::new();
        }
        item
    }
}

/// Slots an empty inbox keeps allocated.
const KEEP: usize = 8;

impl<T> Inbox<T> {
    pub fn new(capacity: usize) -> Inbox<T> {
        Inbox {
            inner: Mutex::new(Inner {
                items: VecDeque::new(),
                closed: false,
            }),
            space: Semaphore::new(capacity),
            ready: Notify::new(),
        }
    }

    /// Queues `item`, waiting while the inbox is full; gives it back if
    /// the writer is gone.
    pub async fn send(&self, item: T) -> Result<(), T> {
        match self.space.acquire().await {
            Ok(permit) => permit.forget(),
            Err(_) => return Err(item),
        }
        {
            let mut inner = self.lock();
            if inner.closed {
                return Err(item);
            }
            inner.items.push_back(item);
        }
        // One consumer: a stored permit covers a writer not waiting yet.
        self.ready.notify_one();
        Ok(())
    }

    /// The next item, waiting for one; `None` once closed and empty.
    pub async fn recv(&self) -> Option<T> {
        loop {
            {
                let mut inner = self.lock();
                if let Some(item) = inner.pop() {
                    drop(inner);
                    self.space.add_permits(1);
                    return Some(item);
                }
                if inner.closed {
                    return None;
                }
            }
            self.ready.notified().await;
        }
    }

    pub fn try_recv(&self) -> Option<T> {
        let item = self.lock().pop();
        if item.is_some() {
            self.space.add_permits(1);
        }
        item
    }

    /// The writer is done: senders get their item back from now on, and
    /// what was queued is returned for the caller to deal with.
    pub fn close(&self) -> Vec<T> {
        let left = {
            let mut inner = self.lock();
            inner.closed = true;
            std::mem::take(&mut inner.items).into_iter().collect()
        };
        self.space.close();
        self.ready.notify_one();
        left
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<T>> {
        // A panic while pushing or popping leaves the deque consistent.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::Arc;
    use std::task::Poll;
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn items_come_out_in_order() {
        let inbox = Inbox::new(8);
        for i in 0..5 {
            inbox.send(i).await.unwrap();
        }
        for i in 0..5 {
            assert_eq!(inbox.recv().await, Some(i));
        }
        assert_eq!(inbox.try_recv(), None);
    }

    /// Polls `f` once: its output if it finished without waiting.
    async fn poll_once<F: Future + Unpin>(f: &mut F) -> Option<F::Output> {
        std::future::poll_fn(|cx| match Pin::new(&mut *f).poll(cx) {
            Poll::Ready(v) => Poll::Ready(Some(v)),
            Poll::Pending => Poll::Ready(None),
        })
        .await
    }

    #[tokio::test]
    async fn a_full_inbox_pauses_its_senders_until_the_writer_takes() {
        let inbox = Inbox::new(2);
        inbox.send(1).await.unwrap();
        inbox.send(2).await.unwrap();
        let mut sender = Box::pin(inbox.send(3));
        // Still full: the third send waits.
        assert!(poll_once(&mut sender).await.is_none());
        assert_eq!(inbox.recv().await, Some(1));
        sender.await.unwrap();
        assert_eq!(inbox.recv().await, Some(2));
        assert_eq!(inbox.recv().await, Some(3));
    }

    #[tokio::test]
    async fn the_writer_wakes_for_items_sent_while_it_waits() {
        let inbox = Arc::new(Inbox::new(1024));
        let writer = {
            let inbox = inbox.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                while got.len() < 4000 {
                    got.push(inbox.recv().await.unwrap());
                }
                got
            })
        };
        let mut senders = Vec::new();
        for s in 0..4 {
            let inbox = inbox.clone();
            senders.push(tokio::spawn(async move {
                for i in 0..1000 {
                    inbox.send(s * 1000 + i).await.unwrap();
                    if i % 7 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            }));
        }
        for s in senders {
            s.await.unwrap();
        }
        let got = tokio::time::timeout(Duration::from_secs(10), writer)
            .await
            .unwrap()
            .unwrap();
        // Each sender's items in its own order, none lost.
        for s in 0..4 {
            let mine: Vec<i32> = got.iter().copied().filter(|v| v / 1000 == s).collect();
            assert_eq!(mine, (s * 1000..s * 1000 + 1000).collect::<Vec<_>>());
        }
    }

    #[tokio::test]
    async fn closing_hands_back_what_was_queued_and_refuses_more() {
        let inbox = Inbox::new(1);
        inbox.send("queued").await.unwrap();
        let mut waiting = Box::pin(inbox.send("waiting"));
        assert!(poll_once(&mut waiting).await.is_none());
        assert_eq!(inbox.close(), vec!["queued"]);
        assert_eq!(waiting.await, Err("waiting"));
        assert_eq!(inbox.send("late").await, Err("late"));
        assert_eq!(inbox.recv().await, None);
    }
}
