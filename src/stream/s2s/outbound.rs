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
            let XmlIo { io, mut framer } = xio;
            framer.reset();
            let io = io
                .into_tls_client(ctx.client_tls(local), remote)
                .await
                .map_err(S2sError::Tls)?;
            xio = XmlIo { io, framer };
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

/// Opens and authenticates a stream from `local` to `remote`.
pub async fn establish(
    ctx: &S2sContext,
    local: &str,
    remote: &str,
) -> Result<XmlIo<Transport>, S2sError> {
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
                restart(&mut xio, local, remote).await?;
                info!(%remote, "authenticated with SASL EXTERNAL");
                return Ok(xio);
            }
            debug!(%remote, ?answer, "SASL EXTERNAL failed; trying dialback");
        }
        let dialback = features.has_child("dialback", dialback::FEATURE_NS)
            || features.children().next().is_none();
        if !dialback {
            return Err(S2sError::NoAuth);
        }
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
                    Ok(xio)
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

/// How a link ended: the stanzas it could not send, and why (None: the
/// stream closed cleanly, and any leftovers may go out on a new one).
pub type Ended = (Vec<Stanza>, Option<S2sError>);

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
        let mut xio = tokio::select! {
            r = establish(&ctx, &local, &remote) => match r {
                Ok(x) => x,
                Err(e) => {
                    warn!(error = %e, "cannot reach the peer");
                    return (drain(&mut queue, Vec::new()), Some(e));
                }
            },
            _ = shutdown.cancelled() => return (Vec::new(), None),
        };
        let idle = ctx.settings.s2s.idle_timeout;
        let mut batch = Vec::with_capacity(64);
        loop {
            tokio::select! {
                n = queue.recv_many(&mut batch, 64) => {
                    if n == 0 {
                        break;
                    }
                    let mut out = Vec::with_capacity(batch.len() * 256);
                    for s in &batch {
                        out.extend_from_slice(s.unqualified().bytes());
                    }
                    if let Err(e) = xio.send(&out).await {
                        warn!(error = %e, "write to the peer failed");
                        return (drain(&mut queue, batch), Some(S2sError::Stream(e)));
                    }
                    batch.clear();
                }
                frame = tokio::time::timeout(idle, xio.next()) => match frame {
                    Ok(Ok(Frame::Element(el))) if el.is("error", ns::STREAM) => {
                        info!(error = %String::from_utf8_lossy(el.bytes()), "the peer closed the stream with an error");
                        break;
                    }
                    // Nothing else is expected on an outbound stream.
                    Ok(Ok(Frame::Element(el))) => debug!(?el, "ignoring an element on an outbound stream"),
                    Ok(Ok(_)) | Ok(Err(_)) => {
                        debug!("the peer closed the stream");
                        break;
                    }
                    Err(_) => {
                        if idle_close(&mut queue) {
                            debug!("closing an idle stream");
                            break;
                        }
                    }
                },
                _ = shutdown.cancelled() => break,
            }
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            let _ = xio.send(b"</stream:stream>").await;
            let _ = xio.io.shutdown().await;
        })
        .await;
        (drain(&mut queue, Vec::new()), None)
    }
    .instrument(span)
    .await
}

/// Closes the queue and takes what is left in it, after `first`.
fn drain(queue: &mut mpsc::Receiver<Stanza>, mut first: Vec<Stanza>) -> Vec<Stanza> {
    queue.close();
    while let Ok(s) = queue.try_recv() {
        first.push(s);
    }
    first
}
