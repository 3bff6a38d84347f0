//! One BOSH session (XEP-0124): its request window on one side, the XMPP
//! stream's bytes on the other ([`super::io::BoshIo`] reads and writes
//! them), under one lock that no `.await` is held across.
//!
//! Requests are taken in `rid` order (one that arrives early waits for
//! the ones before it), at most `hold` are kept waiting for data, and each
//! answer is kept for replays until acknowledged (or, without `ack`s,
//! until `requests` newer ones were answered).

use std::collections::{BTreeMap, VecDeque};
use std::task::Waker;
use std::time::Duration;

use axum::http::StatusCode;
use bytes::{Bytes, BytesMut};
use tokio::sync::oneshot;
use tokio::time::Instant;
use tracing::debug;

use super::body::{self, terminated, Answer, Refusal, Request};

/// The client's bytes the stream may have unread before a request with a
/// payload waits for it to read them.
pub const INBOUND_LIMIT: usize = 256 * 1024;
/// Answers kept for replays, at most, even when the client never acks.
const MAX_KEPT: usize = 8;
/// A response the client has not acknowledged after this long is reported
/// (XEP-0124 §9.2: `report` and `time`).
const REPORT_AFTER: Duration = Duration::from_secs(2);

/// What a request comes to.
pub enum Outcome {
    Now(Answer),
    /// Held (or waiting for an earlier rid): the answer comes on `rx`; if
    /// `wait` passes first, [`Session::expire`] with `rid`.
    Held {
        rid: u64,
        rx: oneshot::Receiver<Answer>,
    },
    /// The session ends with this answer (a refusal): logged by the caller.
    Ended(Refusal, Answer),
}

/// The session's fixed terms, as answered at creation.
pub struct Terms {
    pub sid: String,
    pub domain: String,
    pub wait: Duration,
    pub hold: usize,
    pub inactivity: Duration,
    /// The client sent `ver`: errors are terminal bodies with HTTP 200.
    pub versioned: bool,
    /// The client acknowledges responses (`ack='1'` at creation).
    pub acks: bool,
    /// The stream header a restart injects.
    pub header: String,
}

impl Terms {
    pub fn requests(&self) -> usize {
        self.hold + 1
    }
}

struct Waiting {
    rid: u64,
    tx: oneshot::Sender<Answer>,
}

/// A request that arrived before an earlier rid.
struct Early {
    req: Request,
    payload: Bytes,
    tx: oneshot::Sender<Answer>,
}

struct Sent {
    rid: u64,
    body: Bytes,
    at: Instant,
}

/// Why the session is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Over {
    /// The client terminated it, or an answer said `terminate`.
    Terminated,
    Inactive,
    Refused,
}

/// The lock's contents.
pub struct State {
    next_rid: u64,
    creation_rid: u64,
    created: bool,
    held: VecDeque<Waiting>,
    early: BTreeMap<u64, Early>,
    sent: VecDeque<Sent>,
    client_ack: u64,
    report: Option<(u64, u64)>,
    /// Since when no request is held (inactivity counts from there).
    pub idle_since: Option<Instant>,
    pub over: Option<Over>,
    // The stream's side.
    pub inbound: BytesMut,
    pub read_waker: Option<Waker>,
    pub write_waker: Option<Waker>,
    /// Elements the server wrote, not yet in a response.
    pub queue: Vec<u8>,
    pub authid: Option<String>,
    /// A `<stream:error/>` is in the queue.
    pub stream_error: bool,
    /// The server ended the stream: the next answer terminates.
    pub closed: bool,
}

/// One session: its terms and its state.
pub struct Session {
    pub terms: Terms,
    pub state: std::sync::Mutex<State>,
    /// Told when the session ends, so that it is forgotten at once.
    pub ended: tokio::sync::Notify,
    /// Told when the stream has read the client's bytes down to
    /// [`INBOUND_LIMIT`] (or the session ended).
    pub drained: tokio::sync::Notify,
}

impl Session {
    /// A session whose creation request had `rid`; the stream begins with
    /// `header`.
    pub fn new(terms: Terms, rid: u64, now: Instant) -> Session {
        let state = State {
            next_rid: rid,
            creation_rid: rid,
            created: false,
            held: VecDeque::new(),
            early: BTreeMap::new(),
            sent: VecDeque::new(),
            client_ack: 0,
            report: None,
            idle_since: Some(now),
            over: None,
            inbound: BytesMut::from(terms.header.as_bytes()),
            read_waker: None,
            write_waker: None,
            queue: Vec::new(),
            authid: None,
            stream_error: false,
            closed: false,
        };
        Session {
            terms,
            state: std::sync::Mutex::new(state),
            ended: tokio::sync::Notify::new(),
            drained: tokio::sync::Notify::new(),
        }
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("BOSH session")
    }

