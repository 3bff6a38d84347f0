//! The stream header (RFC 6120 §4.7): at the start, and again after each
//! restart (STARTTLS, SASL success), then the features of the phase it opens.

use super::{Failure, Stream};
use crate::config::C2s;
use crate::stream::header;
use crate::xml::{ns, Frame, StreamError, StreamErrorCondition as Cond};

/// The client's stream header is due; phase `P` follows it.
pub(super) struct Opening<P>(pub(super) P);

/// A phase that a stream header opens.
pub(super) trait Phase {
    /// What the phase offers in `<stream:features>`.
    fn features(&self, c2s: &C2s) -> String;
}

impl<'n, P: Phase> Stream<'n, Opening<P>> {
    /// Reads the client's header, answers it, then offers `P`'s features.
    pub(super) async fn open(mut self) -> Result<Stream<'n, P>, Failure> {
        let neg = self.neg;
        let h = match neg.read(&mut self.xio).await {
            Ok(Frame::Open(h)) => h,
            Ok(_) => {
                let e = StreamError::protocol(Cond::NotWellFormed, "expected a stream header");
                return Err(Failure::unanswered(self.xio, e));
            }
            Err(e) => return Err(Failure::unanswered(self.xio, e)),
        };
        let settings = &neg.ctx.settings;
        let domain = &settings.agent_domain;
        let id = crate::util::random_id(16);
        let to_ok =
            h.to.as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case(domain));
        self.xio
            .send(header(ns::CLIENT, domain, None, &id).as_bytes())
            .await
            .map_err(Failure::lost)?;
        if h.default_ns.as_deref() != Some(ns::CLIENT) {
            return Err(self.fail(StreamError::protocol(
                Cond::InvalidNamespace,
                "the default namespace must be jabber:client",
            )));
        }
        if !to_ok {
            return Err(self.fail(StreamError::protocol(
                Cond::HostUnknown,
                "this server does not serve that domain",
            )));
        }
        if h.version.as_deref().is_none_or(|v| !v.starts_with("1.")) {
            return Err(self.fail(StreamError::protocol(
                Cond::UnsupportedVersion,
                "XMPP 1.0 streams only",
            )));
        }
        let mut stream = self.advance(|Opening(phase)| phase);
        let features = stream.phase.features(&settings.c2s);
        stream
            .xio
            .send(format!("<stream:features>{features}</stream:features>").as_bytes())
            .await
            .map_err(Failure::lost)?;
        Ok(stream)
    }
}
