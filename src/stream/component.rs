//! XEP-0114 external components: a transport for another IM network (SMS,
//! IRC, Telegram...) connects, proves the shared secret with a handshake,
//! and then exchanges stanzas for its own domain, whose users are customers
//! like any other.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use sha1::{Digest, Sha1};
use tokio::io::{AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, Instrument};

use super::{StreamContext, StreamRouter};
use crate::limit::{Admitted, Allowance};
use crate::net::Transport;
use crate::xml::{
    escape_attr, ns, read_frame, Frame, Framer, Kind, Stanza, StreamError,
    StreamErrorCondition as Cond, XmlIo,
};

/// Serves one component connection until it ends.
pub async fn serve<R: StreamRouter>(
    ctx: Arc<StreamContext>,
    router: Arc<R>,
    tcp: TcpStream,
    peer: SocketAddr,
    admitted: Admitted,
) {
    let span = tracing::info_span!("component", %peer, domain = tracing::field::Empty);
    async move {
        let mut xio = XmlIo::new(Transport::Plain(tcp), ctx.settings.limits.max_stanza_bytes);
        xio.send_timeout = ctx.settings.limits.send_timeout;
        // Not shaped: a component is a peer the admin configured with a
        // secret, and a transport carries a whole network's users.
        xio.framer.allowance = Allowance {
            admitted: Some(admitted),
            shaper: None,
            preauth: Some(ctx.settings.limits.preauth_bytes),
        };
        let deadline = ctx.settings.c2s.negotiation_timeout;
        let domain = match tokio::time::timeout(deadline, handshake(&ctx, &mut xio)).await {
            Ok(Ok(d)) => {
                xio.framer.allowance.preauth = None;
                d
            }
            Ok(Err(e)) => return fail(&mut xio, e).await,
            Err(_) => {
                let e = StreamError::protocol(Cond::ConnectionTimeout, "no handshake in time");
                return fail(&mut xio, e).await;
            }
        };
        tracing::Span::current().record("domain", tracing::field::display(&domain));
        info!("component connected");
        run(&ctx, &*router, xio, domain).await;
    }
    .instrument(span)
    .await
}

/// Header, then `<handshake>` = hex(SHA-1(stream id + secret)).
async fn handshake(ctx: &StreamContext, xio: &mut XmlIo<Transport>) -> Result<String, StreamError> {
    let Frame::Open(h) = xio.next().await? else {
        return Err(StreamError::protocol(
            Cond::NotWellFormed,
            "expected a stream header",
        ));
    };
    let id = crate::util::random_id(16);
    let domain = h.to.as_deref().unwrap_or("").to_ascii_lowercase();
    xio.send(
        format!(
            "<?xml version='1.0'?><stream:stream xmlns='{}' xmlns:stream='{}' from='{}' id='{id}'>",
            ns::COMPONENT,
            ns::STREAM,
            escape_attr(&domain)
        )
        .as_bytes(),
    )
    .await?;
    if h.default_ns.as_deref() != Some(ns::COMPONENT) {
        return Err(StreamError::protocol(
            Cond::InvalidNamespace,
            "the default namespace must be jabber:component:accept",
        ));
    }
    let Some(secret) = ctx.settings.component.accept.get(&domain) else {
        return Err(StreamError::protocol(
            Cond::HostUnknown,
            "no such component here",
        ));
    };
    let Frame::Element(el) = xio.next().await? else {
        return Err(StreamError::protocol(
            Cond::NotAuthorized,
            "expected a handshake",
        ));
    };
    if el.name() != "handshake" {
        return Err(StreamError::protocol(
            Cond::NotAuthorized,
            "handshake first",
        ));
    }
    if !handshake_proves(&el, &id, secret) {
        return Err(StreamError::protocol(Cond::NotAuthorized, "wrong secret"));
    }
    xio.send(b"<handshake/>").await?;
    Ok(domain)
}

