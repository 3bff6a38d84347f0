//! Roster management (RFC 6121 §2): get with versioning (XEP-0237), set,
//! remove, and pushes to every interested resource.

use jid::{BareJid, Jid};
use minidom::Element;

use super::Router;
use crate::store::{RosterItem, Subscription};
use crate::xml::build::BuilderExt;
use crate::xml::Condition;
use crate::xml::{escape_attr, ns, Stanza};

/// Longest name and group a roster item may carry (RFC 6121 §2.1.2.4 lets
/// the server choose; this keeps one item well under a stanza's limit).
const MAX_TEXT: usize = 1024;

pub fn item_element(item: &RosterItem) -> Element {
    let mut b = Element::builder("item", ns::ROSTER)
        .a("jid", item.contact.as_str())
        .a("subscription", item.subscription.as_str());
    if let Some(n) = &item.name {
        b = b.a("name", n.as_str());
    }
    if item.ask {
        b = b.a("ask", "subscribe");
    }
    for g in &item.groups {
        b = b.append(
            Element::builder("group", ns::ROSTER)
                .append(g.clone())
                .build(),
        );
    }
    b.build()
}

fn store_err(e: impl std::fmt::Display) -> Condition {
    tracing::error!(error = %e, "roster storage failed");
    Condition::InternalServerError
}

pub async fn handle(router: &Router, from: &Jid, stanza: &Stanza, query: &Element, get: bool) {
    let owner = from.to_bare();
    let outcome = if get {
        get_roster(router, from, query).await
    } else {
        set_roster(router, &owner, query).await
    };
    match outcome {
        Ok(payload) => {
            let mut body = Vec::new();
            if let Some(p) = payload {
                let _ = p.write_to(&mut body);
            }
            let xml = format!(
                "<iq xmlns='jabber:client' type='result' id=\"{}\" from=\"{}\" to=\"{}\">{}</iq>",
                escape_attr(stanza.id().unwrap_or("")),
                escape_attr(owner.as_str()),
                escape_attr(from.as_str()),
                String::from_utf8_lossy(&body)
            );
            if let Ok(reply) = Stanza::parse(xml.into()) {
                Box::pin(router.route(reply)).await;
            }
        }
        Err(cond) => router.bounce(stanza, cond, None).await,
    }
}

async fn get_roster(
    router: &Router,
    from: &Jid,
    query: &Element,
) -> Result<Option<Element>, Condition> {
    let owner = from.to_bare();
    if let Some(s) = from
        .try_as_full()
        .ok()
        .and_then(|f| router.table.session(f))
    {
        s.state().interested = true;
    }
    let ver = router
        .store
        .roster_version(owner.as_str())
        .await
        .map_err(store_err)?
        .to_string();
    // XEP-0237: an unchanged roster is answered with an empty result.
    if query.attr("ver") == Some(ver.as_str()) {
        return Ok(None);
    }
    let items = router
        .store
        .roster(owner.as_str())
        .await
        .map_err(store_err)?;
    let mut q = Element::builder("query", ns::ROSTER).a("ver", ver.as_str());
    for item in &items {
        q = q.append(item_element(item));
    }
    Ok(Some(q.build()))
}

