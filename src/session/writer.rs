//! The writer half of a session: drains the router queue to the socket,
//! keeps XEP-0198's unacknowledged stanzas, hibernates while the client may
//! resume, and cleans up when the session ends.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::io::{AsyncWriteExt, WriteHalf};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{Control, SessionContext, SessionHandle, SessionRouter, SmShared};
use crate::net::Transport;
use crate::xml::{escape_attr, ns, Kind, Stanza, StreamErrorCondition};

/// A batch longer than this goes to the transport in pieces.
const WRITE_CHUNK: usize = 16 * 1024;

/// Writes all of `data`, failing like a broken connection when the client
/// takes none of it for `stall` (ejabberd's send_timeout). Waiting on
/// would hold everyone who writes to this client, the gateway included,
/// behind its full queue; failing lets the session hibernate (XEP-0198)
/// or end, its stanzas kept for resumption or stored offline.
async fn write_or_stall(
    out: &mut WriteHalf<Transport>,
    mut data: &[u8],
    stall: std::time::Duration,
) -> std::io::Result<()> {
    while !data.is_empty() {
        match tokio::time::timeout(stall, out.write(data)).await {
            Ok(Ok(0)) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(Ok(n)) => data = &data[n..],
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(stalled()),
        }
    }
    Ok(())
}

fn stalled() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "the client took nothing for [limits] send_timeout_secs",
    )
}

/// A stanza sent but not yet acknowledged; `offline` is its stored row.
struct Unacked {
    seq: u32,
    stanza: Stanza,
    offline: Option<i64>,
}

pub struct Writer<R> {
    ctx: Arc<SessionContext<R>>,
    handle: Arc<SessionHandle>,
    sm: Arc<SmShared>,
    out: Option<WriteHalf<Transport>>,
    /// What is batched for the next flush. Released after every flush:
    /// most sessions are idle, and an idle session then holds no buffer
    /// (a `BufWriter` kept 16 KB each).
    buf: Vec<u8>,
    /// Stream management: id when resumable, counter of sent stanzas.
    sm_id: Option<String>,
    sent: u32,
    unacked: VecDeque<Unacked>,
    /// Offline rows written without stream management, deleted after flush.
    flushed_offline: Vec<i64>,
    /// Written without stream management: delivered once flushed.
    flushed: Vec<crate::delivery::Delivery>,
    hibernating_until: Option<Instant>,
    /// The current connection's: cancelled when the writer gives it up
    /// (a failed or stalled write), so that its reader drops the other
    /// half and the socket closes; the client then knows to resume.
    cut: CancellationToken,
}

enum End {
    /// The client closed cleanly or the session was replaced.
    Normal,
    /// The connection died and cannot be resumed.
    Lost,
}

impl<R: SessionRouter> Writer<R> {
    pub fn new(
        ctx: Arc<SessionContext<R>>,
        handle: Arc<SessionHandle>,
        sm: Arc<SmShared>,
        write: WriteHalf<Transport>,
        cut: CancellationToken,
    ) -> Writer<R> {
        Writer {
            ctx,
            handle,
            sm,
            out: Some(write),
            buf: Vec::new(),
            sm_id: None,
            sent: 0,
            unacked: VecDeque::new(),
            flushed_offline: Vec::new(),
            flushed: Vec::new(),
            hibernating_until: None,
            cut,
        }
    }

    pub async fn run(mut self) {
        let end = self.serve().await;
        Box::pin(self.finish(end)).await;
    }

