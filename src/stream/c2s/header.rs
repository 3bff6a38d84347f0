//! The stream header (RFC 6120 §4.7): at the start, and again after each
//! restart (STARTTLS, SASL success), then the features of the phase it opens.

use super::{Failure, Negotiation, Stream};
use crate::stream::header;
use crate::xml::{ns, Frame, StreamError, StreamErrorCondition as Cond};

/// The client's stream header is due; phase `P` follows it.
pub(super) struct Opening<P>(pub(super) P);

/// A phase that a stream header opens.
pub(super) trait Phase {
    /// What the phase offers in `<stream:features>`, on `neg`'s stream.
    fn features(&self, neg: &Negotiation) -> String;
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
        let asked = h.to.as_deref().map(str::to_ascii_lowercase);
        let to_ok = match (neg.domain.get(), asked) {
            // After a restart: the same domain as before.
            (Some(chosen), asked) => asked.as_deref() == Some(chosen.as_str()),
            (None, Some(asked)) if settings.is_client_domain(&asked) => {
                let _ = neg.domain.set(asked);
                true
            }
            (None, _) => false,
        };
        let domain = neg.domain();
        let id = crate::util::random_id(16);
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
        let features = stream.phase.features(neg);
        stream
            .xio
            .send(format!("<stream:features>{features}</stream:features>").as_bytes())
            .await
            .map_err(Failure::lost)?;
        Ok(stream)
    }
}
