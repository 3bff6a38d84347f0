//! Outbound s2s stream for one (local, remote) domain pair: resolve →
//! connect → STARTTLS (or XEP-0368 direct TLS) → SASL EXTERNAL or dialback
//! → ready. The router's pool owns the queue; [`run`] drains it.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use minidom::Element;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{debug, info, warn, Instrument};

use super::dialback::{self, DbElement};
use super::{header, S2sContext, S2sError};
use crate::net::resolve::Target;
use crate::net::Transport;
use crate::xml::{ns, Frame, Stanza, StreamError, XmlIo};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A stream past TLS, its header read, features in hand.
pub struct Opened {
    pub xio: XmlIo<Transport>,
    pub stream_id: String,
    pub features: Element,
    /// Whether the peer's certificate proved the remote domain.
    pub cert: Result<(), crate::net::pki::CertProblem>,
}

/// Resolves `remote` and opens a stream from `local` on the first target
/// that answers, through TLS when the peer offers it (required by
/// `require_encryption`).
pub async fn open(
    ctx: &S2sContext,
    local: &str,
    remote: &str,
    deadline: Instant,
) -> Result<Opened, S2sError> {
    let targets = ctx.resolver.targets(remote).await?;
    let mut last = S2sError::NoAuth;
    for t in &targets {
        match tokio::time::timeout_at(deadline, open_target(ctx, local, remote, t)).await {
            Ok(Ok(o)) => return Ok(o),
            Ok(Err(e)) => {
                debug!(target = %t.host, port = t.port, error = %e, "s2s target failed");
                last = e;
            }
            Err(_) => return Err(S2sError::Timeout),
        }
    }
    Err(last)
}

async fn open_target(
    ctx: &S2sContext,
    local: &str,
    remote: &str,
    t: &Target,
) -> Result<Opened, S2sError> {
    let s2s = &ctx.settings.s2s;
    let tcp = ctx.resolver.connect(t, s2s.connect_timeout).await?;
    let _ = tcp.set_nodelay(true);
    let mut transport = Transport::Plain(tcp);
    if t.direct_tls {
        transport = transport
            .into_tls_client(ctx.client_tls(local), remote)
            .await
            .map_err(S2sError::Tls)?;
    }
    let mut xio = XmlIo::new(transport, ctx.settings.limits.max_stanza_bytes);
    xio.send_timeout = ctx.settings.limits.send_timeout;
    loop {
        let (stream_id, features) = restart(&mut xio, local, remote).await?;
        let tls = xio.io.is_tls();
        if !tls && features.has_child("starttls", ns::TLS) {
            xio.send(format!("<starttls xmlns='{}'/>", ns::TLS).as_bytes())
                .await?;
            let el = element(&mut xio).await?;
            if !el.is("proceed", ns::TLS) {
                return Err(S2sError::Protocol("STARTTLS refused".into()));
            }
            let XmlIo {
                io,
                mut framer,
                send_timeout,
            } = xio;
            framer.reset();
            let io = io
                .into_tls_client(ctx.client_tls(local), remote)
                .await
                .map_err(S2sError::Tls)?;
            xio = XmlIo {
                io,
                framer,
                send_timeout,
            };
            continue;
        }
        if !tls && s2s.require_encryption {
            return Err(S2sError::NoTls);
        }
        let cert = ctx.peer_proves(&xio.io, remote);
        return Ok(Opened {
            xio,
            stream_id,
            features,
            cert,
        });
    }
}

/// Sends our header, reads the peer's and its features.
async fn restart(
    xio: &mut XmlIo<Transport>,
    local: &str,
    remote: &str,
) -> Result<(String, Element), S2sError> {
    xio.framer.reset();
    xio.send(header(local, remote, None).as_bytes()).await?;
    let Frame::Open(h) = xio.next().await? else {
        return Err(S2sError::Protocol("expected a stream header".into()));
    };
    let id = h.id.unwrap_or_default();
    if h.version.as_deref().is_none_or(|v| !v.starts_with("1.")) {
        // A pre-1.0 peer sends no features; dialback is all it can do.
        return Ok((id, Element::builder("features", ns::STREAM).build()));
    }
    let el = element(xio).await?;
    if !el.is("features", ns::STREAM) {
        return Err(S2sError::Protocol("expected stream features".into()));
    }
    let features = el
        .element()
        .map_err(|e| S2sError::Protocol(e.to_string()))?;
    Ok((id, features))
}

