//! Inbound s2s stream: a peer server connects to us. Header → STARTTLS →
//! SASL EXTERNAL (XEP-0178) or dialback (XEP-0220, several domain pairs on
//! one stream) → its stanzas go to the router. We also answer `db:verify`
//! for keys we made, on any stream, authenticated or not.
//!
//! Stream management (XEP-0198) is offered once the peer is authenticated.
//! Its `h` counts a stanza only when the stanza's [`Receipt`] comes back
//! (stored, delivered or answered), and an `<r/>` is answered once all
//! the stanzas read before it are: so a peer that loses the stream resends
//! or bounces exactly what was not kept.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;

use base64::Engine;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn, Instrument};

use super::dialback::{self, DbElement};
use super::{header, S2sContext};
use crate::limit::{Admitted, Allowance, Shaper};
use crate::net::Transport;
use crate::receipt::Receipts;
use crate::stream::{StreamContext, StreamRouter};
use crate::xml::{
    ns, Frame, Kind, Stanza, StreamError, StreamErrorCondition as Cond, StreamHeader, XmlIo,
};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A dialback verification finished: (remote, local, valid or error).
type Verified = (String, String, Result<bool, String>);

struct Inbound<R> {
    router: Arc<R>,
    ctx: Arc<S2sContext>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
    stream_id: String,
    /// The peer's domain from its header, if it gave one.
    claimed: Option<String>,
    /// Our domain it addressed.
    local: String,
    /// Authenticated by SASL EXTERNAL: the peer's domain, for all our domains.
    sasl: Option<String>,
    /// Authenticated by dialback: (remote, local) pairs.
    pairs: HashSet<(String, String)>,
    pending: HashSet<(String, String)>,
    header_sent: bool,
    /// Stream management, once the peer enabled it.
    sm: Option<Arc<Receipts>>,
    /// The stanzas read when the peer last asked for an ack, while that
    /// ask is unanswered.
    ack_due: Option<u64>,
}

/// Serves one accepted server connection until it ends.
pub async fn serve<R: StreamRouter>(
    streams: Arc<StreamContext>,
    router: Arc<R>,
    tcp: TcpStream,
    peer: SocketAddr,
    direct_tls: bool,
    admitted: Admitted,
) {
    let span = tracing::info_span!("s2s_in", %peer, direct_tls, remote = tracing::field::Empty);
    async move {
        let mut me = Inbound {
            router,
            ctx: streams.s2s.clone(),
            shutdown: streams.shutdown.clone(),
            tasks: streams.tasks.clone(),
            stream_id: String::new(),
            claimed: None,
            local: String::new(),
            sasl: None,
            pairs: HashSet::new(),
            pending: HashSet::new(),
            header_sent: false,
            sm: None,
            ack_due: None,
        };
        let mut transport = Transport::Plain(tcp);
        if direct_tls {
            transport = match transport.into_tls(me.ctx.server_tls.clone()).await {
                Ok(t) => t,
                Err(e) => return debug!(error = %e, "TLS handshake failed"),
            };
        }
        let limits = &me.ctx.settings.limits;
        let mut xio = XmlIo::new(transport, limits.max_stanza_bytes);
        xio.send_timeout = limits.send_timeout;
        // A link carries many users: it gets the s2s rate, not a client's.
        xio.framer.allowance = Allowance {
            admitted: Some(admitted),
            shaper: Shaper::new(limits.s2s_rate.0, limits.s2s_rate.1),
            preauth: Some(limits.preauth_bytes),
        };
        let mut slot = Some(xio);
        let outcome = me.run(&mut slot).await;
        let Some(mut xio) = slot else {
            return debug!(?outcome, "connection ended during TLS");
        };
        match outcome {
            Ok(()) => me.close(&mut xio, None).await,
            Err(StreamError::Protocol { condition, text }) => {
                info!(condition = condition.name(), %text, "closing stream with error");
                me.close(&mut xio, Some(condition.to_xml(Some(&text))))
                    .await
            }
            Err(e) => debug!(error = %e, "connection ended"),
        }
    }
    .instrument(span)
    .await
}

impl<R: StreamRouter> Inbound<R> {
    fn authenticated(&self) -> bool {
        self.sasl.is_some() || !self.pairs.is_empty()
    }

