//! Delivery notices: the other end of a relay from a receipt.
//!
//! A [`Receipt`](crate::receipt::Receipt) tells the stream a stanza came
//! in on that it is safe (stored); a [`Delivery`] tells whoever stored a
//! message that it reached its recipient: the recipient's client
//! acknowledged it (XEP-0198), or, without stream management, it was
//! written to the client's connection, or it went into offline storage.
//! The bridge stores a customer's message undelivered and marks it
//! delivered only on this notice, so a crash between the two relays it
//! again rather than never: a message still queued for an agent's session
//! is not taken for one the agent has.
//!
//! A notice travels on the stanza
//! ([`with_delivery`](crate::xml::Stanza::with_delivery)) and survives the
//! rewrites a stanza goes through on its way (addresses, a delay stamp). It
//! may be given more than once (a copy to each resource, a resend after
//! resumption): marking is idempotent.
//!
//! Imports nothing of ours.

use std::sync::Arc;

use tokio::sync::mpsc;

/// Where given notices go: the row ids of the messages delivered.
pub type Notices = mpsc::UnboundedSender<i64>;

/// The notice of one stored message, cheap to clone with its stanza.
#[derive(Clone)]
pub struct Delivery(Arc<Inner>);

struct Inner {
    row: i64,
    to: Notices,
}

impl Delivery {
    pub fn new(row: i64, to: Notices) -> Delivery {
        Delivery(Arc::new(Inner { row, to }))
    }

    /// The message reached its recipient (or storage kept for them).
    pub fn done(&self) {
        // Closed only at shutdown: the row stays undelivered and is
        // relayed again after the restart, twice rather than never.
        let _ = self.0.to.send(self.0.row);
    }
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Delivery({})", self.0.row)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_copy_tells_the_same_row() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let d = Delivery::new(7, tx);
        let copy = d.clone();
        d.done();
        copy.done();
        assert_eq!((rx.try_recv().ok(), rx.try_recv().ok()), (Some(7), Some(7)));
        assert!(rx.try_recv().is_err());
    }
}