/// The next element; a stream error or close from the peer is an error.
pub async fn element(xio: &mut XmlIo<Transport>) -> Result<Stanza, S2sError> {
    match xio.next().await? {
        Frame::Element(el) if el.is("error", ns::STREAM) => {
            let tree = el.element().ok();
            let cond = tree
                .as_ref()
                .and_then(|t| t.children().next().map(|c| c.name().to_string()))
                .unwrap_or_else(|| "undefined-condition".into());
            Err(S2sError::Refused(format!("stream error <{cond}/>")))
        }
        Frame::Element(el) => Ok(el),
        Frame::Close => Err(StreamError::Closed.into()),
        Frame::Open(_) => Err(S2sError::Protocol("unexpected stream header".into())),
    }
}

/// An authenticated stream, and whether the peer offers stream management
/// on it.
pub struct Established {
    pub xio: XmlIo<Transport>,
    pub sm: bool,
}

/// Opens and authenticates a stream from `local` to `remote`.
pub async fn establish(
    ctx: &S2sContext,
    local: &str,
    remote: &str,
) -> Result<Established, S2sError> {
    let deadline = Instant::now() + ctx.settings.s2s.negotiation_timeout;
    let fut = async {
        let Opened {
            mut xio,
            stream_id,
            features,
            cert,
        } = open(ctx, local, remote, deadline).await?;
        if let Err(problem) = &cert {
            if ctx.settings.s2s.secure_auth {
                return Err(S2sError::Untrusted(problem.clone()));
            }
            info!(%remote, %problem, "peer certificate not trusted; secure_auth is off");
        }
        // XEP-0178: the peer verified our certificate and offers EXTERNAL.
        let external = features
            .get_child("mechanisms", ns::SASL)
            .is_some_and(|m| m.children().any(|c| c.text().trim() == "EXTERNAL"));
        if external {
            xio.send(
                format!(
                    "<auth xmlns='{}' mechanism='EXTERNAL'>{}</auth>",
                    ns::SASL,
                    B64.encode(local)
                )
                .as_bytes(),
            )
            .await?;
            let answer = element(&mut xio).await?;
            if answer.is("success", ns::SASL) {
                let (_, features) = restart(&mut xio, local, remote).await?;
                info!(%remote, "authenticated with SASL EXTERNAL");
                let sm = features.has_child("sm", ns::SM);
                return Ok(Established { xio, sm });
            }
            debug!(%remote, ?answer, "SASL EXTERNAL failed; trying dialback");
        }
        let dialback = features.has_child("dialback", dialback::FEATURE_NS)
            || features.children().next().is_none();
        if !dialback {
            return Err(S2sError::NoAuth);
        }
        // Dialback has no restart: stream management, if at all, is among
        // the first features.
        let sm = features.has_child("sm", ns::SM);
        let key = ctx.keys.key(remote, local, &stream_id);
        xio.send(dialback::result_request(local, remote, &key).as_bytes())
            .await?;
        loop {
            let el = element(&mut xio).await?;
            let Some(db) = DbElement::parse(&el) else {
                continue;
            };
            if db.verify || db.from != remote || db.to != local {
                continue;
            }
            return match db.type_.as_deref() {
                Some("valid") => {
                    info!(%remote, "authenticated with dialback");
                    Ok(Established { xio, sm })
                }
                other => Err(S2sError::Refused(format!(
                    "dialback result {}",
                    other.unwrap_or("without type")
                ))),
            };
        }
    };
    match tokio::time::timeout_at(deadline, fut).await {
        Ok(r) => r,
        Err(_) => Err(S2sError::Timeout),
    }
}

/// How a link ended.
pub struct Ended {
    /// Never written: they may go out on a new link.
    pub unsent: Vec<Stanza>,
    /// Written, and not acknowledged by the peer (XEP-0198): it may not
    /// have them. Empty on a link without stream management, where what
    /// was written counts as sent.
    pub unacked: Vec<Stanza>,
    /// Why it ended; None: it closed cleanly (idle, shutdown, the peer).
    pub error: Option<S2sError>,
    /// It was authenticated before it ended (else nothing was written).
    pub established: bool,
    /// The peer acknowledged stanzas on it.
    pub progressed: bool,
}