    fn refuse(&self, st: &mut State, why: Refusal) -> Outcome {
        let status = if self.terms.versioned {
            StatusCode::OK
        } else {
            why.legacy_status()
        };
        self.end(st, Over::Refused);
        Outcome::Ended(why, why.answer(status))
    }

    /// Ends the session: the stream reads its end, every held request is
    /// answered `terminate`.
    pub fn end(&self, st: &mut State, why: Over) {
        if st.over.is_some() {
            return;
        }
        st.over = Some(why);
        self.ended.notify_one();
        self.drained.notify_waiters();
        let early = std::mem::take(&mut st.early).into_values().map(|e| e.tx);
        let waiting: Vec<_> = st.held.drain(..).map(|w| w.tx).chain(early).collect();
        for tx in waiting {
            let _ = tx.send(terminated());
        }
        if why != Over::Terminated {
            // The stream loses its connection, as when TCP drops: what the
            // client sent last and the stream did not read yet goes too.
            st.inbound.clear();
        }
        if let Some(w) = st.read_waker.take() {
            w.wake();
        }
        if let Some(w) = st.write_waker.take() {
            w.wake();
        }
    }

    /// Waits while the stream has more of the client's bytes unread than
    /// [`INBOUND_LIMIT`]: a slow reader (its sender's queue full) slows the
    /// client down, as a TCP connection would, instead of buffering.
    pub async fn room(&self) {
        loop {
            let drained = self.drained.notified();
            tokio::pin!(drained);
            drained.as_mut().enable();
            {
                let st = self.lock();
                if st.inbound.len() <= INBOUND_LIMIT || st.over.is_some() {
                    return;
                }
            }
            drained.await;
        }
    }

    /// Takes a request of this session.
    pub fn request(&self, req: Request, payload: Bytes, now: Instant) -> Outcome {
        let mut st = self.lock();
        if st.over.is_some() {
            return Outcome::Now(Refusal::ItemNotFound.answer(StatusCode::NOT_FOUND));
        }
        let Some(rid) = req.rid else {
            return self.refuse(&mut st, Refusal::BadRequest);
        };
        if self.terms.acks {
            if let Some(ack) = req.ack {
                self.acknowledged(&mut st, ack, now);
            }
        }
        if rid < st.next_rid {
            // A replay (§14.3): the answer again, or the new connection
            // waits in the old one's place.
            if let Some(s) = st.sent.iter().find(|s| s.rid == rid) {
                return Outcome::Now(Answer {
                    status: StatusCode::OK,
                    body: s.body.clone(),
                });
            }
            if let Some(w) = st.held.iter_mut().find(|w| w.rid == rid) {
                let (tx, rx) = oneshot::channel();
                w.tx = tx;
                return Outcome::Held { rid, rx };
            }
            return self.refuse(&mut st, Refusal::ItemNotFound);
        }
        if let Some(e) = st.early.get_mut(&rid) {
            let (tx, rx) = oneshot::channel();
            e.tx = tx;
            return Outcome::Held { rid, rx };
        }
        if rid >= st.next_rid + self.terms.requests() as u64 {
            return self.refuse(&mut st, Refusal::ItemNotFound);
        }
        // §11: more requests at once than `requests` (a terminate may be
        // one more).
        if st.held.len() + st.early.len() >= self.terms.requests() && !req.terminate {
            return self.refuse(&mut st, Refusal::PolicyViolation);
        }
        let (tx, rx) = oneshot::channel();
        if rid > st.next_rid {
            debug!(sid = %self.terms.sid, "BOSH rid={rid} ahead of its turn: waits for the ones before it");
            st.early.insert(rid, Early { req, payload, tx });
            st.idle_since = None;
            return Outcome::Held { rid, rx };
        }
        self.take(&mut st, req, payload, tx, now);
        loop {
            let next = st.next_rid;
            let Some(e) = st.early.remove(&next) else {
                break;
            };
            self.take(&mut st, e.req, e.payload, e.tx, now);
        }
        Outcome::Held { rid, rx }
    }

    /// The client has the responses up to `ack` (§9.2).
    fn acknowledged(&self, st: &mut State, ack: u64, now: Instant) {
        st.client_ack = st.client_ack.max(ack);
        let upto = st.client_ack;
        st.sent.retain(|s| s.rid > upto);
        if let Some(first) = st.sent.front() {
            if first.rid == ack + 1 && now.duration_since(first.at) >= REPORT_AFTER {
                let ms = now.duration_since(first.at).as_millis() as u64;
                st.report = Some((first.rid, ms));
            }
        }
    }

