//! Client-to-server negotiation: stream header → STARTTLS → SASL → (resume
//! or bind). Ends by handing the stream to [`crate::session`].
//!
//! One phase per file: `header` (at the start and after each restart),
//! `tls`, `auth`, `bind`. The stream is typed by its phase, and a phase's
//! methods consume it and return the next one, so no phase can be reached
//! out of order and none has to ask which state it is in.

// The error side carries the stream back so the stream error can be written
// on it; that happens once per failed connection, never on a hot path.
#![allow(clippy::result_large_err)]

mod auth;
mod bind;
mod header;
mod tls;

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, OnceLock};

use jid::FullJid;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tracing::{debug, info, Instrument};

use super::StreamContext;
use crate::limit::{Admitted, Allowance, Shaper};
use crate::net::{FramedIo, Transport};
use crate::session::{self, SessionContext, SessionRouter, SessionTable};
use crate::xml::{ns, Frame, Stanza, StreamError, StreamErrorCondition as Cond, XmlIo};

/// One log target for the whole negotiation, whichever phase's file logs:
/// the lines read as they did before the phases had files of their own.
const LOG: &str = module_path!();

/// How a client's bytes arrive.
pub enum Connection {
    /// A TCP connection: STARTTLS, or TLS from the first byte; with its
    /// place at the door, which it keeps until it ends.
    Tcp {
        tcp: TcpStream,
        direct_tls: bool,
        admitted: Admitted,
    },
    /// A web framing (WebSocket, BOSH) already translated to the stream's
    /// bytes. No STARTTLS: `secure` says whether the HTTP connection
    /// protects it (HTTPS, loopback, or a trusted proxy's HTTPS), which
    /// decides whether PLAIN is offered.
    Framed {
        io: Box<dyn FramedIo>,
        secure: bool,
        transport: &'static str,
    },
}

/// Serves one client stream, over TCP or a web framing, until it ends.
pub async fn serve_connection<R: SessionRouter>(
    ctx: Arc<StreamContext>,
    sessions: Arc<SessionContext<R>>,
    conn: Connection,
    peer: SocketAddr,
) {
    let transport = match &conn {
        Connection::Tcp { .. } => "tcp",
        Connection::Framed { transport, .. } => transport,
    };
    let span = tracing::info_span!("c2s", %peer, transport, jid = tracing::field::Empty);
    async move {
        let timeout = ctx.settings.c2s.negotiation_timeout;
        let limits = &ctx.settings.limits;
        let allowance = Allowance {
            admitted: None,
            shaper: Shaper::new(limits.c2s_rate.0, limits.c2s_rate.1),
            preauth: Some(limits.preauth_bytes),
        };
        let neg = Negotiation {
            ctx: ctx.clone(),
            table: sessions.router.clone(),
            deadline: Instant::now() + timeout,
            domain: OnceLock::new(),
            peer: peer.ip(),
            allowance: Mutex::new(Some(allowance)),
        };
        // Reads stop at the deadline and on shutdown themselves (so the
        // error reaches the client); this bounds a stalled TLS handshake.
        let deadline = timeout + std::time::Duration::from_secs(1);
        let result = match tokio::time::timeout(deadline, negotiate(&neg, conn)).await {
            Ok(r) => r,
            Err(_) => Err(Failure::lost(StreamError::protocol(
                Cond::ConnectionTimeout,
                "negotiation took too long",
            ))),
        };
        match result {
            Ok(Done::Bound { xio, jid, iq_id }) => {
                tracing::Span::current().record("jid", tracing::field::display(&jid));
                info!("session bound");
                // A task of its own: this one's future is sized for the
                // negotiation (TLS handshake, SASL, store queries), ~6 KB
                // that every idle session would otherwise keep.
                let start = session::start(sessions, xio, jid, iq_id);
                ctx.tasks.spawn(start.in_current_span());
            }
            // Its own task too, and out of the negotiation's time limit,
            // which would otherwise end the resumed session's reading.
            Ok(Done::Resumed(Some(resumed))) => {
                ctx.tasks.spawn(resumed.run(sessions).in_current_span());
            }
            Ok(Done::Resumed(None)) => {}
            Err(failure) => neg.close(failure).await,
        }
    }
    .instrument(span)
    .await
}

/// The phases in their order. STARTTLS is offered only on a cleartext
/// stream, so it happens at most once, before SASL.
async fn negotiate(neg: &Negotiation, conn: Connection) -> Result<Done, Failure> {
    let (tcp, direct_tls) = match conn {
        Connection::Tcp {
            tcp,
            direct_tls,
            admitted,
        } => {
            if let Some(a) = neg.allowance.lock().expect("allowance").as_mut() {
                a.admitted = Some(admitted);
            }
            (tcp, direct_tls)
        }
        Connection::Framed { io, secure, .. } => {
            let stream = tls::framed(neg, io, secure).open().await?;
            return stream.authenticate().await?.open().await?.bind().await;
        }
    };
    let authenticated = if direct_tls {
        let stream = tls::direct(neg, tcp).await?.open().await?;
        stream.authenticate().await?
    } else {
        match tls::cleartext(neg, tcp).open().await?.negotiate().await? {
            tls::Outcome::StartTls(stream) => {
                let stream = stream.upgrade().await?.open().await?;
                stream.authenticate().await?
            }
            tls::Outcome::Authenticated(stream) => stream,
        }
    };
    authenticated.open().await?.bind().await
}