/// Runs one outbound link until it fails, idles out or the server stops.
/// `idle_close` is asked, when the stream has been idle, whether it may
/// close: it detaches the queue from the pool when the queue is empty.
pub async fn run(
    ctx: Arc<S2sContext>,
    local: String,
    remote: String,
    mut queue: mpsc::Receiver<Stanza>,
    shutdown: tokio_util::sync::CancellationToken,
    idle_close: impl Fn(&mut mpsc::Receiver<Stanza>) -> bool + Send,
) -> Ended {
    let span = tracing::info_span!("s2s_out", %local, %remote);
    async move {
        let Established { mut xio, sm } = tokio::select! {
            r = establish(&ctx, &local, &remote) => match r {
                Ok(x) => x,
                Err(e) => {
                    warn!(error = %e, "cannot reach the peer");
                    return Ended {
                        unsent: drain(&mut queue, Vec::new()),
                        unacked: Vec::new(),
                        error: Some(e),
                        established: false,
                        progressed: false,
                    };
                }
            },
            _ = shutdown.cancelled() => return Ended {
                unsent: drain(&mut queue, Vec::new()),
                unacked: Vec::new(),
                error: None,
                established: false,
                progressed: false,
            },
        };
        let s2s = &ctx.settings.s2s;
        let mut acks = Acks::new(s2s.stream_management && sm, s2s.max_unacked);
        if acks.enabled {
            if let Err(e) = xio.send(format!("<enable xmlns='{}'/>", ns::SM).as_bytes()).await {
                return acks.ended(drain(&mut queue, Vec::new()), Some(S2sError::Stream(e)));
            }
        }
        let idle = s2s.idle_timeout;
        // A peer that reads nothing (or is frozen) answers no `<r/>`: with
        // stanzas waiting for its acknowledgement, silence that lasts as
        // long as a stalled write gives the link up.
        let ack_wait = ctx.settings.limits.send_timeout.min(idle);
        let mut batch = Vec::with_capacity(64);
        let error = loop {
            let room = acks.room();
            tokio::select! {
                n = queue.recv_many(&mut batch, room), if room > 0 => {
                    if n == 0 {
                        break None;
                    }
                    let mut out = Vec::with_capacity(batch.len() * 256);
                    for s in &batch {
                        out.extend_from_slice(s.unqualified().bytes());
                    }
                    acks.sent(&mut batch, &mut out);
                    if let Err(e) = xio.send(&out).await {
                        warn!(error = %e, "write to the peer failed");
                        break Some(S2sError::Stream(e));
                    }
                    // Left here only without stream management, where
                    // written is the best we know.
                    batch.drain(..).for_each(|s| s.delivered());
                }
                frame = tokio::time::timeout(
                    if acks.unacked.is_empty() { idle } else { ack_wait },
                    xio.next(),
                ) => match frame {
                    Ok(Ok(Frame::Element(el))) if el.is("error", ns::STREAM) => {
                        info!(error = %String::from_utf8_lossy(el.bytes()), "the peer closed the stream with an error");
                        break acks.dirty(S2sError::Refused("stream error".into()));
                    }
                    Ok(Ok(Frame::Element(el))) if el.ns() == Some(ns::SM) => {
                        match acks.element(&el) {
                            Ok(Some(reply)) => {
                                if let Err(e) = xio.send(reply.as_bytes()).await {
                                    break Some(S2sError::Stream(e));
                                }
                            }
                            Ok(None) => {}
                            Err(e) => break Some(e),
                        }
                    }
                    // Nothing else is expected on an outbound stream.
                    Ok(Ok(Frame::Element(el))) => debug!(?el, "ignoring an element on an outbound stream"),
                    Ok(Ok(_)) | Ok(Err(_)) => {
                        debug!("the peer closed the stream");
                        break acks.dirty(S2sError::Protocol("the peer closed the stream".into()));
                    }
                    Err(_) if !acks.unacked.is_empty() => {
                        warn!(unacked = acks.unacked.len(), "no acknowledgement from the peer");
                        break Some(S2sError::Timeout);
                    }
                    Err(_) => {
                        if idle_close(&mut queue) {
                            debug!("closing an idle stream");
                            break None;
                        }
                    }
                },
                _ = shutdown.cancelled() => break None,
            }
        };
        if error.is_none() {
            let _ = tokio::time::timeout(Duration::from_secs(2), async {
                let _ = xio.send(b"</stream:stream>").await;
                let _ = xio.io.shutdown().await;
            })
            .await;
        }
        acks.ended(drain(&mut queue, batch), error)
    }
    .instrument(span)
    .await
}

