//! Message delivery to local accounts (RFC 6121 §8.5.2-§8.5.3): to a full
//! JID, to the most available resources of a bare JID, or into offline
//! storage when none is online.

use jid::{BareJid, Jid};

use super::{carbons, Condition, Router};
use crate::xml::{escape_attr, ns, Stanza};

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
    if let Err(e) = store.offline_push(to.as_str(), &text).await {
        tracing::error!(error = %e, "storing an offline message failed");
        router
            .bounce(&stanza, Condition::InternalServerError, None)
            .await;
    }
}

/// Adds the XEP-0203 delay stamp to a stored message at delivery.
pub fn with_delay(raw: &str, from: &str, stored_at_ms: i64) -> Option<Stanza> {
    let stamp = chrono_stamp(stored_at_ms);
    let delay = format!(
        "<delay xmlns='{}' from=\"{}\" stamp=\"{stamp}\">Offline storage</delay>",
        ns::DELAY,
        escape_attr(from)
    );
    let xml = if let Some(i) = raw.rfind("</") {
        format!("{}{delay}{}", &raw[..i], &raw[i..])
    } else if let Some(stripped) = raw.strip_suffix("/>") {
        // <message .../> has no end tag to put the stamp before.
        let name_end = stripped.find([' ', '/']).unwrap_or(stripped.len());
        format!("{stripped}>{delay}</{}>", &stripped[1..name_end])
    } else {
        return None;
    };
    Stanza::parse(xml.into()).ok()
}

/// RFC 3339 UTC with milliseconds, computed without a date library.
pub fn chrono_stamp(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps() {
        assert_eq!(chrono_stamp(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(chrono_stamp(1_795_000_000_123), "2026-11-18T11:06:40.123Z");
    }

    #[test]
    fn delay_goes_inside_the_message() {
        let s = with_delay("<message to='a@b'><body>x</body></message>", "b", 0).unwrap();
        let el = s.element().unwrap();
        assert_eq!(
            el.get_child("delay", ns::DELAY).unwrap().attr("stamp"),
            Some("1970-01-01T00:00:00.000Z")
        );
        let s = with_delay("<message to='a@b'/>", "b", 0).unwrap();
        assert!(s.element().unwrap().has_child("delay", ns::DELAY));
    }
}
