//! SASL (RFC 6120 §6): the mechanisms offered, the exchange, and the stream
//! restart after success. The mechanisms themselves are in
//! [`crate::stream::sasl`].

use base64::Engine;
use jid::BareJid;
use minidom::Element;
use tracing::{debug, info};

use super::bind::Authenticated;
use super::header::{Opening, Phase};
use super::{Failure, Negotiation, Stream, LOG};
use crate::net::Transport;
use crate::stream::sasl::{self, Exchange, Mech, SaslFailure, Step};
use crate::xml::{ns, Stanza, StreamError, StreamErrorCondition as Cond, XmlIo};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
/// Failed SASL attempts allowed on one stream (RFC 6120 §6.4.5 asks for a
/// configurable number of retries, at least two).
const MAX_AUTH_FAILURES: u32 = 3;

/// An encrypted stream before authentication: SASL, every mechanism offered.
pub(super) struct Encrypted {
    pub(super) sasl: Sasl,
    /// TLS, or a web framing over a connection that protects it.
    pub(super) secure: bool,
}

/// SASL on one connection. All of it but the running exchange carries over
/// the STARTTLS restart.
#[derive(Default)]
pub(super) struct Sasl {
    failures: u32,
    /// A mechanism chosen without an initial response, awaiting one.
    pending_mech: Option<Mech>,
    /// The running exchange, and the account it is about.
    exchange: Option<(Exchange, BareJid)>,
    /// The account the last attempt named, for the login guard.
    attempt: Option<BareJid>,
    /// The login guard turned the last attempt away, for this long.
    refused: Option<std::time::Duration>,
}

enum SaslResult {
    Success(BareJid),
    Continue,
    Failed(SaslFailure),
}

/// Failures that tried a password (or a proof of one): what the login
/// guard counts. A refused, aborted or mistaken mechanism guesses nothing.
fn guessed(f: SaslFailure) -> bool {
    matches!(
        f,
        SaslFailure::NotAuthorized | SaslFailure::InvalidAuthzid | SaslFailure::MalformedRequest
    )
}

/// `<mechanisms/>` in order of preference, for the domain the stream is to.
pub(super) fn mechanisms(neg: &Negotiation, tls: bool) -> String {
    let mut f = format!("<mechanisms xmlns='{}'>", ns::SASL);
    let offered: Vec<&str> = match neg.web() {
        // A visitor's token is as good as a password: PLAIN only where
        // it cannot be read on the way.
        Some(web) => [("PLAIN", tls), ("ANONYMOUS", web.web.anonymous)]
            .into_iter()
            .filter_map(|(m, on)| on.then_some(m))
            .collect(),
        // PLAIN would reveal the password on a clear channel.
        None => sasl::MECHANISMS
            .into_iter()
            .filter(|m| *m != "PLAIN" || tls)
            .collect(),
    };
    for m in offered {
        f += &format!("<mechanism>{m}</mechanism>");
    }
    f += "</mechanisms>";
    f
}

/// Visitors log in with tokens or anonymously, accounts with their keys.
fn offered_here(neg: &Negotiation, mech: Mech) -> bool {
    match neg.web() {
        Some(web) => mech == Mech::Plain || (mech == Mech::Anonymous && web.web.anonymous),
        None => mech != Mech::Anonymous,
    }
}

impl Phase for Encrypted {
    fn features(&self, neg: &Negotiation) -> String {
        mechanisms(neg, self.secure)
    }
}

impl<'n> Stream<'n, Encrypted> {
    /// Runs SASL until it succeeds.
    pub(super) async fn authenticate(
        mut self,
    ) -> Result<Stream<'n, Opening<Authenticated>>, Failure> {
        loop {
            let el = match self.element().await {
                Ok(el) => el,
                Err(e) => return Err(self.fail(e)),
            };
            let secure = self.phase.secure;
            let step = self
                .phase
                .sasl
                .element(self.neg, &mut self.xio, &el, secure);
            match step.await {
                Ok(Some(account)) => {
                    return Ok(self.advance(|_| Opening(Authenticated { account })))
                }
                Ok(None) => {}
                Err(e) => return Err(self.fail(e)),
            }
        }
    }
}

impl Sasl {
    /// What outlives the STARTTLS restart.
    pub(super) fn restarted(self) -> Sasl {
        Sasl {
            exchange: None,
            ..self
        }
    }

    /// One element before authentication; `Some(account)` once SASL
    /// succeeded, the framer reset for the stream the client restarts
    /// (RFC 6120 §6.4.6).
    pub(super) async fn element(
        &mut self,
        neg: &Negotiation,
        xio: &mut XmlIo<Transport>,
        el: &Stanza,
        tls: bool,
    ) -> Result<Option<BareJid>, StreamError> {
        if el.ns() != Some(ns::SASL) {
            return Err(StreamError::protocol(
                Cond::NotAuthorized,
                "authenticate first",
            ));
        }
        match self.step(neg, xio, el, tls).await? {
            SaslResult::Success(jid) => {
                info!(target: LOG, %jid, "authenticated");
                if neg.web().is_none() {
                    neg.ctx.logins.succeeded(jid.as_str());
                }
                xio.framer.reset();
                // Logged in: what it sends now is shaped, not capped.
                xio.framer.allowance.preauth = None;
                Ok(Some(jid))
            }
            SaslResult::Continue => Ok(None),
            SaslResult::Failed(f) => {
                let account = self.attempt.take();
                if guessed(f) && neg.web().is_none() {
                    let account = account.as_ref().map(|a| a.as_str());
                    neg.ctx.logins.failed(neg.peer, account);
                }
                self.failures += 1;
                if self.failures >= MAX_AUTH_FAILURES {
                    return Err(StreamError::protocol(
                        Cond::PolicyViolation,
                        "too many failed authentication attempts",
                    ));
                }
                Ok(None)
            }
        }
    }