/// The sending side of XEP-0198 on one link: what was written and not yet
/// acknowledged, and the one `<r/>` that may be out.
struct Acks {
    enabled: bool,
    max: usize,
    unacked: std::collections::VecDeque<Stanza>,
    /// The peer's last `h`.
    h: u32,
    asked: bool,
    progressed: bool,
}

impl Acks {
    fn new(enabled: bool, max: usize) -> Acks {
        Acks {
            enabled,
            max,
            unacked: Default::default(),
            h: 0,
            asked: false,
            progressed: false,
        }
    }

    /// Stanzas that may be taken from the queue now.
    fn room(&self) -> usize {
        if self.enabled {
            self.max.saturating_sub(self.unacked.len()).min(64)
        } else {
            64
        }
    }

    /// `batch` is being written as `out`: keep it until acknowledged, and
    /// ask for an ack unless one is asked for already (one `<r/>` at a time
    /// keeps the window at what one round trip lets through).
    fn sent(&mut self, batch: &mut Vec<Stanza>, out: &mut Vec<u8>) {
        if !self.enabled {
            return;
        }
        self.unacked.extend(batch.drain(..));
        if !self.asked {
            out.extend_from_slice(format!("<r xmlns='{}'/>", ns::SM).as_bytes());
            self.asked = true;
        }
    }

    /// A stream-management element from the peer; what to answer.
    fn element(&mut self, el: &Stanza) -> Result<Option<String>, S2sError> {
        match el.name() {
            "enabled" => Ok(None),
            "failed" => {
                // Not counted after all: what was written counts as sent.
                debug!("the peer refused stream management");
                self.enabled = false;
                self.unacked.drain(..).for_each(|s| s.delivered());
                Ok(None)
            }
            "a" => {
                let h = el
                    .element()
                    .ok()
                    .and_then(|e| e.attr("h").and_then(|h| h.parse::<u32>().ok()))
                    .ok_or_else(|| S2sError::Protocol("<a/> without a valid h".into()))?;
                let acked = h.wrapping_sub(self.h) as usize;
                if acked > self.unacked.len() {
                    return Err(S2sError::Protocol(format!(
                        "the peer acknowledged {acked} stanzas of {}",
                        self.unacked.len()
                    )));
                }
                self.unacked.drain(..acked).for_each(|s| s.delivered());
                self.h = h;
                self.asked = false;
                self.progressed |= acked > 0;
                if self.unacked.is_empty() {
                    return Ok(None);
                }
                self.asked = true;
                Ok(Some(format!("<r xmlns='{}'/>", ns::SM)))
            }
            // We receive no stanzas on an outbound stream.
            "r" => Ok(Some(format!("<a xmlns='{}' h='0'/>", ns::SM))),
            _ => Ok(None),
        }
    }

    /// The peer closed the stream: with stanzas unacknowledged, that is a
    /// failure for them, not a clean end.
    fn dirty(&self, e: S2sError) -> Option<S2sError> {
        (!self.unacked.is_empty()).then_some(e)
    }

    fn ended(self, unsent: Vec<Stanza>, error: Option<S2sError>) -> Ended {
        Ended {
            unsent,
            unacked: self.unacked.into(),
            error,
            established: true,
            progressed: self.progressed,
        }
    }
}

/// Closes the queue and takes what is left in it, after `first`.
fn drain(queue: &mut mpsc::Receiver<Stanza>, mut first: Vec<Stanza>) -> Vec<Stanza> {
    queue.close();
    while let Ok(s) = queue.try_recv() {
        first.push(s);
    }
    first
}
