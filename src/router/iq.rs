//! IQ routing (RFC 6120 §8.2.3, RFC 6121 §8.5) and the IQs the server
//! answers itself: disco (XEP-0030), ping (XEP-0199), version (XEP-0092),
//! carbons (XEP-0280), roster (RFC 6121 §2) and the legacy session IQ.

use jid::Jid;
use minidom::Element;

use super::{roster, Dest, DomainInfo, Router};
use crate::xml::Condition;
use crate::xml::{escape_attr, ns, Stanza};

pub async fn route(router: &Router, from: &Jid, to: &Jid, stanza: Stanza) {
    let t = stanza.type_().unwrap_or("");
    let request = matches!(t, "get" | "set");
    if !request && !matches!(t, "result" | "error") {
        return router
            .bounce(&stanza, Condition::BadRequest, Some("unknown iq type"))
            .await;
    }
    if stanza.id().is_none() {
        return router
            .bounce(&stanza, Condition::BadRequest, Some("iq without id"))
            .await;
    }
    match router.classify(to) {
        Dest::Account(bare, Some(res)) => {
            let target = router
                .table
                .sessions(&bare)
                .into_iter()
                .find(|s| s.jid.resource().as_str() == res);
            match target {
                Some(s) => router.deliver_to(&s, stanza).await,
                None if request => {
                    router
                        .bounce(&stanza, Condition::ServiceUnavailable, None)
                        .await
                }
                None => {}
            }
        }
        // A bare JID answers for the account; only the account's own
        // resources may query or change what belongs to it.
        Dest::Account(bare, None) if request => {
            let own = from.to_bare() == bare;
            serve(
                router,
                from,
                stanza,
                if own {
                    Scope::Own
                } else {
                    Scope::OtherAccount(bare)
                },
            )
            .await
        }
        Dest::Server if request => serve(router, from, stanza, Scope::Server).await,
        Dest::HandledDomain(i) if request => {
            serve(router, from, stanza, Scope::Handled(router.domain_info(i))).await
        }
        Dest::Remote => router.to_remote(stanza).await,
        // Results and errors addressed to the server or an account are
        // answers to pings and pushes; nothing waits for them here.
        _ => {}
    }
}

enum Scope<'a> {
    Server,
    /// A handled domain, as its handler describes it.
    Handled(&'a DomainInfo),
    Own,
    OtherAccount(jid::BareJid),
}

fn result(stanza: &Stanza, payload: Option<Element>) -> Option<Stanza> {
    let id = escape_attr(stanza.id().unwrap_or(""));
    // A request without `to` was for the sender's own account (RFC 6120
    // §10.3.3): the answer comes from its bare JID.
    let sender = stanza.from().unwrap_or("");
    let own = sender.split('/').next().unwrap_or("");
    let from = format!(" from=\"{}\"", escape_attr(stanza.to().unwrap_or(own)));
    let to = escape_attr(sender);
    let mut body = Vec::new();
    if let Some(p) = payload {
        p.write_to(&mut body).ok()?;
    }
    let xml = format!(
        "<iq xmlns='jabber:client' type='result' id=\"{id}\"{from} to=\"{to}\">{}</iq>",
        String::from_utf8_lossy(&body)
    );
    Stanza::parse(xml.into()).ok()
}