    async fn run(&mut self, slot: &mut Option<XmlIo<Transport>>) -> Result<(), StreamError> {
        let s2s = &self.ctx.settings.s2s;
        let negotiation_deadline = Instant::now() + s2s.negotiation_timeout;
        let idle = s2s.idle_timeout;
        let (done_tx, mut done_rx) = mpsc::channel::<Verified>(16);
        let shutdown = self.shutdown.clone();
        loop {
            let xio = slot.as_mut().expect("stream present");
            let deadline = if self.authenticated() {
                xio.framer.allowance.preauth = None;
                Instant::now() + idle
            } else {
                negotiation_deadline
            };
            let receipts = self.sm.clone().filter(|_| self.ack_due.is_some());
            let frame = tokio::select! {
                _ = async { receipts.as_ref().expect("guarded").advanced().await }, if receipts.is_some() => {
                    self.answer_ack(xio).await?;
                    continue;
                }
                f = tokio::time::timeout_at(deadline, xio.next()) => match f {
                    Ok(f) => f?,
                    Err(_) if self.authenticated() => return Ok(()),
                    Err(_) => return Err(StreamError::protocol(Cond::ConnectionTimeout, "negotiation took too long")),
                },
                Some((remote, local, outcome)) = done_rx.recv() => {
                    self.verified(xio, remote, local, outcome).await?;
                    continue;
                }
                _ = shutdown.cancelled() => {
                    return Err(StreamError::protocol(Cond::SystemShutdown, "server shutting down"));
                }
            };
            match frame {
                Frame::Open(h) => self.opened(xio, h).await?,
                Frame::Close => return Ok(()),
                Frame::Element(el) if el.is("starttls", ns::TLS) && !xio.io.is_tls() => {
                    xio.send(format!("<proceed xmlns='{}'/>", ns::TLS).as_bytes())
                        .await?;
                    let XmlIo {
                        io,
                        mut framer,
                        send_timeout,
                    } = slot.take().expect("stream present");
                    framer.reset();
                    let io = io.into_tls(self.ctx.server_tls_for(&self.local)).await?;
                    *slot = Some(XmlIo {
                        io,
                        framer,
                        send_timeout,
                    });
                }
                Frame::Element(el) if el.is("error", ns::STREAM) => {
                    info!(error = %String::from_utf8_lossy(el.bytes()), "the peer closed the stream with an error");
                    return Ok(());
                }
                Frame::Element(el) => self.element(xio, el, &done_tx).await?,
            }
        }
    }

    async fn opened(
        &mut self,
        xio: &mut XmlIo<Transport>,
        h: StreamHeader,
    ) -> Result<(), StreamError> {
        self.stream_id = crate::util::random_id(16);
        let to =
            h.to.as_deref()
                .map(str::to_ascii_lowercase)
                .unwrap_or_default();
        let ours = self.ctx.is_local(&to);
        let from_us = if ours {
            to.clone()
        } else {
            self.ctx.settings.support_domain.clone()
        };
        let answer_to = h.from.as_deref().unwrap_or("");
        xio.send(header(&from_us, answer_to, Some(&self.stream_id)).as_bytes())
            .await?;
        self.header_sent = true;
        if h.default_ns.as_deref() != Some(ns::SERVER) {
            return Err(StreamError::protocol(
                Cond::InvalidNamespace,
                "the default namespace must be jabber:server",
            ));
        }
        if !ours {
            return Err(StreamError::protocol(
                Cond::HostUnknown,
                "this server does not serve that domain",
            ));
        }
        self.local = to;
        if let Some(from) = &h.from {
            let from = from.to_ascii_lowercase();
            if self.claimed.is_none() {
                tracing::Span::current().record("remote", tracing::field::display(&from));
            }
            self.claimed = Some(from);
        }
        let s2s = &self.ctx.settings.s2s;
        let tls = xio.io.is_tls();
        if h.version.as_deref().is_none_or(|v| !v.starts_with("1.")) {
            // A pre-1.0 peer gets no features: dialback without TLS.
            if s2s.require_encryption {
                return Err(StreamError::protocol(
                    Cond::UnsupportedVersion,
                    "XMPP 1.0 streams with TLS only",
                ));
            }
            return Ok(());
        }
        let mut f = String::new();
        if !tls {
            let req = if s2s.require_encryption {
                "<required/>"
            } else {
                ""
            };
            f += &format!("<starttls xmlns='{}'>{req}</starttls>", ns::TLS);
        }
        if self.authenticated() && s2s.stream_management && self.sm.is_none() {
            f += &format!("<sm xmlns='{}'/>", ns::SM);
        }
        if !self.authenticated() && (tls || !s2s.require_encryption) {
            let proven = self
                .claimed
                .as_deref()
                .is_some_and(|d| self.ctx.peer_proves(&xio.io, d).is_ok());
            if proven {
                f += &format!(
                    "<mechanisms xmlns='{}'><mechanism>EXTERNAL</mechanism></mechanisms>",
                    ns::SASL
                );
            }
            f += dialback::FEATURE;
        }
        xio.send(format!("<stream:features>{f}</stream:features>").as_bytes())
            .await
    }

