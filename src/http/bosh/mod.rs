//! XEP-0124 BOSH carrying XMPP (XEP-0206) at `/http-bind`. A session is
//! one c2s stream ([`crate::stream::c2s::serve_connection`] with
//! `Connection::Framed`) whose bytes are the payloads of the client's
//! requests ([`io::BoshIo`]); the request window, holding, replays and
//! acknowledgements are [`session`]'s, the `<body/>` wrapper [`body`]'s.
//!
//! Errors follow XEP-0124 §17: a terminal binding condition in a `<body
//! type='terminate'/>`. For a session whose client sent `ver` it comes
//! with HTTP 200; for a legacy client, and whenever no session is known
//! (an unknown `sid`, a body that cannot be read), with the legacy HTTP
//! status as well (400, 403, 404; 413 for a body over the size limit and
//! 429 for too many streams from one address): Strophe (converse.js)
//! ends its session on any 4xx instead of retrying, and a full client
//! still finds the condition in the body.

mod body;
mod io;
mod session;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use tokio::time::Instant;
use tracing::{debug, info};

use self::body::{Answer, Refusal};
use self::session::{Outcome, Over, Session, Terms};
use super::{Client, HttpContext};
use crate::session::SessionRouter;
use crate::stream::c2s::{self, Connection};
use crate::xml::framing::stream_header;
use crate::xml::StreamHeader;

/// What a body may hold beyond the largest stanza: the wrapper's tag.
const FRAMING_SLACK: usize = 1024;

/// The open sessions, by `sid`.
#[derive(Clone, Default)]
pub(super) struct Sessions(Arc<Mutex<HashMap<String, Arc<Session>>>>);

impl Sessions {
    fn get(&self, sid: &str) -> Option<Arc<Session>> {
        self.0.lock().expect("BOSH sessions").get(sid).cloned()
    }

    fn insert(&self, s: Arc<Session>) {
        let sid = s.terms.sid.clone();
        self.0.lock().expect("BOSH sessions").insert(sid, s);
    }

    fn remove(&self, sid: &str) {
        self.0.lock().expect("BOSH sessions").remove(sid);
    }
}

/// `POST /http-bind`.
pub(super) async fn request<R: SessionRouter>(
    State(ctx): State<Arc<HttpContext<R>>>,
    Extension(client): Extension<Client>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let limit = ctx.settings.limits.max_stanza_bytes + FRAMING_SLACK;
    let answer = match read_limited(&headers, body, limit).await {
        Ok(bytes) => take(&ctx, client, bytes).await,
        Err(Unread::TooLarge) => {
            info!(client = %client.addr, limit, "BOSH body over the size limit refused");
            Refusal::PolicyViolation.answer(StatusCode::PAYLOAD_TOO_LARGE)
        }
        Err(Unread::Broken(e)) => {
            debug!(client = %client.addr, error = %e, "BOSH request body unreadable");
            Refusal::BadRequest.answer(StatusCode::BAD_REQUEST)
        }
    };
    respond(answer)
}

/// `OPTIONS /http-bind`: the CORS preflight of a page on another origin
/// (its POST has `Content-Type: text/xml`). No cookies or credentials are
/// used, so any origin may.
pub(super) async fn preflight(headers: HeaderMap) -> Response {
    let asked = headers
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .cloned()
        .unwrap_or(HeaderValue::from_static("content-type"));
    (
        StatusCode::NO_CONTENT,
        [
            (
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            ),
            (
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("POST, GET, OPTIONS"),
            ),
            (header::ACCESS_CONTROL_ALLOW_HEADERS, asked),
            (
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("86400"),
            ),
        ],
    )
        .into_response()
}

/// `GET /http-bind`: says what is here.
pub(super) async fn info() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        "XMPP over BOSH (XEP-0124, XEP-0206): POST a <body/> here.\n",
    )
        .into_response()
}

