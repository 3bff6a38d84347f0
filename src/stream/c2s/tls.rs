//! STARTTLS (RFC 6120 §5) on a cleartext stream, and XEP-0368 direct TLS.

use tokio::net::TcpStream;

use super::auth::{self, Encrypted, Sasl};
use super::bind::Authenticated;
use super::header::{Opening, Phase};
use super::{Failure, Negotiation, Stream};
use crate::net::{FramedIo, Transport};
use crate::xml::{ns, XmlIo};

/// A cleartext stream before authentication: STARTTLS is offered, and SASL
/// too unless encryption is required.
pub(super) struct Cleartext {
    sasl: Sasl,
}

/// The client asked for STARTTLS: `<proceed/>` and the handshake are due.
pub(super) struct StartTls {
    sasl: Sasl,
}

/// How the cleartext phase ends.
pub(super) enum Outcome<'n> {
    StartTls(Stream<'n, StartTls>),
    /// SASL succeeded in clear text, which only a server that does not
    /// require encryption allows.
    Authenticated(Stream<'n, Opening<Authenticated>>),
}

/// A plain TCP connection; its stream header comes first.
pub(super) fn cleartext(neg: &Negotiation, tcp: TcpStream) -> Stream<'_, Opening<Cleartext>> {
    let phase = Cleartext {
        sasl: Sasl::default(),
    };
    Stream::new(neg, Transport::Plain(tcp), Opening(phase))
}

/// TLS from the first byte (XEP-0368), before any stream header.
pub(super) async fn direct(
    neg: &Negotiation,
    tcp: TcpStream,
) -> Result<Stream<'_, Opening<Encrypted>>, Failure> {
    let io = Transport::Plain(tcp)
        .into_tls(neg.ctx.tls.clone())
        .await
        .map_err(Failure::lost)?;
    let phase = Encrypted {
        sasl: Sasl::default(),
        secure: true,
    };
    Ok(Stream::new(neg, io, Opening(phase)))
}

/// A web framing: no STARTTLS inside it (RFC 7395 §3.8), SASL at once.
pub(super) fn framed(
    neg: &Negotiation,
    io: Box<dyn FramedIo>,
    secure: bool,
) -> Stream<'_, Opening<Encrypted>> {
    let phase = Encrypted {
        sasl: Sasl::default(),
        secure,
    };
    Stream::new(neg, Transport::Framed(io), Opening(phase))
}

impl Phase for Cleartext {
    fn features(&self, neg: &Negotiation) -> String {
        let c2s = &neg.ctx.settings.c2s;
        let req = if c2s.require_encryption {
            "<required/>"
        } else {
            ""
        };
        let mut f = format!("<starttls xmlns='{}'>{req}</starttls>", ns::TLS);
        if !c2s.require_encryption {
            f += &auth::mechanisms(neg, false);
        }
        f
    }
}

impl<'n> Stream<'n, Cleartext> {
    /// Reads until the client asks for STARTTLS, or authenticates without.
    pub(super) async fn negotiate(mut self) -> Result<Outcome<'n>, Failure> {
        loop {
            let el = match self.element().await {
                Ok(el) => el,
                Err(e) => return Err(self.fail(e)),
            };
            if el.is("starttls", ns::TLS) {
                let stream = self.advance(|p| StartTls { sasl: p.sasl });
                return Ok(Outcome::StartTls(stream));
            }
            let step = self.phase.sasl.element(self.neg, &mut self.xio, &el, false);
            match step.await {
                Ok(Some(account)) => {
                    let stream = self.advance(|_| Opening(Authenticated { account }));
                    return Ok(Outcome::Authenticated(stream));
                }
                Ok(None) => {}
                Err(e) => return Err(self.fail(e)),
            }
        }
    }
}

impl<'n> Stream<'n, StartTls> {
    /// Proceeds and upgrades to TLS; the client then restarts the stream
    /// (RFC 6120 §5.4.3.3).
    pub(super) async fn upgrade(self) -> Result<Stream<'n, Opening<Encrypted>>, Failure> {
        let Stream {
            neg,
            mut xio,
            phase,
        } = self;
        xio.send(format!("<proceed xmlns='{}'/>", ns::TLS).as_bytes())
            .await
            .map_err(Failure::lost)?;
        let XmlIo {
            io,
            mut framer,
            send_timeout,
        } = xio;
        framer.reset();
        let io = io
            .into_tls(neg.ctx.tls.clone())
            .await
            .map_err(Failure::lost)?;
        Ok(Stream {
            neg,
            xio: XmlIo {
                io,
                framer,
                send_timeout,
            },
            phase: Opening(Encrypted {
                sasl: phase.sasl.restarted(),
                secure: true,
            }),
        })
    }
}