    async fn element(
        &mut self,
        xio: &mut XmlIo<Transport>,
        el: Stanza,
        done: &mpsc::Sender<Verified>,
    ) -> Result<(), StreamError> {
        let s2s = &self.ctx.settings.s2s;
        if el.kind() != Kind::Other {
            return self.stanza(el).await;
        }
        if !xio.io.is_tls() && s2s.require_encryption {
            return Err(StreamError::protocol(
                Cond::PolicyViolation,
                "STARTTLS first",
            ));
        }
        if el.ns() == Some(ns::SM) {
            return self.stream_management(xio, &el).await;
        }
        if el.is("auth", ns::SASL) && self.sasl.is_none() {
            return self.external(xio, &el).await;
        }
        if let Some(db) = DbElement::parse(&el) {
            return self.dialback(xio, db, done).await;
        }
        Err(StreamError::protocol(
            Cond::UnsupportedStanzaType,
            "not a stanza",
        ))
    }

    /// XEP-0178: the certificate proves the domain the peer claims.
    async fn external(
        &mut self,
        xio: &mut XmlIo<Transport>,
        el: &Stanza,
    ) -> Result<(), StreamError> {
        let tree = el
            .element()
            .map_err(|e| StreamError::protocol(Cond::NotWellFormed, e.to_string()))?;
        let failure = |c: &str| format!("<failure xmlns='{}'><{c}/></failure>", ns::SASL);
        if tree.attr("mechanism") != Some("EXTERNAL") {
            return xio.send(failure("invalid-mechanism").as_bytes()).await;
        }
        let text = tree.text();
        let authzid = match text.trim() {
            "" | "=" => None,
            t => B64
                .decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .map(|s| s.to_ascii_lowercase()),
        };
        let Some(domain) = authzid.or_else(|| self.claimed.clone()) else {
            return xio.send(failure("invalid-authzid").as_bytes()).await;
        };
        if self.claimed.as_ref().is_some_and(|c| *c != domain) {
            return xio.send(failure("invalid-authzid").as_bytes()).await;
        }
        if let Err(problem) = self.ctx.peer_proves(&xio.io, &domain) {
            info!(%domain, %problem, "SASL EXTERNAL refused");
            return xio.send(failure("not-authorized").as_bytes()).await;
        }
        info!(%domain, "authenticated with SASL EXTERNAL");
        xio.send(format!("<success xmlns='{}'/>", ns::SASL).as_bytes())
            .await?;
        self.sasl = Some(domain);
        xio.framer.reset();
        Ok(())
    }

    async fn dialback(
        &mut self,
        xio: &mut XmlIo<Transport>,
        db: DbElement,
        done: &mpsc::Sender<Verified>,
    ) -> Result<(), StreamError> {
        if !self.ctx.is_local(&db.to) {
            let answer = if db.verify {
                dialback::verify_answer(&db.to, &db.from, db.id.as_deref().unwrap_or(""), false)
            } else {
                dialback::result_answer(&db.to, &db.from, Err("item-not-found"))
            };
            return xio.send(answer.as_bytes()).await;
        }
        if db.verify {
            // We are the authoritative server: is this a key we made?
            let id = db.id.clone().unwrap_or_default();
            let valid = self.ctx.keys.check(&db.from, &db.to, &id, &db.key);
            return xio
                .send(dialback::verify_answer(&db.to, &db.from, &id, valid).as_bytes())
                .await;
        }
        if db.type_.is_some() {
            return Ok(());
        }
        let pair = (db.from.clone(), db.to.clone());
        if self.pairs.contains(&pair) || self.pending.contains(&pair) {
            return Ok(());
        }
        match self.ctx.peer_proves(&xio.io, &db.from) {
            // The certificate already proves it (XEP-0344 §2.4).
            Ok(()) => return self.verified(xio, db.from, db.to, Ok(true)).await,
            Err(problem) if self.ctx.settings.s2s.secure_auth => {
                info!(remote = %db.from, %problem, "dialback refused: secure_auth requires a trusted certificate");
                return xio
                    .send(
                        dialback::result_answer(&db.to, &db.from, Err("not-authorized")).as_bytes(),
                    )
                    .await;
            }
            Err(_) => {}
        }
        self.pending.insert(pair);
        let ctx = self.ctx.clone();
        let done = done.clone();
        let stream_id = self.stream_id.clone();
        self.tasks.spawn(async move {
            let outcome = super::verify::ask(&ctx, &db.to, &db.from, &stream_id, &db.key)
                .await
                .map_err(|e| e.to_string());
            let _ = done.send((db.from, db.to, outcome)).await;
        });
        Ok(())
    }

    async fn verified(
        &mut self,
        xio: &mut XmlIo<Transport>,
        remote: String,
        local: String,
        outcome: Result<bool, String>,
    ) -> Result<(), StreamError> {
        let pair = (remote, local);
        self.pending.remove(&pair);
        let answer = match &outcome {
            Ok(valid) => Ok(*valid),
            Err(e) => {
                warn!(remote = %pair.0, error = %e, "dialback verification failed");
                Err("remote-connection-failed")
            }
        };
        if answer == Ok(true) {
            info!(remote = %pair.0, local = %pair.1, "authenticated with dialback");
        }
        xio.send(dialback::result_answer(&pair.1, &pair.0, answer).as_bytes())
            .await?;
        if answer == Ok(true) {
            self.pairs.insert(pair);
        }
        Ok(())
    }