async fn set_roster(
    router: &Router,
    owner: &BareJid,
    query: &Element,
) -> Result<Option<Element>, Condition> {
    let items: Vec<&Element> = query
        .children()
        .filter(|c| c.is("item", ns::ROSTER))
        .collect();
    let [item] = items.as_slice() else {
        return Err(Condition::BadRequest);
    };
    let contact = item
        .attr("jid")
        .and_then(|j| BareJid::new(j).ok())
        .ok_or(Condition::BadRequest)?;
    let existing = router
        .store
        .roster_item(owner.as_str(), contact.as_str())
        .await
        .map_err(store_err)?;
    match item.attr("subscription") {
        Some("remove") => {
            let Some(old) = existing else {
                return Err(Condition::ItemNotFound);
            };
            router
                .store
                .roster_remove(owner.as_str(), contact.as_str())
                .await
                .map_err(store_err)?;
            router
                .store
                .pending_in_remove(owner.as_str(), contact.as_str())
                .await
                .map_err(store_err)?;
            // RFC 6121 §2.5.2: cancel both directions of the subscription.
            let mut notices = Vec::new();
            if matches!(old.subscription, Subscription::To | Subscription::Both) || old.ask {
                notices.push("unsubscribe");
            }
            if matches!(old.subscription, Subscription::From | Subscription::Both) {
                notices.push("unsubscribed");
            }
            for t in notices {
                let xml = format!(
                    "<presence xmlns='jabber:client' from=\"{}\" to=\"{}\" type='{t}'/>",
                    escape_attr(owner.as_str()),
                    escape_attr(contact.as_str())
                );
                if let Ok(s) = Stanza::parse(xml.into()) {
                    Box::pin(router.route(s)).await;
                }
            }
            let removed = RosterItem {
                contact: contact.to_string(),
                name: None,
                subscription: Subscription::None,
                ask: false,
                groups: Vec::new(),
            };
            push(router, owner, &removed, true).await;
        }
        None | Some("none" | "to" | "from" | "both") => {
            let name = item
                .attr("name")
                .filter(|n| !n.is_empty())
                .map(str::to_string);
            let mut groups: Vec<String> = item
                .children()
                .filter(|c| c.is("group", ns::ROSTER))
                .map(|g| g.text())
                .collect();
            if groups.iter().any(|g| g.is_empty() || g.len() > MAX_TEXT)
                || name.as_ref().is_some_and(|n| n.len() > MAX_TEXT)
            {
                return Err(Condition::NotAcceptable);
            }
            groups.sort();
            groups.dedup();
            if existing.is_none() && roster_full(router, owner).await? {
                return Err(Condition::NotAllowed);
            }
            // The client may change name and groups; subscription state is
            // the server's (RFC 6121 §2.1.2.5).
            let mut updated = existing.unwrap_or(RosterItem {
                contact: contact.to_string(),
                name: None,
                subscription: Subscription::None,
                ask: false,
                groups: Vec::new(),
            });
            updated.name = name;
            updated.groups = groups;
            router
                .store
                .roster_upsert(owner.as_str(), &updated)
                .await
                .map_err(store_err)?;
            push(router, owner, &updated, false).await;
        }
        Some(_) => return Err(Condition::BadRequest),
    }
    Ok(None)
}

/// Whether `owner` has as many roster items and pending requests as
/// `[limits] roster_items` allows: a new contact is then refused, so
/// that no client (or flood of subscription requests) grows a roster,
/// and every login's roster fetch, without bound.
pub async fn roster_full(router: &Router, owner: &BareJid) -> Result<bool, Condition> {
    let size = router
        .store
        .roster_size(owner.as_str())
        .await
        .map_err(store_err)?;
    Ok(size >= router.settings.limits.roster_items as i64)
}

/// Whether `contact` is in `owner`'s roster already (a store error
/// counts as yes: the cap is not worth refusing a known contact).
pub async fn has_item(router: &Router, owner: &BareJid, contact: &BareJid) -> bool {
    let item = router.store.roster_item(owner.as_str(), contact.as_str());
    !matches!(item.await, Ok(None))
}

/// Sends a roster push to each interested resource of `owner`.
pub async fn push(router: &Router, owner: &BareJid, item: &RosterItem, removed: bool) {
    let ver = router
        .store
        .roster_version(owner.as_str())
        .await
        .unwrap_or(0)
        .to_string();
    let mut el = item_element(item);
    if removed {
        crate::xml::build::set_attr(&mut el, "subscription", "remove");
        el.attrs_mut()
            .remove(&minidom::rxml::Namespace::NONE, "ask");
    }
    let mut body = Vec::new();
    let _ = Element::builder("query", ns::ROSTER)
        .a("ver", ver.as_str())
        .append(el)
        .build()
        .write_to(&mut body);
    let body = String::from_utf8_lossy(&body);
    for s in router.table.sessions(owner) {
        if !s.state().interested {
            continue;
        }
        let xml = format!(
            "<iq xmlns='jabber:client' type='set' id='push-{}' from=\"{}\" to=\"{}\">{body}</iq>",
            crate::util::random_id(10),
            escape_attr(owner.as_str()),
            escape_attr(s.jid.as_str())
        );
        if let Ok(st) = Stanza::parse(xml.into()) {
            router.deliver_to(&s, st).await;
        }
    }
}
