//! IQ routing (RFC 6120 §8.2.3, RFC 6121 §8.5) and the IQs the server
//! answers itself: disco (XEP-0030), ping (XEP-0199), version (XEP-0092),
//! carbons (XEP-0280), roster (RFC 6121 §2) and the legacy session IQ.
//! Ad-hoc commands (XEP-0050) sent to the agent domain go to the handled
//! domain that runs them (see [`DomainInfo::agent_domain_commands`]).

use jid::Jid;
use minidom::Element;

use super::{roster, Dest, DomainInfo, DomainService, Handed, Router};
use crate::xml::build::BuilderExt;
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
                None => tracing::debug!(to = %to, "an iq answer for a resource that is gone"),
            }
        }
        // A bare JID answers for the account; only the account's own
        // resources may query or change what belongs to it.
        Dest::Account(bare, None) if request => {
            let own = from.to_bare() == bare;
            serve(
                router,
                (from, to),
                stanza,
                if own {
                    Scope::Own
                } else {
                    Scope::OtherAccount(bare)
                },
            )
            .await
        }
        Dest::Server if request => serve(router, (from, to), stanza, Scope::Server).await,
        Dest::HandledDomain(i) if request => {
            let scope = Scope::Handled(router.domain_info(i));
            serve(router, (from, to), stanza, scope).await
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

async fn serve(router: &Router, (from, to): (&Jid, &Jid), stanza: Stanza, scope: Scope<'_>) {
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
    if matches!(scope, Scope::Server) {
        if let Some(i) = commands_handler(router, payload, get) {
            let (from, to) = (from.clone(), to.clone());
            return router.domains[i]
                .hand(Handed::stanza(stanza, from, to))
                .await;
        }
    }
    let answer: Result<Option<Element>, Condition> =
        match (payload.ns().as_str(), payload.name(), get) {
            (ns::DISCO_INFO, "query", true) => disco_info(router, payload, &scope).await,
            (ns::DISCO_ITEMS, "query", true) => match (payload.attr("node"), &scope) {
                (Some(_), _) => Err(Condition::ItemNotFound),
                (None, Scope::Server) => Ok(Some(domain_items(router))),
                (None, _) => Ok(Some(Element::builder("query", ns::DISCO_ITEMS).build())),
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
            // XEP-0050's answer to a command node that nobody runs here.
            (ns::COMMANDS, "command", false) if matches!(scope, Scope::Server) => {
                Err(Condition::ItemNotFound)
            }
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
    let server: Vec<&str>;
    let no_services = Vec::new();
    let mut services = &no_services;
    let (category, kind, name, features): (&str, &str, &str, &[&str]) = match scope {
        Scope::Server => {
            server = SERVER_FEATURES
                .iter()
                .copied()
                .chain(runs_commands(router).then_some(ns::COMMANDS))
                .collect();
            ("server", "im", "Switchboard", server.as_slice())
        }
        Scope::Handled(info) => {
            services = &info.services;
            (info.category, info.kind, info.name, info.features)
        }
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
    let identity = |category: &str, kind: &str, name: &str| {
        let mut identity = Element::builder("identity", ns::DISCO_INFO)
            .a("category", category)
            .a("type", kind);
        if !name.is_empty() {
            identity = identity.a("name", name);
        }
        identity.build()
    };
    let mut q = Element::builder("query", ns::DISCO_INFO).append(identity(category, kind, name));
    for s in services {
        q = q.append(identity(s.category, s.kind, s.name));
    }
    let all = features
        .iter()
        .copied()
        .chain(services.iter().map(|s| s.feature));
    for f in all {
        q = q.append(
            Element::builder("feature", ns::DISCO_INFO)
                .a("var", f)
                .build(),
        );
    }
    for s in services.iter().filter(|s| !s.fields.is_empty()) {
        q = q.append(service_form(s));
    }
    Ok(Some(q.build()))
}

/// XEP-0128: a service's extended information, a result form whose
/// `FORM_TYPE` is its feature.
fn service_form(s: &DomainService) -> Element {
    let field = |var: &str, value: &str, hidden: bool| {
        let mut f = Element::builder("field", ns::DATA).a("var", var);
        if hidden {
            f = f.a("type", "hidden");
        }
        f.append(
            Element::builder("value", ns::DATA)
                .append(value.to_string())
                .build(),
        )
        .build()
    };
    let mut x = Element::builder("x", ns::DATA)
        .a("type", "result")
        .append(field("FORM_TYPE", s.feature, true));
    for (var, value) in &s.fields {
        x = x.append(field(var, value, false));
    }
    x.build()
}

const SERVER_FEATURES: &[&str] = &[
    ns::DISCO_INFO,
    ns::DISCO_ITEMS,
    ns::PING,
    ns::VERSION,
    ns::CARBONS,
    ns::ROSTER,
    "msgoffline",
    ns::SM,
];

/// Whether a handled domain runs commands for the agent domain.
fn runs_commands(router: &Router) -> bool {
    router
        .domains
        .iter()
        .any(|h| !h.policy.info().agent_domain_commands.is_empty())
}

/// The handled domain that answers an XEP-0050 request to the agent
/// domain: the command list (asked with `get`) from the first domain that
/// runs commands here (one list, one answer: there is one such domain, the
/// support domain), a command (`set`) from the domain that lists its node.
fn commands_handler(router: &Router, payload: &Element, get: bool) -> Option<usize> {
    let commands = |i: usize| router.domains[i].policy.info().agent_domain_commands;
    let n = router.domains.len();
    if get && payload.is("query", ns::DISCO_ITEMS) {
        if payload.attr("node") != Some(ns::COMMANDS) {
            return None;
        }
        return (0..n).find(|&i| !commands(i).is_empty());
    }
    if !get && payload.is("command", ns::COMMANDS) {
        let node = payload.attr("node")?;
        return (0..n).find(|&i| commands(i).contains(&node));
    }
    None
}

/// The agent domain's items: the handled domains, so that a client
/// browsing its server finds the support domain (and what it announces,
/// such as its commands).
fn domain_items(router: &Router) -> Element {
    let mut q = Element::builder("query", ns::DISCO_ITEMS);
    for h in &router.domains {
        let item = Element::builder("item", ns::DISCO_ITEMS)
            .a("jid", h.domain.as_str())
            .a("name", h.policy.info().name);
        q = q.append(item.build());
    }
    q.build()
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