    /// A stanza: only from an authenticated domain, only to ours (RFC 6120
    /// §8.1.1.2, §8.1.2.2).
    async fn stanza(&mut self, el: Stanza) -> Result<(), StreamError> {
        if !self.authenticated() {
            return Err(StreamError::protocol(
                Cond::NotAuthorized,
                "authenticate first",
            ));
        }
        let domain = |j: Option<&str>| -> Option<String> {
            let j = jid::Jid::new(j?).ok()?;
            Some(j.domain().as_str().to_ascii_lowercase())
        };
        let (Some(from), Some(to)) = (domain(el.from()), domain(el.to())) else {
            return Err(StreamError::protocol(
                Cond::ImproperAddressing,
                "stanzas between servers carry valid from and to",
            ));
        };
        if !self.ctx.is_local(&to) {
            return Err(StreamError::protocol(
                Cond::HostUnknown,
                format!("{to} is not served here"),
            ));
        }
        let allowed = self.sasl.as_deref() == Some(from.as_str())
            || self.pairs.contains(&(from.clone(), to.clone()));
        if !allowed {
            return Err(StreamError::protocol(
                Cond::InvalidFrom,
                format!("{from} is not authenticated on this stream"),
            ));
        }
        match &self.sm {
            Some(receipts) => self.router.route_received(el, receipts.issue()).await,
            None => self.router.route(el).await,
        }
        Ok(())
    }

    /// XEP-0198 elements: `<enable/>` once authenticated (no resumption on
    /// s2s: a new stream starts afresh), `<r/>` answered once what was
    /// read before it is handled.
    async fn stream_management(
        &mut self,
        xio: &mut XmlIo<Transport>,
        el: &Stanza,
    ) -> Result<(), StreamError> {
        let failed = |cond: &str| {
            format!(
                "<failed xmlns='{}'><{cond} xmlns='{}'/></failed>",
                ns::SM,
                ns::STANZA_ERRORS
            )
        };
        match el.name() {
            "enable" => {
                let refusal = if !self.authenticated() {
                    Some("unexpected-request")
                } else if !self.ctx.settings.s2s.stream_management {
                    Some("service-unavailable")
                } else if self.sm.is_some() {
                    Some("unexpected-request")
                } else {
                    None
                };
                if let Some(cond) = refusal {
                    return xio.send(failed(cond).as_bytes()).await;
                }
                self.sm = Some(Arc::new(Receipts::new()));
                debug!("stream management enabled");
                xio.send(format!("<enabled xmlns='{}'/>", ns::SM).as_bytes())
                    .await
            }
            "r" => {
                let Some(receipts) = &self.sm else {
                    return Ok(());
                };
                self.ack_due = Some(receipts.issued());
                self.answer_ack(xio).await
            }
            // We send no stanzas here, so there is nothing to be acked.
            _ => Ok(()),
        }
    }

    /// Answers the peer's `<r/>` if everything read before it is handled.
    async fn answer_ack(&mut self, xio: &mut XmlIo<Transport>) -> Result<(), StreamError> {
        let (Some(receipts), Some(due)) = (&self.sm, self.ack_due) else {
            return Ok(());
        };
        let handled = receipts.handled();
        if handled < due {
            return Ok(());
        }
        self.ack_due = None;
        xio.send(ack(handled).as_bytes()).await
    }

    async fn close(&self, xio: &mut XmlIo<Transport>, error: Option<String>) {
        let mut out = String::new();
        if !self.header_sent {
            out += &header(
                &self.ctx.settings.support_domain,
                "",
                Some(&crate::util::random_id(16)),
            );
        }
        if let Some(receipts) = &self.sm {
            // XEP-0198 §4: a last ack before closing, after a moment for
            // what is being stored (at shutdown the journal commits last).
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), async {
                while receipts.handled() < receipts.issued() {
                    receipts.advanced().await;
                }
            })
            .await;
            out += &ack(receipts.handled());
        }
        out += &error.unwrap_or_else(|| "</stream:stream>".into());
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), async {
            let _ = xio.send(out.as_bytes()).await;
            let _ = tokio::io::AsyncWriteExt::shutdown(&mut xio.io).await;
        })
        .await;
    }
}

/// `<a/>` for `handled` stanzas; `h` wraps at 2^32 (XEP-0198 §4).
fn ack(handled: u64) -> String {
    format!("<a xmlns='{}' h='{}'/>", ns::SM, handled as u32)
}
