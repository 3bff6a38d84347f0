//! Presence (RFC 6121 §3-§4): broadcast, probes, directed presence and the
//! subscription state machine for local accounts.

use jid::{BareJid, Jid};

use super::{roster, Dest, Router};
use crate::session::SessionHandle;
use crate::store::{RosterItem, Subscription};
use crate::xml::{escape_attr, Condition, Stanza};

fn presence(from: &str, to: &str, type_: Option<&str>) -> Option<Stanza> {
    let t = type_.map(|t| format!(" type='{t}'")).unwrap_or_default();
    let xml = format!(
        "<presence xmlns='jabber:client' from=\"{}\" to=\"{}\"{t}/>",
        escape_attr(from),
        escape_attr(to)
    );
    Stanza::parse(xml.into()).ok()
}

pub async fn route(router: &Router, from: &Jid, to: Option<&Jid>, stanza: Stanza) {
    let t = stanza.type_();
    match (to, t) {
        // A local client's own broadcast: initial, updated or unavailable.
        (None, None | Some("unavailable")) => broadcast(router, from, stanza).await,
        (None, _) => {}
        (Some(to), Some("subscribe" | "subscribed" | "unsubscribe" | "unsubscribed")) => {
            let t = t.unwrap_or_default();
            if is_local_session(router, from) {
                outbound_subscription(router, &from.to_bare(), &to.to_bare(), t).await;
            }
            // Subscription stanzas travel between bare JIDs (RFC 6121 §3.1.1).
            let s =
                stanza.with_addresses(Some(from.to_bare().as_str()), Some(to.to_bare().as_str()));
            inbound(router, &from.to_bare().into(), to, s).await;
        }
        (Some(to), None | Some("unavailable")) => {
            if let Some(s) = local_session(router, from) {
                let mut st = s.state();
                if t.is_none() {
                    st.directed.insert(to.to_string());
                } else {
                    st.directed.remove(to.as_str());
                }
            }
            inbound(router, from, to, stanza).await
        }
        (Some(to), _) => inbound(router, from, to, stanza).await,
    }
}

fn local_session(router: &Router, from: &Jid) -> Option<std::sync::Arc<SessionHandle>> {
    from.try_as_full()
        .ok()
        .and_then(|f| router.table.session(f))
}

fn is_local_session(router: &Router, from: &Jid) -> bool {
    from.domain().as_str() == router.settings.agent_domain
}

/// Presence for `to`, from a local user or a remote one.
async fn inbound(router: &Router, from: &Jid, to: &Jid, stanza: Stanza) {
    let (bare, resource) = match router.classify(to) {
        Dest::Account(bare, resource) => (bare, resource),
        Dest::Remote => return router.to_remote(stanza).await,
        Dest::Component(domain) => return router.to_component(&domain, stanza).await,
        // Gateway presence comes with its layer; presence is never
        // answered with errors for unknown destinations.
        Dest::Server | Dest::HandledDomain(_) | Dest::Handled(_) => return,
    };
    let sessions = router.table.sessions(&bare);
    match stanza.type_() {
        None | Some("unavailable") | Some("error") => {
            for s in sessions {
                let wanted = resource
                    .as_deref()
                    .is_none_or(|r| s.jid.resource().as_str() == r);
                if wanted && (s.is_available() || resource.is_some()) {
                    router.deliver_to(&s, stanza.clone()).await;
                }
            }
        }
        Some("probe") => answer_probe(router, &bare, from).await,
        Some(t @ ("subscribe" | "subscribed" | "unsubscribe" | "unsubscribed")) => {
            let t = t.to_string();
            inbound_subscription(router, &from.to_bare(), &bare, &t, stanza).await
        }
        _ => {}
    }
}

async fn item(router: &Router, owner: &BareJid, contact: &BareJid) -> RosterItem {
    router
        .store
        .roster_item(owner.as_str(), contact.as_str())
        .await
        .ok()
        .flatten()
        .unwrap_or(RosterItem {
            contact: contact.to_string(),
            name: None,
            subscription: Subscription::None,
            ask: false,
            groups: Vec::new(),
        })
}

async fn save(router: &Router, owner: &BareJid, item: &RosterItem) {
    if let Err(e) = router.store.roster_upsert(owner.as_str(), item).await {
        tracing::error!(error = %e, "roster update failed");
        return;
    }
    roster::push(router, owner, item, false).await;
}

