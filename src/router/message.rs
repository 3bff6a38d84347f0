//! Message delivery to local accounts (RFC 6121 §8.5.2-§8.5.3): to a full
//! JID, to the most available resources of a bare JID, or into offline
//! storage when none is online.

use jid::{BareJid, Jid};

use super::{carbons, Router};
use crate::session::{Control, SessionHandle};
use crate::xml::Condition;
use crate::xml::Stanza;

pub async fn deliver(
    router: &Router,
    from: &Jid,
    to: &BareJid,
    resource: Option<&str>,
    stanza: Stanza,
) {
    let sessions = router.table.sessions(to);
    let mtype = stanza.type_().unwrap_or("normal");
    if let Some(res) = resource {
        if let Some(target) = sessions.iter().find(|s| s.jid.resource().as_str() == res) {
            router.deliver_to(target, stanza.clone()).await;
            carbons::received(router, from, &sessions, &[target.id], &stanza).await;
            return;
        }
        // RFC 6121 §8.5.3.2.1: groupchat and error to an absent resource are
        // dropped or bounced; the others are treated as sent to the bare JID.
        match mtype {
            "groupchat" => {
                return router
                    .bounce(&stanza, Condition::ServiceUnavailable, None)
                    .await
            }
            "error" => return,
            _ => {}
        }
    }
    if sessions.is_empty() && !router.account_exists(to).await {
        return router
            .bounce(&stanza, Condition::ServiceUnavailable, None)
            .await;
    }
    let available: Vec<_> = sessions
        .iter()
        .filter(|s| s.is_available() && s.priority() >= 0)
        .cloned()
        .collect();
    match mtype {
        "groupchat" => {
            router
                .bounce(&stanza, Condition::ServiceUnavailable, None)
                .await
        }
        "headline" | "error" => {
            for s in &available {
                router.deliver_to(s, stanza.clone()).await;
            }
        }
        _ => {
            let top = available.iter().map(|s| s.priority()).max();
            let targets: Vec<_> = available
                .iter()
                .filter(|s| Some(s.priority()) == top)
                .cloned()
                .collect();
            let Some((last, others)) = targets.split_last() else {
                return store_offline(router, to, stanza).await;
            };
            let ids: Vec<u64> = targets.iter().map(|s| s.id).collect();
            carbons::received(router, from, &sessions, &ids, &stanza).await;
            for s in others {
                router.deliver_to(s, stanza.clone()).await;
            }
            // The last (usually only) target takes the stanza itself: a
            // clone copies every attribute string.
            router.deliver_to(last, stanza).await;
        }
    }
}

/// Offline storage (XEP-0160): durable before anything else happens, so a
/// message the sender saw leave is never lost.
async fn store_offline(router: &Router, to: &BareJid, stanza: Stanza) {
    let store = &router.store;
    let full = match store.offline_count(to.as_str()).await {
        Ok(n) => n >= router.settings.limits.max_offline_messages,
        Err(e) => {
            tracing::error!(error = %e, "offline count failed");
            return router
                .bounce(&stanza, Condition::InternalServerError, None)
                .await;
        }
    };
    if full {
        return router
            .bounce(
                &stanza,
                Condition::ServiceUnavailable,
                Some("the recipient's offline storage is full"),
            )
            .await;
    }
    let text = String::from_utf8_lossy(stanza.bytes());
    match store.offline_push(to.as_str(), &text).await {
        // Kept for them: delivered as far as its sender is concerned.
        Ok(_) => stanza.delivered(),
        Err(e) => {
            tracing::error!(error = %e, "storing an offline message failed");
            router
                .bounce(&stanza, Condition::InternalServerError, None)
                .await;
        }
    }
}

/// Hands stored offline messages to a session that just became available.
pub async fn deliver_offline(router: &Router, session: &SessionHandle) {
    let bare = session.jid.to_bare();
    let stored = match router.store.offline_list(bare.as_str()).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "loading offline messages failed");
            return;
        }
    };
    if stored.is_empty() {
        return;
    }
    let domain = router.server_jid().to_string();
    let batch: Vec<(i64, Stanza)> = stored
        .into_iter()
        .filter_map(|m| {
            let s = crate::xml::with_delay(&m.stanza, &domain, m.stored_at_ms)?;
            Some((m.id, s.with_addresses(None, Some(session.jid.as_str()))))
        })
        .collect();
    session.tell(Control::Offline(batch)).await;
}
