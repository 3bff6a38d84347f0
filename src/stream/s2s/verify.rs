//! The authoritative check of XEP-0220 §2.3: a peer claimed `remote` on an
//! inbound stream with a dialback key; we open our own stream to `remote`'s
//! server (found through DNS or `[s2s.hosts]`, never through the claimant)
//! and ask whether the key is genuine.

use tokio::io::AsyncWriteExt;
use tokio::time::Instant;
use tracing::debug;

use super::dialback::{self, DbElement};
use super::outbound::{element, open, Opened};
use super::{S2sContext, S2sError};

/// Asks `remote`'s authoritative server whether `key` is the one it made
/// for the stream `stream_id` we gave it (from `remote` to `local`).
pub async fn ask(
    ctx: &S2sContext,
    local: &str,
    remote: &str,
    stream_id: &str,
    key: &str,
) -> Result<bool, S2sError> {
    let deadline = Instant::now() + ctx.settings.s2s.negotiation_timeout;
    let fut = async {
        // A genuine key proves the domain through DNS, whatever the TLS
        // certificate of this connection says: that is what dialback is.
        let Opened { mut xio, .. } = open(ctx, local, remote, deadline).await?;
        let id = stream_id.to_string();
        xio.send(dialback::verify_request(local, remote, &id, key).as_bytes())
            .await?;
        let valid = loop {
            let el = element(&mut xio).await?;
            let Some(db) = DbElement::parse(&el) else {
                continue;
            };
            if db.verify && db.id.as_deref() == Some(&id) && db.from == remote {
                break db.type_.as_deref() == Some("valid");
            }
        };
        let _ = xio.send(b"</stream:stream>").await;
        let _ = xio.io.shutdown().await;
        debug!(%remote, valid, "dialback verification answered");
        Ok(valid)
    };
    match tokio::time::timeout_at(deadline, fut).await {
        Ok(r) => r,
        Err(_) => Err(S2sError::Timeout),
    }
}