/// The user's side of a subscription stanza they send (RFC 6121 §3.1.2,
/// §3.2.2, §3.3.2, §3.2.1 for each type).
async fn outbound_subscription(router: &Router, user: &BareJid, contact: &BareJid, t: &str) {
    use Subscription::*;
    let mut it = item(router, user, contact).await;
    let before = (it.subscription, it.ask);
    match t {
        "subscribe" if !matches!(it.subscription, To | Both) => it.ask = true,
        "subscribed" => {
            it.subscription = match it.subscription {
                None => From,
                To => Both,
                s => s,
            };
            let _ = router
                .store
                .pending_in_remove(user.as_str(), contact.as_str())
                .await;
        }
        "unsubscribe" => {
            it.ask = false;
            it.subscription = match it.subscription {
                To => None,
                Both => From,
                s => s,
            };
        }
        "unsubscribed" => {
            it.subscription = match it.subscription {
                From => None,
                Both => To,
                s => s,
            };
            let _ = router
                .store
                .pending_in_remove(user.as_str(), contact.as_str())
                .await;
        }
        _ => {}
    }
    if (it.subscription, it.ask) != before {
        save(router, user, &it).await;
    }
    // Approving shares current presence; revoking withdraws it.
    for s in router.table.sessions(user) {
        let last = s.state().last.clone();
        let out = match (t, last) {
            ("subscribed", Some(last)) if s.is_available() => {
                Some(last.with_addresses(Some(s.jid.as_str()), Some(contact.as_str())))
            }
            ("unsubscribed", _) => presence(s.jid.as_str(), contact.as_str(), Some("unavailable")),
            _ => Option::None,
        };
        if let Some(p) = out {
            Box::pin(router.route(p)).await;
        }
    }
}

/// The contact's side: a subscription stanza for local user `user`.
async fn inbound_subscription(
    router: &Router,
    from: &BareJid,
    user: &BareJid,
    t: &str,
    stanza: Stanza,
) {
    use Subscription::*;
    let mut it = item(router, user, from).await;
    let before = (it.subscription, it.ask);
    let mut deliver = true;
    match t {
        "subscribe" => {
            if matches!(it.subscription, From | Both) {
                // Already approved: answer for the user (RFC 6121 §3.1.3).
                if let Some(p) = presence(user.as_str(), from.as_str(), Some("subscribed")) {
                    Box::pin(router.route(p)).await;
                }
                return;
            }
            if roster::roster_full(router, user).await.unwrap_or(false)
                && !roster::has_item(router, user, from).await
            {
                let why = "the recipient's contact list is full";
                router
                    .bounce(&stanza, Condition::NotAllowed, Some(why))
                    .await;
                return;
            }
            // Kept until the user answers, and shown again at each login.
            let raw = String::from_utf8_lossy(stanza.bytes()).into_owned();
            if let Err(e) = router
                .store
                .pending_in_add(user.as_str(), from.as_str(), &raw)
                .await
            {
                tracing::error!(error = %e, "storing a subscription request failed");
            }
        }
        "subscribed" => {
            // Unsolicited approvals are ignored (RFC 6121 §3.1.6).
            deliver = it.ask;
            if it.ask {
                it.ask = false;
                it.subscription = match it.subscription {
                    None => To,
                    From => Both,
                    s => s,
                };
            }
        }
        "unsubscribe" => {
            let _ = router
                .store
                .pending_in_remove(user.as_str(), from.as_str())
                .await;
            it.subscription = match it.subscription {
                From => None,
                Both => To,
                s => s,
            };
        }
        "unsubscribed" => {
            it.ask = false;
            it.subscription = match it.subscription {
                To => None,
                Both => From,
                s => s,
            };
        }
        _ => return,
    }
    if (it.subscription, it.ask) != before {
        save(router, user, &it).await;
    }
    if deliver {
        for s in router.table.sessions(user) {
            if s.is_available() {
                router.deliver_to(&s, stanza.clone()).await;
            }
        }
    }
    // A new subscription to a local contact gets its current presence at
    // once; a remote contact's server sends it itself.
    let local_contact = is_local_session(router, &Jid::from(from.clone()));
    if t == "subscribed" && deliver && local_contact {
        if let Ok(contact) = Jid::new(from.as_str()) {
            answer_probe(router, &contact.to_bare(), &Jid::from(user.clone())).await;
        }
    }
}

