//! XEP-0280 message carbons: copies of chat messages to an account's other
//! resources that asked for them.

use std::sync::Arc;

use jid::Jid;

use super::Router;
use crate::session::SessionHandle;
use crate::xml::{escape_attr, ns, Stanza};

/// Whether a message is copied (XEP-0280 §6): chat messages, and normal
/// ones with a body, unless marked private or no-copy.
fn eligible(stanza: &Stanza) -> bool {
    let Ok(el) = stanza.element() else {
        return false;
    };
    let t = el.attr("type").unwrap_or("normal");
    let kind_ok = t == "chat" || (t == "normal" && el.has_child("body", ns::CLIENT));
    kind_ok
        && !el.has_child("private", ns::CARBONS)
        && !el.has_child("no-copy", ns::HINTS)
        && !el.has_child("received", ns::CARBONS)
        && !el.has_child("sent", ns::CARBONS)
}

fn wrap(direction: &str, owner: &str, to: &str, mtype: &str, original: &Stanza) -> Option<Stanza> {
    let xml = format!(
        "<message xmlns='jabber:client' from=\"{}\" to=\"{}\" type=\"{}\"><{direction} xmlns='{}'><forwarded xmlns='{}'>{}</forwarded></{direction}></message>",
        escape_attr(owner),
        escape_attr(to),
        escape_attr(mtype),
        ns::CARBONS,
        ns::FORWARD,
        String::from_utf8_lossy(original.qualified().bytes()),
    );
    Stanza::parse(xml.into()).ok()
}

async fn copy(
    router: &Router,
    direction: &str,
    sessions: &[Arc<SessionHandle>],
    skip: &[u64],
    stanza: &Stanza,
) {
    let wanting: Vec<_> = sessions
        .iter()
        .filter(|s| !skip.contains(&s.id) && s.state().carbons)
        .collect();
    if wanting.is_empty() || !eligible(stanza) {
        return;
    }
    let mtype = stanza.type_().unwrap_or("normal");
    for s in wanting {
        let owner = s.jid.to_bare().to_string();
        if let Some(c) = wrap(direction, &owner, s.jid.as_str(), mtype, stanza) {
            router.deliver_to(s, c).await;
        }
    }
}

/// `<received/>` copies to the recipient's resources not already served.
pub async fn received(
    router: &Router,
    _from: &Jid,
    sessions: &[Arc<SessionHandle>],
    served: &[u64],
    stanza: &Stanza,
) {
    copy(router, "received", sessions, served, stanza).await;
}

/// `<sent/>` copies to the sender's other resources.
pub async fn sent(router: &Router, sender: &SessionHandle, stanza: &Stanza) {
    let sessions = router.table.sessions(&sender.bare);
    // One resource (most clients): nobody to copy to, nothing to parse.
    if sessions.len() < 2 {
        return;
    }
    // A message to oneself is already delivered to every resource.
    if stanza
        .to()
        .and_then(|t| Jid::new(t).ok())
        .is_some_and(|t| t.into_bare() == sender.bare)
    {
        return;
    }
    copy(router, "sent", &sessions, &[sender.id], stanza).await;
}