enum Done {
    Bound {
        xio: XmlIo<Transport>,
        jid: FullJid,
        iq_id: String,
    },
    /// None: the session ended while being taken over.
    Resumed(Option<session::Resumed>),
}

/// What every phase of one connection's negotiation needs.
struct Negotiation {
    ctx: Arc<StreamContext>,
    /// Where a resumed session is found.
    table: Arc<dyn SessionTable>,
    deadline: Instant,
    /// The domain the client's first header asked for (agents' or web
    /// visitors'); every later header must ask for it again.
    domain: OnceLock<String>,
    /// The client's address, as the login guard counts it.
    peer: IpAddr,
    /// What the connection is allowed, until its stream takes it.
    allowance: Mutex<Option<Allowance>>,
}

impl Negotiation {
    /// The domain this stream serves; the agent domain until a header
    /// chose.
    fn domain(&self) -> &str {
        self.domain
            .get()
            .map_or(&self.ctx.settings.agent_domain, String::as_str)
    }

    /// The web login keys when this stream is to the web domain.
    fn web(&self) -> Option<&crate::stream::web_login::WebKeys> {
        let web = self.ctx.web.as_deref()?;
        (self.domain.get() == Some(&web.web.domain)).then_some(web)
    }
}

/// The client's stream, in negotiation phase `P`.
struct Stream<'n, P> {
    neg: &'n Negotiation,
    xio: XmlIo<Transport>,
    phase: P,
}

/// Why a negotiation ended, with what is left of the stream to say so on.
struct Failure {
    error: StreamError,
    stream: Remains,
}

enum Remains {
    /// Nothing to write on: the connection failed, or went with a
    /// negotiation that overran.
    Nothing,
    /// The client's header is not answered yet: ours goes before the error.
    Unanswered(XmlIo<Transport>),
    Answered(XmlIo<Transport>),
}

impl Failure {
    fn lost(error: impl Into<StreamError>) -> Failure {
        Failure {
            error: error.into(),
            stream: Remains::Nothing,
        }
    }

    fn unanswered(xio: XmlIo<Transport>, error: StreamError) -> Failure {
        Failure {
            error,
            stream: Remains::Unanswered(xio),
        }
    }
}

impl<'n, P> Stream<'n, P> {
    fn new(neg: &'n Negotiation, io: Transport, phase: P) -> Self {
        let max = neg.ctx.settings.limits.max_stanza_bytes;
        let mut xio = XmlIo::new(io, max);
        xio.send_timeout = neg.ctx.settings.limits.send_timeout;
        if let Some(a) = neg.allowance.lock().expect("allowance").take() {
            xio.framer.allowance = a;
        }
        Stream { neg, xio, phase }
    }

    /// The same stream in the phase that follows this one.
    fn advance<Q>(self, next: impl FnOnce(P) -> Q) -> Stream<'n, Q> {
        Stream {
            neg: self.neg,
            xio: self.xio,
            phase: next(self.phase),
        }
    }

    /// Ends the negotiation, keeping the stream to carry the error.
    fn fail(self, error: StreamError) -> Failure {
        Failure {
            error,
            stream: Remains::Answered(self.xio),
        }
    }

    /// The next element on a stream whose header was answered.
    async fn element(&mut self) -> Result<Stanza, StreamError> {
        match self.neg.read(&mut self.xio).await? {
            Frame::Element(el) => Ok(el),
            Frame::Close => Err(StreamError::Closed),
            Frame::Open(_) => Err(StreamError::protocol(
                Cond::NotWellFormed,
                "unexpected stream header",
            )),
        }
    }
}

impl Negotiation {
    /// The next frame, unless the negotiation deadline passes or the server
    /// shuts down first.
    async fn read(&self, xio: &mut XmlIo<Transport>) -> Result<Frame, StreamError> {
        tokio::select! {
            r = tokio::time::timeout_at(self.deadline, xio.next()) => r.unwrap_or_else(|_| {
                Err(StreamError::protocol(Cond::ConnectionTimeout, "negotiation took too long"))
            }),
            _ = self.ctx.shutdown.cancelled() => {
                Err(StreamError::protocol(Cond::SystemShutdown, "server shutting down"))
            }
        }
    }

    /// Sends the stream error (after our header, if none was sent yet) and
    /// closes the connection.
    async fn close(&self, failure: Failure) {
        let Failure { error: e, stream } = failure;
        let (mut xio, header_sent) = match stream {
            Remains::Nothing => {
                debug!(error = %e, "connection ended during negotiation");
                return;
            }
            Remains::Unanswered(xio) => (xio, false),
            Remains::Answered(xio) => (xio, true),
        };
        let mut out = String::new();
        if !header_sent {
            out += &super::header(ns::CLIENT, self.domain(), None, &crate::util::random_id(16));
        }
        match &e {
            StreamError::Protocol { condition, text } => {
                info!(condition = condition.name(), %text, "closing stream with error");
                out += &condition.to_xml(Some(text));
            }
            StreamError::Closed => out += "</stream:stream>",
            StreamError::Io(_) => return,
        }
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), async {
            let _ = xio.send(out.as_bytes()).await;
            let _ = tokio::io::AsyncWriteExt::shutdown(&mut xio.io).await;
        })
        .await;
    }
}