/// Sends `owner`'s presence to `asker` if `asker` may see it (RFC 6121 §4.3.2).
async fn answer_probe(router: &Router, owner: &BareJid, asker: &Jid) {
    let it = item(router, owner, &asker.to_bare()).await;
    if !matches!(it.subscription, Subscription::From | Subscription::Both) {
        return;
    }
    let mut sent = false;
    for s in router.table.sessions(owner) {
        let last = { s.state().last.clone() };
        if let (true, Some(last)) = (s.is_available(), last) {
            sent = true;
            let p = last.with_addresses(Some(s.jid.as_str()), Some(asker.as_str()));
            Box::pin(router.route(p)).await;
        }
    }
    if !sent {
        if let Some(p) = presence(owner.as_str(), asker.as_str(), Some("unavailable")) {
            Box::pin(router.route(p)).await;
        }
    }
}

/// A client's presence without `to`: update its state and tell everyone
/// entitled to know (RFC 6121 §4.2, §4.4, §4.5).
async fn broadcast(router: &Router, from: &Jid, stanza: Stanza) {
    let Some(session) = local_session(router, from) else {
        return;
    };
    broadcast_for(router, &session, from, stanza).await
}

/// A session ended: it goes unavailable for everyone who saw it (RFC 6121
/// §4.5.1), even though it has already left the session table.
pub async fn session_gone(router: &Router, session: &SessionHandle) {
    if !session.is_available() {
        return;
    }
    let from = Jid::from(session.jid.clone());
    // No `to`: a broadcast, as if the client had sent it.
    let xml = format!(
        "<presence xmlns='jabber:client' from=\"{}\" type='unavailable'/>",
        escape_attr(session.jid.as_str())
    );
    if let Ok(p) = Stanza::parse(xml.into()) {
        broadcast_for(router, session, &from, p).await;
    }
}

async fn broadcast_for(router: &Router, session: &SessionHandle, from: &Jid, stanza: Stanza) {
    let user = from.to_bare();
    let available = stanza.type_().is_none();
    let priority = stanza
        .element()
        .ok()
        .and_then(|el| {
            el.get_child("priority", crate::xml::ns::CLIENT)
                .map(|p| p.text())
        })
        .and_then(|p| p.trim().parse::<i8>().ok())
        .unwrap_or(0);
    let (initial, directed) = {
        let mut st = session.state();
        let initial = available && !st.available;
        st.available = available;
        st.priority = priority;
        st.last = available.then(|| stanza.clone());
        let directed: Vec<String> = if available {
            Vec::new()
        } else {
            st.directed.drain().collect()
        };
        (initial, directed)
    };
    router.account_presence_changed(&user).await;
    let roster = router.store.roster(user.as_str()).await.unwrap_or_default();
    for item in &roster {
        if matches!(item.subscription, Subscription::From | Subscription::Both) {
            let p = stanza.with_addresses(Some(from.as_str()), Some(&item.contact));
            Box::pin(router.route(p)).await;
        }
    }
    for to in directed {
        if let Some(p) = presence(from.as_str(), &to, Some("unavailable")) {
            Box::pin(router.route(p)).await;
        }
    }
    // The user's other resources see this one, and it sees them.
    for other in router.table.sessions(&user) {
        if other.id == session.id {
            continue;
        }
        if other.is_available() {
            router
                .deliver_to(
                    &other,
                    stanza.with_addresses(Some(from.as_str()), Some(other.jid.as_str())),
                )
                .await;
        }
        let last = other.state().last.clone();
        if let (true, Some(last)) = (initial, last) {
            router
                .deliver_to(
                    session,
                    last.with_addresses(Some(other.jid.as_str()), Some(from.as_str())),
                )
                .await;
        }
    }
    if !initial {
        return;
    }
    // Probes: the presence of every contact this user is subscribed to;
    // remote servers answer theirs (RFC 6121 §4.3.1).
    for item in &roster {
        if matches!(item.subscription, Subscription::To | Subscription::Both) {
            let Ok(contact) = BareJid::new(&item.contact) else {
                continue;
            };
            if matches!(router.classify(&Jid::from(contact.clone())), Dest::Remote) {
                if let Some(p) = presence(user.as_str(), contact.as_str(), Some("probe")) {
                    router.to_remote(p).await;
                }
            } else {
                answer_probe(router, &contact, from).await;
            }
        }
    }
    // Subscription requests that arrived while the user was away.
    for (_, raw) in router
        .store
        .pending_in(user.as_str())
        .await
        .unwrap_or_default()
    {
        if let Ok(s) = Stanza::parse(raw.into()) {
            router.deliver_to(session, s).await;
        }
    }
    super::message::deliver_offline(router, session).await;
}
