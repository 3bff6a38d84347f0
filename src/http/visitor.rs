//! `POST /web/visitor`: a token for a visitor the chat page has not seen,
//! which logs them in on the web domain with SASL PLAIN as the same JID
//! until it expires ([`crate::stream::web_login`]). The page keeps it, so
//! a reload, or the visitor's return, is the same customer.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::HttpContext;
use crate::session::SessionRouter;

pub(super) async fn mint<R: SessionRouter>(State(ctx): State<Arc<HttpContext<R>>>) -> Response {
    let Some(keys) = ctx.streams.web.as_ref() else {
        return (
            StatusCode::NOT_FOUND,
            "this server has no web chat domain\n",
        )
            .into_response();
    };
    let now = crate::util::now_ms() / 1000;
    let visitor = keys.mint_visitor(now as u64);
    (
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        Json(visitor),
    )
        .into_response()
}
