//! Client-to-server negotiation: stream header → STARTTLS → SASL → (resume
//! or bind). Ends by handing the stream to [`crate::session`].

// The error side carries the stream back so the stream error can be written
// on it; that happens once per failed connection, never on a hot path.
#![allow(clippy::result_large_err)]

use std::net::SocketAddr;
use std::sync::Arc;

use base64::Engine;
use jid::{BareJid, FullJid};
use minidom::Element;
use tokio::net::TcpStream;
use tracing::{debug, info, Instrument};

use super::sasl::{self, Exchange, Mech, SaslFailure, Step};
use super::{header, StreamError, StreamErrorCondition as Cond, XmlIo};
use crate::net::Transport;
use crate::server::Shared;
use crate::session;
use crate::xml::{ns, Frame, Kind, Stanza};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
/// Failed SASL attempts allowed on one stream (RFC 6120 §6.4.5 asks for a
/// configurable number of retries, at least two).
const MAX_AUTH_FAILURES: u32 = 3;

/// Serves one accepted client connection until it ends.
pub async fn serve(shared: Arc<Shared>, tcp: TcpStream, peer: SocketAddr, direct_tls: bool) {
    let span = tracing::info_span!("c2s", %peer, jid = tracing::field::Empty);
    async move {
        let mut neg = Negotiation {
            shared: shared.clone(),
            header_sent: false,
            stream_id: String::new(),
            pending_mech: None,
            authed: None,
            deadline: tokio::time::Instant::now() + shared.settings.c2s.negotiation_timeout,
        };
        // Reads stop at the deadline and on shutdown themselves (so the
        // error reaches the client); this bounds a stalled TLS handshake.
        let deadline = shared.settings.c2s.negotiation_timeout + std::time::Duration::from_secs(1);
        let result = match tokio::time::timeout(deadline, neg.run(tcp, direct_tls)).await {
            Ok(r) => r,
            Err(_) => Err((
                None,
                StreamError::protocol(Cond::ConnectionTimeout, "negotiation took too long"),
            )),
        };
        match result {
            Ok(Done::Bound { xio, jid, iq_id }) => {
                tracing::Span::current().record("jid", tracing::field::display(&jid));
                info!("session bound");
                // A task of its own: this one's future is sized for the
                // negotiation (TLS handshake, SASL, store queries), ~6 KB
                // that every idle session would otherwise keep.
                let tasks = shared.tasks.clone();
                tasks.spawn(session::start(shared, xio, jid, iq_id).in_current_span());
            }
            Ok(Done::Resumed) => {}
            Err((xio, e)) => neg.fail(xio, e).await,
        }
    }
    .instrument(span)
    .await
}

enum Done {
    Bound {
        xio: XmlIo<Transport>,
        jid: FullJid,
        iq_id: String,
    },
    Resumed,
}

type NegResult = Result<Done, (Option<XmlIo<Transport>>, StreamError)>;

struct Negotiation {
    shared: Arc<Shared>,
    header_sent: bool,
    stream_id: String,
    /// A mechanism chosen without an initial response, awaiting one.
    pending_mech: Option<Mech>,
    /// The account the running SASL exchange is about.
    authed: Option<BareJid>,
    deadline: tokio::time::Instant,
}

enum SaslResult {
    Success(BareJid),
    Continue,
    Failed,
}

/// Attaches the stream (when we still have it) to an error.
trait Ctx<T> {
    fn on(
        self,
        xio: &mut Option<XmlIo<Transport>>,
    ) -> Result<T, (Option<XmlIo<Transport>>, StreamError)>;
}

impl<T, E: Into<StreamError>> Ctx<T> for Result<T, E> {
    fn on(
        self,
        xio: &mut Option<XmlIo<Transport>>,
    ) -> Result<T, (Option<XmlIo<Transport>>, StreamError)> {
        self.map_err(|e| (xio.take(), e.into()))
    }
}