    async fn serve(&mut self) -> End {
        let shutdown = self.ctx.shutdown.clone();
        let handle = self.handle.clone();
        let (queue, control) = handle.queues();
        // Only while hibernating: a timer in every session's future would
        // be 112 bytes each.
        let mut expiry: Option<Pin<Box<tokio::time::Sleep>>> = None;
        loop {
            match (self.hibernating_until, expiry.as_mut()) {
                (Some(until), None) => expiry = Some(Box::pin(tokio::time::sleep_until(until))),
                (Some(until), Some(e)) => e.as_mut().reset(until),
                (None, _) => expiry = None,
            }
            let expired = std::future::poll_fn(|cx| match expiry.as_mut() {
                Some(e) => e.as_mut().poll(cx),
                None => std::task::Poll::Pending,
            });
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => {
                    Box::pin(self.close(Some((StreamErrorCondition::SystemShutdown, "server shutting down".into())))).await;
                    return End::Normal;
                }
                // Boxed, like the writing and closing paths: the writer's
                // future, which every idle session keeps, is then sized
                // for waiting.
                c = control.recv() => match c {
                    None => return End::Normal,
                    Some(c) => if let Some(end) = Box::pin(self.on_control(*c)).await { return end },
                },
                s = queue.recv() => match s {
                    None => return End::Normal,
                    Some(s) => Box::pin(self.write_queued(*s)).await,
                },
                _ = expired => {
                    tracing::info!("resumption window passed");
                    return End::Lost;
                }
            }
            if self.out.is_none() && self.hibernating_until.is_none() {
                return End::Lost;
            }
            if self.unacked.len() > self.ctx.max_unacked {
                Box::pin(self.close(Some((
                    StreamErrorCondition::ResourceConstraint,
                    "too many unacknowledged stanzas".into(),
                ))))
                .await;
                return End::Lost;
            }
        }
    }

    async fn on_control(&mut self, c: Control) -> Option<End> {
        match c {
            Control::Raw(x) => {
                self.write_raw(x.as_bytes()).await;
                self.flush().await;
            }
            Control::Offline(batch) => {
                for (id, s) in batch {
                    self.write_stanza(s, Some(id)).await;
                }
                self.flush().await;
            }
            Control::EnableSm { id } => {
                self.sm_id = id.clone();
                self.sent = 0;
                self.sm.enabled.store(true, Ordering::Relaxed);
                let resume = id
                    .map(|i| {
                        format!(
                            " id='{i}' resume='true' max='{}'",
                            self.ctx.resume_timeout.as_secs()
                        )
                    })
                    .unwrap_or_default();
                self.write_raw(format!("<enabled xmlns='{}'{resume}/>", ns::SM).as_bytes())
                    .await;
                self.flush().await;
            }
            Control::Ack(h) => self.acknowledge(h).await,
            Control::ConnectionLost => {
                self.out = None;
                self.flushed.clear();
                self.buf = Vec::new();
                return self.hibernate();
            }
            Control::Close(err) => {
                self.close(err).await;
                return Some(End::Normal);
            }
            Control::Attach {
                write,
                h,
                reply,
                cut,
            } => {
                self.out = Some(write);
                self.cut = cut;
                self.buf = Vec::new();
                self.hibernating_until = None;
                self.acknowledge(h).await;
                let resumed = format!(
                    "<resumed xmlns='{}' previd='{}' h='{}'/>",
                    ns::SM,
                    escape_attr(self.sm_id.as_deref().unwrap_or("")),
                    self.sm.inbound.load(Ordering::Relaxed)
                );
                self.write_raw(resumed.as_bytes()).await;
                // Everything the client did not acknowledge goes again, in order.
                let again: Vec<Stanza> = self.unacked.iter().map(|u| u.stanza.clone()).collect();
                for s in again {
                    self.write_raw(s.bytes()).await;
                }
                self.request_ack().await;
                self.flush().await;
                let _ = reply.send(());
            }
        }
        None
    }

    /// Writes `first` and whatever else is queued already, with one flush.
    async fn write_queued(&mut self, first: Stanza) {
        self.write_stanza(first, None).await;
        while let Some(s) = self.handle.queues().0.try_recv() {
            self.write_stanza(*s, None).await;
        }
        self.flush().await;
    }

    /// Without resumption a lost connection ends the session; with it, the
    /// session waits for the client and keeps queuing.
    fn hibernate(&mut self) -> Option<End> {
        if self.sm_id.is_none() {
            return Some(End::Lost);
        }
        tracing::info!("connection lost; waiting for resumption");
        self.hibernating_until = Some(Instant::now() + self.ctx.resume_timeout);
        None
    }

    async fn write_stanza(&mut self, s: Stanza, offline: Option<i64>) {
        if self.sm.enabled.load(Ordering::Relaxed) {
            self.sent = self.sent.wrapping_add(1);
            self.unacked.push_back(Unacked {
                seq: self.sent,
                stanza: s.clone(),
                offline,
            });
        } else {
            if let Some(id) = offline {
                self.flushed_offline.push(id);
            }
            if let Some(d) = s.delivery().filter(|_| self.out.is_some()) {
                // Without acknowledgements, written is the best we know.
                self.flushed.push(d.clone());
            }
        }
        self.write_raw(s.bytes()).await;
    }

    async fn write_raw(&mut self, data: &[u8]) {
        let Some(out) = self.out.as_mut() else {
            return;
        };
        if self.buf.capacity() == 0 {
            self.buf.reserve(data.len().max(1024));
        }
        self.buf.extend_from_slice(data);
        if self.buf.len() < WRITE_CHUNK {
            return;
        }
        let result = write_or_stall(out, &self.buf, self.ctx.send_timeout).await;
        self.buf.clear();
        if let Err(e) = result {
            tracing::debug!(error = %e, "write failed");
            self.out = None;
            // Maybe written, maybe not: undelivered, they are relayed again.
            self.flushed.clear();
            self.cut.cancel();
            if let Some(End::Lost) = self.hibernate() {
                self.hibernating_until = None;
            }
        }
    }

    /// Writes the batch and flushes the transport (TLS records included),
    /// then releases the batch buffer.
    async fn push(&mut self) -> std::io::Result<()> {
        let buf = std::mem::take(&mut self.buf);
        let Some(out) = self.out.as_mut() else {
            return Ok(());
        };
        let stall = self.ctx.send_timeout;
        if !buf.is_empty() {
            write_or_stall(out, &buf, stall).await?;
        }
        tokio::time::timeout(stall, out.flush())
            .await
            .unwrap_or_else(|_| Err(stalled()))
    }

    async fn flush(&mut self) {
        if let Err(e) = self.push().await {
            tracing::debug!(error = %e, "flush failed");
            self.out = None;
            self.flushed.clear();
            self.cut.cancel();
            let _ = self.hibernate();
            return;
        }
        if !self.flushed_offline.is_empty() {
            let ids = std::mem::take(&mut self.flushed_offline);
            self.delete_offline(ids);
        }
        for d in self.flushed.drain(..) {
            d.done();
        }
        if !self.unacked.is_empty() {
            self.request_ack_now().await;
        }
    }

    async fn request_ack(&mut self) {
        if self.sm.enabled.load(Ordering::Relaxed) && !self.unacked.is_empty() {
            self.write_raw(format!("<r xmlns='{}'/>", ns::SM).as_bytes())
                .await;
        }
    }

    async fn request_ack_now(&mut self) {
        self.request_ack().await;
        let _ = self.push().await;
    }

    async fn acknowledge(&mut self, h: u32) {
        let mut done = Vec::new();
        while let Some(front) = self.unacked.front() {
            // Sequence numbers wrap at 2^32 (XEP-0198 §4).
            if h.wrapping_sub(front.seq) < u32::MAX / 2 {
                let u = self.unacked.pop_front().expect("front exists");
                u.stanza.delivered();
                if let Some(id) = u.offline {
                    done.push(id);
                }
            } else {
                break;
            }
        }
        if !done.is_empty() {
            self.delete_offline(done);
        }
    }

    fn delete_offline(&self, ids: Vec<i64>) {
        let store = self.ctx.store.clone();
        let owner = self.handle.jid.to_bare().to_string();
        self.ctx.tasks.spawn(async move {
            if let Err(e) = store.offline_delete(&owner, &ids).await {
                tracing::error!(error = %e, "deleting delivered offline messages failed");
            }
        });
    }

    async fn close(&mut self, err: Option<(StreamErrorCondition, String)>) {
        let xml = match &err {
            Some((cond, text)) => {
                tracing::info!(condition = cond.name(), %text, "closing stream with error");
                cond.to_xml(Some(text))
            }
            None => "</stream:stream>".to_string(),
        };
        self.write_raw(xml.as_bytes()).await;
        if self.push().await.is_ok() {
            for d in self.flushed.drain(..) {
                d.done();
            }
        }
        self.flushed.clear();
        if let Some(out) = self.out.as_mut() {
            let _ = out.shutdown().await;
        }
        self.out = None;
        self.hibernating_until = None;
    }

    /// Leaves the table, tells contacts the resource went away, and gives
    /// every unacknowledged message another way to its recipient.
    async fn finish(mut self, end: End) {
        let router = &self.ctx.router;
        router.remove(&self.handle);
        if let Some(id) = &self.sm_id {
            router.forget_resumable(id);
        }
        let handle = self.handle.clone();
        let router = router.clone();
        let jid = self.handle.jid.clone();
        let mut unacked: Vec<Stanza> = self
            .unacked
            .drain(..)
            .filter(|u| u.offline.is_none() && u.stanza.kind() == Kind::Message)
            .map(|u| u.stanza)
            .collect();
        // Messages routed here but never written go the same way, after.
        let (queue, control) = self.handle.queues();
        unacked.extend(
            queue
                .close()
                .into_iter()
                .map(|s| *s)
                .filter(|s| s.kind() == Kind::Message),
        );
        control.close();
        if matches!(end, End::Lost) && !unacked.is_empty() {
            tracing::info!(count = unacked.len(), "re-routing unacknowledged messages");
        }
        // Routing may wait on other sessions' queues; the writer must not.
        self.ctx.tasks.spawn(async move {
            router.session_gone(&handle).await;
            let bare = jid.to_bare();
            for s in unacked {
                // Addressed to the bare JID: other resources, or offline storage.
                router
                    .route(s.with_addresses(None, Some(bare.as_str())))
                    .await;
            }
        });
        tracing::info!("session ended");
    }
}