async fn serve(router: &Router, from: &Jid, stanza: Stanza, scope: Scope<'_>) {
    let el = match stanza.element() {
        Ok(el) => el,
        Err(_) => return router.bounce(&stanza, Condition::BadRequest, None).await,
    };
    let children: Vec<&Element> = el.children().collect();
    let [payload] = children.as_slice() else {
        return router
            .bounce(
                &stanza,
                Condition::BadRequest,
                Some("an iq request carries exactly one payload"),
            )
            .await;
    };
    let get = stanza.type_() == Some("get");
    let answer: Result<Option<Element>, Condition> =
        match (payload.ns().as_str(), payload.name(), get) {
            (ns::DISCO_INFO, "query", true) => disco_info(router, payload, &scope).await,
            (ns::DISCO_ITEMS, "query", true) => match payload.attr("node") {
                Some(_) => Err(Condition::ItemNotFound),
                None => Ok(Some(Element::builder("query", ns::DISCO_ITEMS).build())),
            },
            (ns::PING, "ping", true) => Ok(None),
            (ns::VERSION, "query", true) if matches!(scope, Scope::Server | Scope::Handled(_)) => {
                Ok(Some(version()))
            }
            (ns::ROSTER, "query", _) if matches!(scope, Scope::Own) => {
                return roster::handle(router, from, &stanza, payload, get).await;
            }
            (ns::CARBONS, "enable" | "disable", false)
                if matches!(scope, Scope::Own | Scope::Server) =>
            {
                let on = payload.name() == "enable";
                if let Some(s) = from
                    .try_as_full()
                    .ok()
                    .and_then(|f| router.table.session(f))
                {
                    s.state().carbons = on;
                }
                Ok(None)
            }
            (ns::SESSION, "session", false) => Ok(None),
            (ns::ROSTER | ns::CARBONS, _, _) => Err(Condition::Forbidden),
            // Known, but only for queries (RFC 6120 §8.3.3.5).
            (ns::DISCO_INFO | ns::DISCO_ITEMS | ns::PING | ns::VERSION, _, false) => {
                Err(Condition::FeatureNotImplemented)
            }
            _ => Err(Condition::ServiceUnavailable),
        };
    match answer {
        Ok(payload) => {
            if let Some(reply) = result(&stanza, payload) {
                Box::pin(router.route(reply)).await;
            }
        }
        Err(cond) => router.bounce(&stanza, cond, None).await,
    }
}

async fn disco_info(
    router: &Router,
    query: &Element,
    scope: &Scope<'_>,
) -> Result<Option<Element>, Condition> {
    if query.attr("node").is_some() {
        return Err(Condition::ItemNotFound);
    }
    let (category, kind, name, features): (&str, &str, &str, &[&str]) = match scope {
        Scope::Server => (
            "server",
            "im",
            "Switchboard",
            &[
                ns::DISCO_INFO,
                ns::DISCO_ITEMS,
                ns::PING,
                ns::VERSION,
                ns::CARBONS,
                ns::ROSTER,
                "msgoffline",
                ns::SM,
            ],
        ),
        Scope::Handled(info) => (info.category, info.kind, info.name, info.features),
        Scope::Own => (
            "account",
            "registered",
            "",
            &[ns::DISCO_INFO, ns::DISCO_ITEMS],
        ),
        Scope::OtherAccount(bare) => {
            if !router.account_exists(bare).await {
                return Err(Condition::ServiceUnavailable);
            }
            (
                "account",
                "registered",
                "",
                &[ns::DISCO_INFO, ns::DISCO_ITEMS],
            )
        }
    };
    let mut identity = Element::builder("identity", ns::DISCO_INFO);
    for (k, v) in [("category", category), ("type", kind)] {
        identity = crate::xml::build::BuilderExt::a(identity, k, v);
    }
    if !name.is_empty() {
        identity = crate::xml::build::BuilderExt::a(identity, "name", name);
    }
    let mut q = Element::builder("query", ns::DISCO_INFO).append(identity.build());
    for f in features {
        q = q.append(
            crate::xml::build::BuilderExt::a(
                Element::builder("feature", ns::DISCO_INFO),
                "var",
                *f,
            )
            .build(),
        );
    }
    Ok(Some(q.build()))
}

fn version() -> Element {
    let text = |name: &str, value: &str| {
        Element::builder(name, ns::VERSION)
            .append(value.to_string())
            .build()
    };
    Element::builder("query", ns::VERSION)
        .append(text("name", "Switchboard"))
        .append(text("version", env!("CARGO_PKG_VERSION")))
        .append(text("os", std::env::consts::OS))
        .build()
}