fn respond(a: Answer) -> Response {
    (
        a.status,
        [
            (header::CONTENT_TYPE, "text/xml; charset=utf-8"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        a.body,
    )
        .into_response()
}

enum Unread {
    TooLarge,
    Broken(axum::Error),
}

/// The request's bytes, refused as soon as they pass `limit` (at once when
/// `Content-Length` says so): an oversized body is never read whole.
async fn read_limited(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, Unread> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(Unread::TooLarge);
    }
    let mut buf = BytesMut::new();
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(Unread::Broken)?;
        if buf.len() + chunk.len() > limit {
            return Err(Unread::TooLarge);
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// One request's body, read: a new session, or a request of one.
async fn take<R: SessionRouter>(ctx: &Arc<HttpContext<R>>, client: Client, bytes: Bytes) -> Answer {
    let req = match body::parse(&bytes) {
        Ok(r) => r,
        Err(e) => {
            info!(client = %client.addr, error = %e, "BOSH request refused: bad-request");
            return Refusal::BadRequest.answer(StatusCode::BAD_REQUEST);
        }
    };
    let payload = bytes.slice(req.payload.clone());
    let Some(sid) = req.sid.clone() else {
        return create(ctx, client, req).await;
    };
    let Some(session) = ctx.bosh.get(&sid) else {
        info!(client = %client.addr, %sid, "BOSH request for an unknown session: item-not-found");
        return Refusal::ItemNotFound.answer(StatusCode::NOT_FOUND);
    };
    let rid = req.rid;
    if !payload.is_empty() {
        session.room().await;
    }
    match session.request(req, payload, Instant::now()) {
        Outcome::Now(a) => a,
        Outcome::Held { rid, rx } => wait_for(&session, rid, rx).await,
        Outcome::Ended(why, a) => {
            info!(client = %client.addr, %sid, ?rid, condition = why.condition(),
                  "BOSH session ended by a bad request");
            ctx.bosh.remove(&sid);
            a
        }
    }
}

/// A held request's answer: data, or an empty body when `wait` passes.
async fn wait_for(
    session: &Session,
    rid: u64,
    mut rx: tokio::sync::oneshot::Receiver<Answer>,
) -> Answer {
    // A replay of this rid took the request's place: this one's
    // connection is most likely gone, and nothing is lost by an empty body.
    let replaced = || Answer {
        status: StatusCode::OK,
        body: body::render(&[], b"").into(),
    };
    match tokio::time::timeout(session.terms.wait, &mut rx).await {
        Ok(a) => a.unwrap_or_else(|_| replaced()),
        Err(_) => {
            if let Some((why, a)) = session.expire(rid, Instant::now()) {
                info!(sid = %session.terms.sid, rid, condition = why.condition(),
                      "BOSH request waited for an earlier rid that never came");
                return a;
            }
            rx.await.unwrap_or_else(|_| replaced())
        }
    }
}

/// A session creation request (XEP-0124 §7, XEP-0206 §5): the session and
/// its stream, whose first features the answer carries.
async fn create<R: SessionRouter>(
    ctx: &Arc<HttpContext<R>>,
    client: Client,
    req: body::Request,
) -> Answer {
    let Some(rid) = req.rid else {
        info!(client = %client.addr, "BOSH session request without a rid: bad-request");
        return Refusal::BadRequest.answer(StatusCode::BAD_REQUEST);
    };
    let Some(slot) = ctx.streams_per_address.take(client.addr) else {
        info!(client = %client.addr, "too many web streams from one address: BOSH session refused");
        return Refusal::PolicyViolation.answer(StatusCode::TOO_MANY_REQUESTS);
    };
    let http = &ctx.settings.http;
    let wait = Duration::from_secs(req.wait.unwrap_or(u64::MAX)).min(http.bosh_max_wait);
    let header = stream_header(&StreamHeader {
        to: req.to.clone(),
        version: Some(req.xmpp_version.clone().unwrap_or_else(|| "1.0".into())),
        lang: req.lang.clone(),
        ..StreamHeader::default()
    });
    let terms = Terms {
        sid: crate::util::random_id(32),
        domain: req.to.clone().unwrap_or_default(),
        wait,
        hold: req.hold.unwrap_or(1).min(1) as usize,
        inactivity: http.bosh_inactivity,
        versioned: req.ver.is_some(),
        acks: req.ack.is_some(),
        header,
    };
    let sid = terms.sid.clone();
    let session = Arc::new(Session::new(terms, rid, Instant::now()));
    ctx.bosh.insert(session.clone());
    info!(client = %client.addr, %sid, "BOSH session created");
    let max = ctx.settings.limits.max_stanza_bytes + FRAMING_SLACK;
    let io = io::BoshIo::new(session.clone(), ctx.bosh.clone(), slot, max);
    let conn = Connection::Framed {
        io: Box::new(io),
        secure: client.secure,
        transport: "bosh",
    };
    let (streams, sessions) = (ctx.streams.clone(), ctx.sessions.clone());
    let tasks = &ctx.streams.tasks;
    tasks.spawn(c2s::serve_connection(
        streams,
        sessions,
        conn,
        client.addr_port(),
    ));
    tasks.spawn(watch(
        session.clone(),
        ctx.bosh.clone(),
        ctx.streams.shutdown.clone(),
    ));
    match session.request(req, Bytes::new(), Instant::now()) {
        Outcome::Now(a) | Outcome::Ended(_, a) => a,
        Outcome::Held { rid, rx } => wait_for(&session, rid, rx).await,
    }
}

/// Ends the session when no request was held for `inactivity` (XEP-0124
/// §10): its stream reads the end of its connection, so the session layer
/// does what it does when TCP drops (XEP-0198 resumption stays possible).
/// Forgets the session once it is over.
async fn watch(
    session: Arc<Session>,
    sessions: Sessions,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let inactivity = session.terms.inactivity;
    loop {
        let now = Instant::now();
        let wake = {
            let mut st = session.lock();
            if st.over.is_some() {
                break;
            }
            match st.idle_since {
                Some(t) if t + inactivity <= now => {
                    info!(sid = %session.terms.sid, secs = inactivity.as_secs(),
                          "BOSH session inactive: its stream ends as if its connection dropped");
                    session.end(&mut st, Over::Inactive);
                    break;
                }
                Some(t) => t + inactivity,
                None => now + inactivity,
            }
        };
        tokio::select! {
            _ = tokio::time::sleep_until(wake) => {}
            _ = session.ended.notified() => {}
            _ = shutdown.cancelled() => break,
        }
    }
    sessions.remove(&session.terms.sid);
}