    /// The request next in rid order: its payload goes to the stream, and
    /// it waits for data.
    fn take(
        &self,
        st: &mut State,
        req: Request,
        payload: Bytes,
        tx: oneshot::Sender<Answer>,
        now: Instant,
    ) {
        let rid = st.next_rid;
        st.next_rid += 1;
        st.idle_since = None;
        if req.restart {
            st.inbound.extend_from_slice(self.terms.header.as_bytes());
        }
        st.inbound.extend_from_slice(&payload);
        if req.terminate {
            st.inbound.extend_from_slice(b"</stream:stream>");
            let _ = tx.send(terminated());
            self.end(st, Over::Terminated);
            return;
        }
        if let Some(w) = st.read_waker.take() {
            w.wake();
        }
        st.held.push_back(Waiting { rid, tx });
        debug!(sid = %self.terms.sid, "BOSH rid={rid} held");
        while st.held.len() > self.terms.hold {
            self.answer_oldest(st, now);
        }
        if !st.queue.is_empty() || st.closed || st.report.is_some() {
            self.answer_oldest(st, now);
        }
    }

    /// Answers held requests because the stream has something for them.
    pub fn deliver(&self, st: &mut State, now: Instant) {
        if st.over.is_some() {
            return;
        }
        // The creation response carries the first features, not less.
        if st.queue.is_empty() && !st.closed {
            return;
        }
        while !st.held.is_empty() {
            self.answer_oldest(st, now);
            if !st.closed {
                break;
            }
        }
    }

    /// The held request `rid` waited `wait`: it is answered (with the
    /// older ones, in order). One that still waits for an earlier rid
    /// ends the session: that request was lost (§14.2).
    pub fn expire(&self, rid: u64, now: Instant) -> Option<(Refusal, Answer)> {
        let mut st = self.lock();
        if st.early.contains_key(&rid) {
            return match self.refuse(&mut st, Refusal::ItemNotFound) {
                Outcome::Ended(why, a) => Some((why, a)),
                _ => None,
            };
        }
        while st.held.front().is_some_and(|w| w.rid <= rid) {
            self.answer_oldest(&mut st, now);
        }
        None
    }

    fn answer_oldest(&self, st: &mut State, now: Instant) {
        let Some(w) = st.held.pop_front() else { return };
        let mut attrs: Vec<(&str, String)> = Vec::new();
        let t = &self.terms;
        if !st.created && w.rid == st.creation_rid {
            st.created = true;
            attrs.extend([
                ("sid", t.sid.clone()),
                ("wait", t.wait.as_secs().to_string()),
                ("inactivity", t.inactivity.as_secs().to_string()),
                ("polling", POLLING.to_string()),
                ("requests", t.requests().to_string()),
                ("hold", t.hold.to_string()),
                ("ver", "1.11".into()),
                ("from", t.domain.clone()),
                ("xmpp:version", "1.0".into()),
                ("xmpp:restartlogic", "true".into()),
            ]);
            if let Some(id) = &st.authid {
                attrs.push(("authid", id.clone()));
            }
            if t.acks {
                attrs.push(("ack", w.rid.to_string()));
            }
        } else if t.acks && st.next_rid - 1 != w.rid {
            attrs.push(("ack", (st.next_rid - 1).to_string()));
        }
        if let Some((report, time)) = st.report.take() {
            attrs.push(("report", report.to_string()));
            attrs.push(("time", time.to_string()));
        }
        let payload = std::mem::take(&mut st.queue);
        let closing = st.closed;
        if closing {
            attrs.push(("type", "terminate".into()));
            if st.stream_error {
                attrs.push(("condition", "remote-stream-error".into()));
            }
        }
        let body: Bytes = body::render(&attrs, &payload).into();
        st.sent.push_back(Sent {
            rid: w.rid,
            body: body.clone(),
            at: now,
        });
        let keep = if t.acks { MAX_KEPT } else { t.requests() };
        while st.sent.len() > keep {
            st.sent.pop_front();
        }
        let _ = w.tx.send(Answer {
            status: StatusCode::OK,
            body,
        });
        if st.held.is_empty() && st.early.is_empty() {
            st.idle_since = Some(now);
        }
        if let Some(w) = st.write_waker.take() {
            w.wake();
        }
        if closing {
            self.end(st, Over::Terminated);
        }
    }
}

/// The shortest interval between polls the response announces (§12); this
/// server does not hold clients to it.
const POLLING: u64 = 2;

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