    /// One SASL element, answered.
    async fn step(
        &mut self,
        neg: &Negotiation,
        xio: &mut XmlIo<Transport>,
        el: &Stanza,
        tls: bool,
    ) -> Result<SaslResult, StreamError> {
        let failure = |f: SaslFailure, wait: Option<std::time::Duration>| {
            let text = wait
                .map(|w| {
                    format!(
                        "<text xml:lang='en'>too many failed logins: try again in {} s</text>",
                        w.as_secs().max(1)
                    )
                })
                .unwrap_or_default();
            format!(
                "<failure xmlns='{}'><{}/>{text}</failure>",
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
        let outcome: Result<Step, SaslFailure> = match el.name() {
            "auth" => {
                self.exchange = None;
                let mech = tree.attr("mechanism").and_then(Mech::parse);
                match mech {
                    None => Err(SaslFailure::InvalidMechanism),
                    Some(m) if !offered_here(neg, m) => Err(SaslFailure::InvalidMechanism),
                    Some(Mech::Plain) if !tls => Err(SaslFailure::EncryptionRequired),
                    Some(_) if !tls && neg.ctx.settings.c2s.require_encryption => {
                        Err(SaslFailure::EncryptionRequired)
                    }
                    Some(mech) => match payload(&tree) {
                        Err(f) => Err(f),
                        // No initial response: ask for it with an empty
                        // challenge. ANONYMOUS has none to give (its trace
                        // is optional).
                        Ok(data) if data.is_empty() && mech != Mech::Anonymous => {
                            self.exchange = None;
                            self.pending_mech = Some(mech);
                            Ok(Step::Challenge(Vec::new()))
                        }
                        Ok(data) => self.begin(neg, mech, &data).await,
                    },
                }
            }
            "response" => match payload(&tree) {
                Err(f) => Err(f),
                Ok(data) => match (self.exchange.as_mut(), self.pending_mech.take()) {
                    (Some((ex, _)), _) => Ok(ex.step(&data)),
                    (None, Some(mech)) => self.begin(neg, mech, &data).await,
                    (None, None) => Err(SaslFailure::MalformedRequest),
                },
            },
            "abort" => {
                self.exchange = None;
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
                let Some((_, jid)) = self.exchange.take() else {
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
                debug!(target: LOG, failure = %f, "SASL failure");
                self.exchange = None;
                self.pending_mech = None;
                xio.send(failure(f, self.refused.take()).as_bytes()).await?;
                return Ok(SaslResult::Failed(f));
            }
        };
        xio.send(reply.as_bytes()).await?;
        Ok(SaslResult::Continue)
    }

    /// Reads who the client claims to be, loads that account's keys and
    /// runs the first step.
    async fn begin(
        &mut self,
        neg: &Negotiation,
        mech: Mech,
        first: &[u8],
    ) -> Result<Step, SaslFailure> {
        if let Some(web) = neg.web() {
            let jid = match mech {
                Mech::Anonymous => web.anonymous()?,
                Mech::Plain => {
                    let id = web.plain(first)?;
                    if let Some(name) = &id.name {
                        debug!(target: LOG, jid = %id.jid, %name, "site visitor");
                    }
                    id.jid
                }
                _ => return Err(SaslFailure::InvalidMechanism),
            };
            self.exchange = Some((Exchange::decided(), jid));
            return Ok(Step::Success(Vec::new()));
        }
        let (user, authzid) = sasl::first_message_identity(mech, first)?;
        let domain = &neg.ctx.settings.agent_domain;
        // Nodeprep through the jid crate: "Alice" and "alice" are one account.
        let bare =
            BareJid::new(&format!("{user}@{domain}")).map_err(|_| SaslFailure::NotAuthorized)?;
        // Refused before the password is looked at, so that guessing
        // goes no faster than the back-off, whatever the guess.
        if let Some(wait) = neg.ctx.logins.waiting(neg.peer, Some(bare.as_str())) {
            info!(target: LOG, account = %bare, wait_secs = wait.as_secs(), "login refused: too many failures");
            self.refused = Some(wait);
            return Err(SaslFailure::TemporaryAuthFailure);
        }
        self.attempt = Some(bare.clone());
        if let Some(z) = authzid {
            if BareJid::new(&z).ok().as_ref() != Some(&bare) {
                return Err(SaslFailure::InvalidAuthzid);
            }
        }
        let creds = neg
            .ctx
            .store
            .credentials(bare.as_str())
            .await
            .map_err(|e| {
                tracing::error!(target: LOG, error = %e, "loading credentials");
                SaslFailure::TemporaryAuthFailure
            })?;
        let mut ex = Exchange::start(mech, creds)?;
        let step = ex.step(first);
        self.exchange = Some((ex, bare));
        Ok(step)
    }
}
