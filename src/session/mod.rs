//! A bound client session: a reader task (client → router) and a writer
//! task (router → client) per connection.
//!
//! Why two tasks: the reader may wait on other sessions' bounded queues
//! (that is how a fast sender is paused), while the writer only ever waits
//! on its own socket. No writer waits on a queue, so two sessions writing to
//! each other cannot deadlock. The writer owns XEP-0198 state and outlives
//! a dropped connection while the session may be resumed.

mod context;
mod handle;
mod inbox;
mod reader;
mod writer;

pub use context::{SessionContext, SessionRouter, SessionTable};
pub use handle::{PresenceState, SessionHandle};
pub use inbox::Inbox;

use std::sync::atomic::{AtomicBool, AtomicU32};
use std::sync::Arc;

use jid::{BareJid, FullJid};
use tokio::io::{AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::net::Transport;
use crate::xml::{escape_attr, ns, Framer, Stanza, StreamErrorCondition, XmlIo};

/// Room in a writer's control queue.
const CONTROL_QUEUE: usize = 64;

/// What the reader, the router and resumption tell a writer.
pub enum Control {
    /// Bytes outside stream management's count: acks, pings, SM answers.
    Raw(String),
    /// Stored offline messages and their row ids, deleted once delivered.
    Offline(Vec<(i64, Stanza)>),
    /// The client enabled XEP-0198; `id` is set when it may resume.
    EnableSm { id: Option<String> },
    /// The client acknowledged `h` stanzas.
    Ack(u32),
    /// The connection broke without a clean close.
    ConnectionLost,
    /// End the stream: with an error condition, or cleanly.
    Close(Option<(StreamErrorCondition, String)>),
    /// A new connection resumes this session (XEP-0198 §5).
    Attach {
        write: WriteHalf<Transport>,
        h: u32,
        reply: oneshot::Sender<()>,
        /// Cancelled by the writer when it gives this connection up, so
        /// the reader lets go of it too.
        cut: CancellationToken,
    },
}

/// Counters both halves read: stanzas handled from the client (`h` we
/// report) and whether stream management is on.
#[derive(Default)]
pub struct SmShared {
    pub enabled: AtomicBool,
    pub inbound: AtomicU32,
}

/// Registers a freshly bound session, answers the bind IQ and runs it.
pub async fn start<R: SessionRouter>(
    ctx: Arc<SessionContext<R>>,
    xio: XmlIo<Transport>,
    jid: FullJid,
    iq_id: String,
) {
    // The set-up is boxed and gone once it returns: this task's future,
    // which every idle session keeps, is then only the reader's.
    let Some((handle, read, framer, cut)) = Box::pin(open(&ctx, xio, jid, iq_id)).await else {
        return;
    };
    let sm = handle.sm.clone();
    reader::run(ctx, handle, sm, read, framer, cut).await;
}

/// Registers the session, answers the bind IQ and starts the writer; the
/// reader's half of the stream is returned.
async fn open<R: SessionRouter>(
    ctx: &Arc<SessionContext<R>>,
    xio: XmlIo<Transport>,
    jid: FullJid,
    iq_id: String,
) -> Option<(
    Arc<SessionHandle>,
    ReadHalf<Transport>,
    Framer,
    CancellationToken,
)> {
    let handle = Arc::new(SessionHandle::new(jid.clone(), ctx.queue, CONTROL_QUEUE));
    if let Some(old) = ctx.router.insert(handle.clone()) {
        let text = "replaced by a new connection for this resource".to_string();
        old.tell(Control::Close(Some((StreamErrorCondition::Conflict, text))))
            .await;
    }
    let XmlIo { io, framer, .. } = xio;
    let (read, mut write) = tokio::io::split(io);
    let result = format!(
        "<iq type='result' id=\"{}\"><bind xmlns='{}'><jid>{}</jid></bind></iq>",
        escape_attr(&iq_id),
        ns::BIND,
        escape_attr(jid.as_str())
    );
    if write.write_all(result.as_bytes()).await.is_err() || write.flush().await.is_err() {
        ctx.router.remove(&handle);
        return None;
    }
    let cut = CancellationToken::new();
    let w = writer::Writer::new(
        ctx.clone(),
        handle.clone(),
        handle.sm.clone(),
        write,
        cut.clone(),
    );
    ctx.tasks.spawn(w.run().in_current_span());
    Some((handle, read, framer, cut))
}

/// A hibernating session that a new connection took over: its writer
/// writes to the new connection; [`Resumed::run`] reads from it.
pub struct Resumed {
    handle: Arc<SessionHandle>,
    sm: Arc<SmShared>,
    read: ReadHalf<Transport>,
    framer: Framer,
    cut: CancellationToken,
}

impl Resumed {
    /// The session's reader, for as long as the connection lasts: run it
    /// outside the negotiation, whose time limit is not the session's.
    pub async fn run<R: SessionRouter>(self, ctx: Arc<SessionContext<R>>) {
        reader::run(ctx, self.handle, self.sm, self.read, self.framer, self.cut).await;
    }
}

/// XEP-0198 resumption: hands this connection to a hibernating session.
/// Gives the stream back when there is nothing to resume; `Ok(None)` when
/// the session ended while being taken over.
pub async fn resume(
    table: &dyn SessionTable,
    mut xio: XmlIo<Transport>,
    bare: &BareJid,
    el: &Stanza,
) -> Result<Option<Resumed>, XmlIo<Transport>> {
    let tree = el.element().ok();
    let previd = tree.as_ref().and_then(|t| t.attr("previd")).unwrap_or("");
    let h = tree
        .as_ref()
        .and_then(|t| t.attr("h"))
        .and_then(|h| h.parse::<u32>().ok());
    let found = table.resumable(previd).filter(|s| s.jid.to_bare() == *bare);
    let (Some(handle), Some(h)) = (found, h) else {
        let failed = format!(
            "<failed xmlns='{}'><item-not-found xmlns='{}'/></failed>",
            ns::SM,
            ns::STANZA_ERRORS
        );
        let _ = xio.send(failed.as_bytes()).await;
        return Err(xio);
    };
    tracing::Span::current().record("jid", tracing::field::display(&handle.jid));
    let XmlIo { io, framer, .. } = xio;
    let (read, write) = tokio::io::split(io);
    let (reply_tx, reply_rx) = oneshot::channel();
    let cut = CancellationToken::new();
    let sm = {
        // The writer keeps the shared counters; ask it to attach first.
        let attach = Control::Attach {
            write,
            h,
            reply: reply_tx,
            cut: cut.clone(),
        };
        if !handle.tell(attach).await {
            return Ok(None);
        }
        match reply_rx.await {
            Ok(()) => handle.sm.clone(),
            Err(_) => return Ok(None),
        }
    };
    tracing::info!("session resumed");
    Ok(Some(Resumed {
        handle,
        sm,
        read,
        framer,
        cut,
    }))
}