/// The handshake a component sends on stream `id`: hex(SHA-1(id + secret)).
pub fn handshake_digest(id: &str, secret: &str) -> String {
    Sha1::digest(format!("{id}{secret}").as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `el`'s text is the handshake for `secret` on stream `id`.
pub fn handshake_proves(el: &Stanza, id: &str, secret: &str) -> bool {
    let given = el
        .element()
        .map(|e| e.text().trim().to_ascii_lowercase())
        .unwrap_or_default();
    let expected = handshake_digest(id, secret);
    // Compared in constant time: the secret must not leak byte by byte.
    given.len() == expected.len()
        && given
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

async fn fail(xio: &mut XmlIo<Transport>, e: StreamError) {
    if let StreamError::Protocol { condition, text } = &e {
        info!(condition = condition.name(), %text, "closing component stream with error");
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            let _ = xio.send(condition.to_xml(Some(text)).as_bytes()).await;
            let _ = xio.io.shutdown().await;
        })
        .await;
    } else {
        debug!(error = %e, "component connection ended");
    }
}

async fn run<R: StreamRouter>(
    ctx: &StreamContext,
    router: &R,
    xio: XmlIo<Transport>,
    domain: String,
) {
    let (tx, rx) = mpsc::channel(ctx.settings.limits.session_queue);
    router.attach_component(&domain, tx.clone());
    let XmlIo { io, framer, .. } = xio;
    let (read, write) = tokio::io::split(io);
    // A write that stalls ends the reading too: a component whose replies
    // go nowhere must not go on sending as if it were served.
    let stalled = CancellationToken::new();
    let writer = tokio::spawn(write_loop(
        write,
        rx,
        ctx.settings.limits.send_timeout,
        stalled.clone(),
    ));
    let outcome = read_loop(ctx, router, read, framer, &domain, &stalled).await;
    router.detach_component(&domain, &tx);
    drop(tx);
    let error = match outcome {
        Err(StreamError::Protocol { condition, text }) => {
            info!(condition = condition.name(), %text, "closing component stream with error");
            Some(condition.to_xml(Some(&text)))
        }
        _ => None,
    };
    // The writer ends when the queue closes; the error goes last.
    if let Ok((mut write, left)) = writer.await {
        // Unsent when the link stalled: to the senders as errors (or to
        // a connection that took this one's place), never dropped.
        for s in left {
            router.route(s).await;
        }
        let out = error.unwrap_or_else(|| "</stream:stream>".into());
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            let _ = write.write_all(out.as_bytes()).await;
            let _ = write.shutdown().await;
        })
        .await;
    }
    info!("component disconnected");
}

async fn read_loop<R: StreamRouter>(
    ctx: &StreamContext,
    router: &R,
    mut read: ReadHalf<Transport>,
    mut framer: Framer,
    domain: &str,
    stalled: &CancellationToken,
) -> Result<(), StreamError> {
    loop {
        let frame = tokio::select! {
            f = read_frame(&mut read, &mut framer) => f?,
            _ = stalled.cancelled() => {
                info!("component stopped reading; closing its link");
                return Ok(());
            }
            _ = ctx.shutdown.cancelled() => {
                return Err(StreamError::protocol(Cond::SystemShutdown, "server shutting down"));
            }
        };
        let el = match frame {
            Frame::Element(el) => el,
            Frame::Close => return Ok(()),
            Frame::Open(_) => {
                return Err(StreamError::protocol(
                    Cond::NotWellFormed,
                    "unexpected stream header",
                ))
            }
        };
        if el.kind() == Kind::Other {
            return Err(StreamError::protocol(
                Cond::UnsupportedStanzaType,
                "not a stanza",
            ));
        }
        check_addresses(&el, domain)?;
        router.route(el).await;
    }
}

/// A component speaks only for its own domain (and its users).
pub fn check_addresses(el: &Stanza, domain: &str) -> Result<(), StreamError> {
    let from = el
        .from()
        .and_then(|f| crate::xml::jid(f).ok())
        .ok_or_else(|| {
            StreamError::protocol(Cond::ImproperAddressing, "stanzas need a valid from")
        })?;
    if el.to().and_then(|t| crate::xml::jid(t).ok()).is_none() {
        return Err(StreamError::protocol(
            Cond::ImproperAddressing,
            "stanzas need a valid to",
        ));
    }
    if !from.domain().as_str().eq_ignore_ascii_case(domain) {
        return Err(StreamError::protocol(
            Cond::InvalidFrom,
            format!("{from} is not on {domain}"),
        ));
    }
    Ok(())
}

async fn write_loop(
    mut write: WriteHalf<Transport>,
    mut rx: mpsc::Receiver<Stanza>,
    stall: std::time::Duration,
    stalled: CancellationToken,
) -> (WriteHalf<Transport>, Vec<Stanza>) {
    let mut batch = Vec::with_capacity(64);
    while rx.recv_many(&mut batch, 64).await > 0 {
        let mut out = Vec::new();
        for s in &batch {
            out.extend_from_slice(s.unqualified().bytes());
        }
        // A component that stops reading ends its link, like a client.
        let sent = tokio::time::timeout(stall, async {
            write.write_all(&out).await?;
            write.flush().await
        });
        if !matches!(sent.await, Ok(Ok(()))) {
            stalled.cancel();
            // The batch may be partly through: told as failed all the
            // same, since nothing says which part the component has.
            rx.close();
            while let Ok(s) = rx.try_recv() {
                batch.push(s);
            }
            return (write, batch);
        }
        batch.clear();
    }
    (write, batch)
}
