//! The reader half of a session: frames from the client, stream-management
//! elements, idle pings, and every stanza stamped and handed to the router.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::io::ReadHalf;
use tokio_util::sync::CancellationToken;

use super::{Control, SessionContext, SessionHandle, SessionRouter, SessionTable, SmShared};
use crate::net::Transport;
use crate::xml::{
    ns, read_frame, Frame, Framer, Kind, Stanza, StreamError, StreamErrorCondition as Cond,
};

pub async fn run<R: SessionRouter>(
    ctx: Arc<SessionContext<R>>,
    handle: Arc<SessionHandle>,
    sm: Arc<SmShared>,
    mut read: ReadHalf<Transport>,
    mut framer: Framer,
    cut: CancellationToken,
) {
    let mut pinged = false;
    loop {
        let wait = if pinged {
            ctx.ping_timeout
        } else {
            ctx.idle_timeout
        };
        // The one await outside a box: what an idle session waits in is
        // all its future holds (the frame, the routing and the writer's
        // queue would be several KB in every session).
        let frame = tokio::select! {
            r = tokio::time::timeout(wait, read_frame(&mut read, &mut framer)) => r,
            _ = ctx.shutdown.cancelled() => return,
            // The writer gave this connection up and hibernates or ends.
            _ = cut.cancelled() => return,
        };
        let closed = framer.is_closed();
        let step = Box::pin(on_frame(&ctx, &handle, &sm, frame, pinged, closed)).await;
        match step {
            Step::Next => pinged = false,
            Step::Pinged => pinged = true,
            Step::Gone => return,
            Step::End(outcome) => {
                handle.tell(outcome).await;
                return;
            }
        }
    }
}

/// What the reader does after a frame.
enum Step {
    Next,
    /// The client was silent and has been pinged.
    Pinged,
    /// The writer is gone: nothing more to do.
    Gone,
    /// The stream ends; the writer is told how.
    End(Control),
}

type FrameRead = Result<Result<Frame, StreamError>, tokio::time::error::Elapsed>;

async fn on_frame<R: SessionRouter>(
    ctx: &SessionContext<R>,
    handle: &Arc<SessionHandle>,
    sm: &SmShared,
    frame: FrameRead,
    pinged: bool,
    framer_closed: bool,
) -> Step {
    let frame = match frame {
        Err(_) if pinged => return Step::End(close(Cond::ConnectionTimeout, "no answer to ping")),
        Err(_) => {
            // XEP-0199: a silent client is asked whether it is still there.
            let ping = format!(
                "<iq type='get' id='idle-{}' from='{}'><ping xmlns='{}'/></iq>",
                crate::util::random_id(8),
                ctx.agent_domain,
                ns::PING
            );
            handle.tell(Control::Raw(ping)).await;
            return Step::Pinged;
        }
        Ok(Ok(f)) => f,
        Ok(Err(StreamError::Protocol { condition, text })) => {
            return Step::End(Control::Close(Some((condition, text))))
        }
        Ok(Err(StreamError::Closed)) if framer_closed => return Step::End(Control::Close(None)),
        Ok(Err(_)) => return Step::End(Control::ConnectionLost),
    };
    let el = match frame {
        Frame::Element(el) => el,
        Frame::Close => return Step::End(Control::Close(None)),
        Frame::Open(_) => return Step::End(close(Cond::NotWellFormed, "unexpected stream header")),
    };
    if el.ns() == Some(ns::SM) {
        if let Some(c) = stream_management(&*ctx.router, handle, sm, &el) {
            if !handle.tell(c).await {
                return Step::Gone;
            }
        }
        return Step::Next;
    }
    if el.kind() == Kind::Other {
        if el.ns() == Some(ns::CSI) {
            return Step::Next;
        }
        return Step::End(close(Cond::UnsupportedStanzaType, "not a stanza"));
    }
    if sm.enabled.load(Ordering::Relaxed) {
        sm.inbound.fetch_add(1, Ordering::Relaxed);
    }
    // RFC 6120 §8.1.2.1: the server stamps the sender; a client may only
    // name itself.
    if let Some(f) = el.from() {
        let own = f == handle.jid.as_str() || f == handle.bare.as_str();
        if !own {
            return Step::End(close(
                Cond::InvalidFrom,
                "from does not match the bound JID",
            ));
        }
    }
    let stanza = el.with_addresses(Some(handle.jid.as_str()), None);
    ctx.router.route_from_client(handle, stanza).await;
    Step::Next
}

fn close(cond: Cond, text: &str) -> Control {
    Control::Close(Some((cond, text.to_string())))
}

/// XEP-0198 elements from the client.
fn stream_management(
    table: &dyn SessionTable,
    handle: &Arc<SessionHandle>,
    sm: &SmShared,
    el: &Stanza,
) -> Option<Control> {
    match el.name() {
        "enable" => {
            if sm.enabled.load(Ordering::Relaxed) {
                return Some(Control::Raw(format!(
                    "<failed xmlns='{}'><unexpected-request xmlns='{}'/></failed>",
                    ns::SM,
                    ns::STANZA_ERRORS
                )));
            }
            let wants_resume = el
                .element()
                .ok()
                .and_then(|e| e.attr("resume").map(|r| r == "true" || r == "1"))
                .unwrap_or(false);
            let id = wants_resume.then(|| {
                let id = crate::util::random_id(24);
                table.set_resumable(&id, handle.clone());
                id
            });
            sm.inbound.store(0, Ordering::Relaxed);
            Some(Control::EnableSm { id })
        }
        "r" => Some(Control::Raw(format!(
            "<a xmlns='{}' h='{}'/>",
            ns::SM,
            sm.inbound.load(Ordering::Relaxed)
        ))),
        "a" => el
            .element()
            .ok()
            .and_then(|e| e.attr("h").and_then(|h| h.parse().ok()))
            .map(Control::Ack),
        _ => None,
    }
}