impl Negotiation {
    async fn run(&mut self, tcp: TcpStream, direct_tls: bool) -> NegResult {
        let max = self.shared.settings.limits.max_stanza_bytes;
        let mut transport = Transport::Plain(tcp);
        if direct_tls {
            transport = transport
                .into_tls(self.shared.tls.clone())
                .await
                .map_err(|e| (None, e.into()))?;
        }
        let mut slot = Some(XmlIo::new(transport, max));
        let mut account: Option<BareJid> = None;
        let mut failures = 0;
        'restart: loop {
            let xio = slot.as_mut().expect("stream present during negotiation");
            self.header_sent = false;
            let frame = match self.read(xio).await {
                Ok(f) => f,
                Err(e) => return Err((slot, e)),
            };
            let Frame::Open(h) = frame else {
                return Err((
                    slot,
                    StreamError::protocol(Cond::NotWellFormed, "expected a stream header"),
                ));
            };
            self.stream_id = crate::util::random_id(16);
            let domain = self.shared.settings.agent_domain.clone();
            let to_ok =
                h.to.as_deref()
                    .is_some_and(|t| t.eq_ignore_ascii_case(&domain));
            xio.send(header(ns::CLIENT, &domain, None, &self.stream_id).as_bytes())
                .await
                .on(&mut None)?;
            self.header_sent = true;
            if h.default_ns.as_deref() != Some(ns::CLIENT) {
                return Err((
                    slot,
                    StreamError::protocol(
                        Cond::InvalidNamespace,
                        "the default namespace must be jabber:client",
                    ),
                ));
            }
            if !to_ok {
                return Err((
                    slot,
                    StreamError::protocol(
                        Cond::HostUnknown,
                        "this server does not serve that domain",
                    ),
                ));
            }
            if h.version.as_deref().is_none_or(|v| !v.starts_with("1.")) {
                return Err((
                    slot,
                    StreamError::protocol(Cond::UnsupportedVersion, "XMPP 1.0 streams only"),
                ));
            }
            let tls = xio.io.is_tls();
            let c2s = &self.shared.settings.c2s;
            let features = match &account {
                None => {
                    let mut f = String::new();
                    if !tls {
                        let req = if c2s.require_encryption {
                            "<required/>"
                        } else {
                            ""
                        };
                        f += &format!("<starttls xmlns='{}'>{req}</starttls>", ns::TLS);
                    }
                    if tls || !c2s.require_encryption {
                        f += &format!("<mechanisms xmlns='{}'>", ns::SASL);
                        for m in sasl::MECHANISMS {
                            // PLAIN would reveal the password on a clear channel.
                            if m != "PLAIN" || tls {
                                f += &format!("<mechanism>{m}</mechanism>");
                            }
                        }
                        f += "</mechanisms>";
                    }
                    f
                }
                Some(_) => format!(
                    "<bind xmlns='{}'/><session xmlns='{}'><optional/></session>\
                     <sm xmlns='{}'/><ver xmlns='{}'/>",
                    ns::BIND,
                    ns::SESSION,
                    ns::SM,
                    ns::ROSTER_VER
                ),
            };
            xio.send(format!("<stream:features>{features}</stream:features>").as_bytes())
                .await
                .on(&mut None)?;
            let mut exchange: Option<Exchange> = None;
            loop {
                let xio = slot.as_mut().expect("stream present during negotiation");
                let frame = match self.read(xio).await {
                    Ok(f) => f,
                    Err(e) => return Err((slot, e)),
                };
                let el = match frame {
                    Frame::Element(s) => s,
                    Frame::Close => return Err((slot, StreamError::Closed)),
                    Frame::Open(_) => {
                        return Err((
                            slot,
                            StreamError::protocol(Cond::NotWellFormed, "unexpected stream header"),
                        ))
                    }
                };
                if el.is("starttls", ns::TLS) && !xio.io.is_tls() && account.is_none() {
                    xio.send(format!("<proceed xmlns='{}'/>", ns::TLS).as_bytes())
                        .await
                        .on(&mut None)?;
                    let XmlIo { io, mut framer } = slot.take().expect("stream present");
                    framer.reset();
                    let io = io
                        .into_tls(self.shared.tls.clone())
                        .await
                        .map_err(|e| (None, e.into()))?;
                    slot = Some(XmlIo { io, framer });
                    continue 'restart;
                }
                if account.is_none() && el.ns() == Some(ns::SASL) {
                    let outcome = match self.sasl(xio, &el, &mut exchange).await {
                        Ok(o) => o,
                        Err(e) => return Err((slot, e)),
                    };
                    let xio = slot.as_mut().expect("stream present during negotiation");
                    match outcome {
                        SaslResult::Success(jid) => {
                            info!(%jid, "authenticated");
                            account = Some(jid);
                            xio.framer.reset();
                            continue 'restart;
                        }
                        SaslResult::Continue => continue,
                        SaslResult::Failed => {
                            failures += 1;
                            if failures >= MAX_AUTH_FAILURES {
                                return Err((
                                    slot,
                                    StreamError::protocol(
                                        Cond::PolicyViolation,
                                        "too many failed authentication attempts",
                                    ),
                                ));
                            }
                            continue;
                        }
                    }
                }
                let Some(bare) = &account else {
                    return Err((
                        slot,
                        StreamError::protocol(Cond::NotAuthorized, "authenticate first"),
                    ));
                };
                if el.is("resume", ns::SM) {
                    let xio = slot.take().expect("stream present");
                    match session::resume(self.shared.clone(), xio, bare, &el).await {
                        Ok(()) => return Ok(Done::Resumed),
                        Err(back) => {
                            slot = Some(back);
                            continue;
                        }
                    }
                }
                if el.is("enable", ns::SM) {
                    let failed = format!(
                        "<failed xmlns='{}'><unexpected-request xmlns='{}'/></failed>",
                        ns::SM,
                        ns::STANZA_ERRORS
                    );
                    xio.send(failed.as_bytes()).await.on(&mut None)?;
                    continue;
                }
                if el.kind() == Kind::Iq {
                    if let Some(done) = self.bind(&mut slot, bare, &el).await? {
                        return Ok(done);
                    }
                    continue;
                }
                return Err((
                    slot,
                    StreamError::protocol(Cond::NotAuthorized, "bind a resource first"),
                ));
            }
        }
    }

    /// The next frame, unless the negotiation deadline passes or the server
    /// shuts down first.
    async fn read(&self, xio: &mut XmlIo<Transport>) -> Result<Frame, StreamError> {
        tokio::select! {
            r = tokio::time::timeout_at(self.deadline, xio.next()) => r.unwrap_or_else(|_| {
                Err(StreamError::protocol(Cond::ConnectionTimeout, "negotiation took too long"))
            }),
            _ = self.shared.shutdown.cancelled() => {
                Err(StreamError::protocol(Cond::SystemShutdown, "server shutting down"))
            }
        }
    }

    /// One SASL element; `Some(jid)` once authenticated.
    async fn sasl(
        &mut self,
        xio: &mut XmlIo<Transport>,
        el: &Stanza,
        exchange: &mut Option<Exchange>,
    ) -> Result<SaslResult, StreamError> {
        let failure = |f: SaslFailure| {
            format!(
                "<failure xmlns='{}'><{}/></failure>",
                ns::SASL,
                f.condition()
            )
        };
        let tree = el
            .element()
            .map_err(|e| StreamError::protocol(Cond::NotWellFormed, e.to_string()))?;
        let payload = |tree: &Element| -> Result<Vec<u8>, SaslFailure> {
            let text = tree.text();
            let text = text.trim();
            if text == "=" {
                return Ok(Vec::new());
            }
            B64.decode(text).map_err(|_| SaslFailure::IncorrectEncoding)
        };
        let tls = xio.io.is_tls();
        let outcome: Result<Step, SaslFailure> = match el.name() {
            "auth" => {
                *exchange = None;
                let mech = tree.attr("mechanism").and_then(Mech::parse);
                match mech {
                    None => Err(SaslFailure::InvalidMechanism),
                    Some(Mech::Plain) if !tls => Err(SaslFailure::EncryptionRequired),
                    Some(_) if !tls && self.shared.settings.c2s.require_encryption => {
                        Err(SaslFailure::EncryptionRequired)
                    }
                    Some(mech) => match payload(&tree) {
                        Err(f) => Err(f),
                        // No initial response: ask for it with an empty challenge.
                        Ok(data) if data.is_empty() => {
                            *exchange = None;
                            self.pending_mech = Some(mech);
                            Ok(Step::Challenge(Vec::new()))
                        }
                        Ok(data) => self.begin(mech, &data, exchange).await,
                    },
                }
            }
            "response" => match payload(&tree) {
                Err(f) => Err(f),
                Ok(data) => match (exchange.as_mut(), self.pending_mech.take()) {
                    (Some(ex), _) => Ok(ex.step(&data)),
                    (None, Some(mech)) => self.begin(mech, &data, exchange).await,
                    (None, None) => Err(SaslFailure::MalformedRequest),
                },
            },
            "abort" => {
                *exchange = None;
                Err(SaslFailure::Aborted)
            }
            _ => Err(SaslFailure::MalformedRequest),
        };
        let reply = match outcome {
            Ok(Step::Challenge(data)) => format!(
                "<challenge xmlns='{}'>{}</challenge>",
                ns::SASL,
                if data.is_empty() {
                    "=".to_string()
                } else {
                    B64.encode(&data)
                }
            ),
            Ok(Step::Success(data)) => {
                *exchange = None;
                let Some(jid) = self.authed.take() else {
                    return Err(StreamError::protocol(
                        Cond::InternalServerError,
                        "SASL without account",
                    ));
                };
                let body = if data.is_empty() {
                    String::new()
                } else {
                    B64.encode(&data)
                };
                xio.send(format!("<success xmlns='{}'>{body}</success>", ns::SASL).as_bytes())
                    .await?;
                return Ok(SaslResult::Success(jid));
            }
            Ok(Step::Failure(f)) | Err(f) => {
                debug!(failure = %f, "SASL failure");
                *exchange = None;
                self.pending_mech = None;
                xio.send(failure(f).as_bytes()).await?;
                return Ok(SaslResult::Failed);
            }
        };
        xio.send(reply.as_bytes()).await?;
        Ok(SaslResult::Continue)
    }

    /// Reads who the client claims to be, loads that account's keys and
    /// runs the first step.
    async fn begin(
        &mut self,
        mech: Mech,
        first: &[u8],
        exchange: &mut Option<Exchange>,
    ) -> Result<Step, SaslFailure> {
        let (user, authzid) = sasl::first_message_identity(mech, first)?;
        let domain = &self.shared.settings.agent_domain;
        // Nodeprep through the jid crate: "Alice" and "alice" are one account.
        let bare =
            BareJid::new(&format!("{user}@{domain}")).map_err(|_| SaslFailure::NotAuthorized)?;
        if let Some(z) = authzid {
            if BareJid::new(&z).ok().as_ref() != Some(&bare) {
                return Err(SaslFailure::InvalidAuthzid);
            }
        }
        let creds = self
            .shared
            .store
            .credentials(bare.as_str())
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "loading credentials");
                SaslFailure::TemporaryAuthFailure
            })?;
        let mut ex = Exchange::start(mech, creds)?;
        let step = ex.step(first);
        self.authed = Some(bare);
        *exchange = Some(ex);
        Ok(step)
    }

    /// Resource binding (RFC 6120 §7) and the legacy session IQ.
    async fn bind(
        &mut self,
        slot: &mut Option<XmlIo<Transport>>,
        bare: &BareJid,
        el: &Stanza,
    ) -> Result<Option<Done>, (Option<XmlIo<Transport>>, StreamError)> {
        let tree = el.element().map_err(|e| {
            (
                slot.take(),
                StreamError::protocol(Cond::NotWellFormed, e.to_string()),
            )
        })?;
        let id = tree.attr("id").unwrap_or("").to_string();
        let reply = |body: String| {
            format!(
                "<iq type='{}' id='{}'>{}</iq>",
                if body.starts_with("<error") {
                    "error"
                } else {
                    "result"
                },
                crate::xml::escape_attr(&id),
                body
            )
        };
        let xio = slot.as_mut().expect("stream present");
        if tree.attr("type") == Some("set") {
            if let Some(bind) = tree.get_child("bind", ns::BIND) {
                let wanted = bind
                    .get_child("resource", ns::BIND)
                    .map(|r| r.text().trim().to_string())
                    .filter(|r| !r.is_empty())
                    .unwrap_or_else(|| crate::util::random_id(12));
                match FullJid::new(&format!("{bare}/{wanted}")) {
                    Ok(jid) => {
                        let xio = slot.take().expect("stream present");
                        return Ok(Some(Done::Bound {
                            xio,
                            jid,
                            iq_id: id,
                        }));
                    }
                    Err(_) => {
                        let err = format!(
                            "<error type='modify'><bad-request xmlns='{}'/></error>",
                            ns::STANZA_ERRORS
                        );
                        xio.send(reply(err).as_bytes()).await.on(slot)?;
                        return Ok(None);
                    }
                }
            }
            if tree.has_child("session", ns::SESSION) {
                xio.send(reply(String::new()).as_bytes()).await.on(slot)?;
                return Ok(None);
            }
        }
        Err((
            slot.take(),
            StreamError::protocol(Cond::NotAuthorized, "bind a resource first"),
        ))
    }

    /// Sends the stream error (after our header, if none was sent yet) and
    /// closes the connection.
    async fn fail(&self, xio: Option<XmlIo<Transport>>, e: StreamError) {
        let Some(mut xio) = xio else {
            debug!(error = %e, "connection ended during negotiation");
            return;
        };
        let mut out = String::new();
        if !self.header_sent {
            out += &header(
                ns::CLIENT,
                &self.shared.settings.agent_domain,
                None,
                &crate::util::random_id(16),
            );
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
