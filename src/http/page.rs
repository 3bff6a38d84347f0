//! The chat page (`GET /chat?entry=help@…`) and its assets under `/web/`:
//! the widget (`web/widget.js`, `web/widget.css`), Strophe.js
//! (`web/vendor`), and `embed.js`, the one `<script>` tag a company puts on
//! its site. They are compiled into the binary, so the page works on a
//! machine with no internet and nothing installed beside `switchboard`.
//!
//! The page learns where it is from a JSON block the server writes into
//! it: the entry (checked against the entries in force, so a link cannot
//! point the page at an arbitrary JID), the web and support domains, and
//! the paths of the transports and of the visitor token, all relative so
//! that a reverse proxy's public address just works.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::HttpContext;
use crate::session::SessionRouter;

const PAGE: &str = include_str!("../../web/chat.html");

/// The assets, by the name they are served under.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "widget.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/widget.js"),
    ),
    (
        "widget.css",
        "text/css; charset=utf-8",
        include_str!("../../web/widget.css"),
    ),
    (
        "embed.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/embed.js"),
    ),
    (
        "strophe.umd.min.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/vendor/strophe.umd.min.js"),
    ),
    (
        "STROPHE-LICENSE.txt",
        "text/plain; charset=utf-8",
        include_str!("../../web/vendor/STROPHE-LICENSE.txt"),
    ),
];

/// The page's own code, styles and Switchboard's transports; any page for
/// a pushed one (the agent chose it) and images from anywhere (links a
/// customer is sent).
const POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     connect-src 'self' ws: wss: http: https:; img-src 'self' data: http: https:; \
     frame-src http: https:; object-src 'none'; base-uri 'none'; form-action 'self'";

#[derive(Debug, Deserialize)]
pub(super) struct PageQuery {
    entry: Option<String>,
}

/// What the widget reads from the page.
#[derive(Debug, Serialize)]
struct PageConfig<'a> {
    entry: &'a str,
    domain: &'a str,
    support: &'a str,
    title: &'a str,
    websocket: &'a str,
    bosh: &'a str,
    visitor: &'a str,
}

pub(super) async fn chat<R: SessionRouter>(
    State(ctx): State<Arc<HttpContext<R>>>,
    Query(q): Query<PageQuery>,
) -> Response {
    let Some(web) = ctx.settings.web.as_ref() else {
        return (
            StatusCode::NOT_FOUND,
            "this server has no web chat: add a [web] table to switchboard.toml\n",
        )
            .into_response();
    };
    let cfg = ctx.gateway.current();
    let entries: Vec<String> = cfg.routing.entry_jids().map(|j| j.to_string()).collect();
    let entry = match q.entry.as_deref().map(str::trim) {
        None | Some("") => entries.first().cloned(),
        Some(asked) => entries
            .iter()
            .find(|e| e.eq_ignore_ascii_case(asked))
            .cloned(),
    };
    let Some(entry) = entry else {
        let listed = entries.join(", ");
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("no such entry; this server's entries are: {listed}\n"),
        )
            .into_response();
    };
    let config = PageConfig {
        entry: &entry,
        domain: &web.domain,
        support: &ctx.settings.support_domain,
        title: "Chat with us",
        websocket: "/xmpp-websocket",
        bosh: "/http-bind",
        visitor: "/web/visitor",
    };
    let html = PAGE.replace("{{CONFIG}}", &script_safe_json(&config));
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::CONTENT_SECURITY_POLICY, POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        html,
    )
        .into_response()
}

/// JSON that cannot end the `<script>` block it sits in.
fn script_safe_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value)
        .unwrap_or_else(|_| "{}".into())
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

pub(super) async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, kind, body)) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(kind)),
                // Short: a new release's widget reaches visitors soon.
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=300"),
                ),
                (
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ),
                // embed.js runs on the company's site.
                (
                    header::ACCESS_CONTROL_ALLOW_ORIGIN,
                    HeaderValue::from_static("*"),
                ),
            ],
            *body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such file\n").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_cannot_close_its_script_block() {
        let s = script_safe_json(&serde_json::json!({"entry": "</script><script>x()</script>&"}));
        assert!(
            !s.contains('<') && !s.contains('>') && !s.contains('&'),
            "{s}"
        );
        let back: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(back["entry"], "</script><script>x()</script>&");
    }

    #[test]
    fn every_asset_the_page_names_is_served() {
        for name in ["widget.js", "widget.css", "strophe.umd.min.js"] {
            assert!(PAGE.contains(&format!("/web/{name}")), "{name}");
            assert!(ASSETS.iter().any(|(n, _, _)| *n == name), "{name}");
        }
    }
}
