//! The request window of one session, without HTTP: answers come on the
//! oneshot channels, the stream's bytes are read off the state.

use super::*;

fn terms(acks: bool) -> Terms {
    Terms {
        sid: "s1".into(),
        domain: "web.test".into(),
        wait: Duration::from_secs(5),
        hold: 1,
        inactivity: Duration::from_secs(60),
        versioned: true,
        acks,
        header: "<stream:stream>".into(),
    }
}

fn req(rid: u64, attrs: impl FnOnce(&mut Request)) -> Request {
    let mut r = Request {
        rid: Some(rid),
        sid: Some("s1".into()),
        ..Request::default()
    };
    attrs(&mut r);
    r
}

fn held(o: Outcome) -> oneshot::Receiver<Answer> {
    match o {
        Outcome::Held { rx, .. } => rx,
        Outcome::Now(a) | Outcome::Ended(_, a) => panic!("answered at once: {a:?}"),
    }
}

fn text(rx: &mut oneshot::Receiver<Answer>) -> String {
    let a = rx.try_recv().expect("answered");
    String::from_utf8(a.body.to_vec()).unwrap()
}

/// A session whose creation (rid 10) was answered with the features.
fn created(acks: bool) -> Session {
    let now = Instant::now();
    let s = Session::new(terms(acks), 10, now);
    let mut c = held(s.request(req(10, |_| {}), Bytes::new(), now));
    assert!(c.try_recv().is_err(), "the creation waits for the features");
    server_writes(&s, "<stream:features/>");
    let first = text(&mut c);
    assert!(
        first.contains("sid='s1'") && first.contains("<stream:features/>"),
        "{first}"
    );
    s
}

fn server_writes(s: &Session, el: &str) {
    let mut st = s.lock();
    st.queue.extend_from_slice(el.as_bytes());
    s.deliver(&mut st, Instant::now());
}

fn inbound(s: &Session) -> String {
    String::from_utf8(s.lock().inbound.to_vec()).unwrap()
}

#[test]
fn an_early_request_waits_and_payloads_reach_the_stream_in_rid_order() {
    let s = created(false);
    let now = Instant::now();
    let mut r12 = held(s.request(req(12, |_| {}), Bytes::from_static(b"<b/>"), now));
    assert_eq!(inbound(&s), "<stream:stream>", "12 waits for 11");
    let mut r11 = held(s.request(req(11, |_| {}), Bytes::from_static(b"<a/>"), now));
    assert_eq!(inbound(&s), "<stream:stream><a/><b/>");
    assert!(
        !text(&mut r11).contains("<a"),
        "11 answered empty when 12 came"
    );
    assert!(r12.try_recv().is_err(), "12 is held");
    server_writes(&s, "<message/>");
    assert!(text(&mut r12).contains("<message/>"));
}

#[test]
fn a_replay_gets_the_same_answer_and_its_payload_is_not_taken_again() {
    let s = created(false);
    let now = Instant::now();
    let mut r11 = held(s.request(req(11, |_| {}), Bytes::from_static(b"<a/>"), now));
    server_writes(&s, "<success/>");
    let first = text(&mut r11);
    match s.request(req(11, |_| {}), Bytes::from_static(b"<a/>"), now) {
        Outcome::Now(a) => assert_eq!(a.body, first.as_bytes()),
        _ => panic!("a replay is answered from the cache"),
    }
    assert_eq!(inbound(&s), "<stream:stream><a/>");
    // A replay of a held request takes its place.
    let mut old = held(s.request(req(12, |_| {}), Bytes::new(), now));
    let mut new = held(s.request(req(12, |_| {}), Bytes::new(), now));
    assert!(old
        .try_recv()
        .is_err_and(|e| e == oneshot::error::TryRecvError::Closed));
    server_writes(&s, "<iq/>");
    assert!(text(&mut new).contains("<iq/>"));
}

#[test]
fn acks_let_answers_go_and_tell_what_came() {
    let s = created(true);
    let now = Instant::now();
    let mut r11 = held(s.request(req(11, |r| r.ack = Some(10)), Bytes::new(), now));
    let mut r12 = held(s.request(req(12, |r| r.ack = Some(10)), Bytes::new(), now));
    assert!(
        text(&mut r11).contains("ack='12'"),
        "11 answered after 12 came"
    );
    server_writes(&s, "<x/>");
    let twelve = text(&mut r12);
    assert!(
        !twelve.contains("ack="),
        "no ack equal to its own rid: {twelve}"
    );
    // 11 acknowledged: gone; 12 not yet: kept.
    let o = s.request(req(12, |r| r.ack = Some(11)), Bytes::new(), now);
    assert!(matches!(o, Outcome::Now(ref a) if a.body == twelve.as_bytes()));
    let o = s.request(req(11, |r| r.ack = Some(11)), Bytes::new(), now);
    assert!(matches!(o, Outcome::Ended(Refusal::ItemNotFound, _)));
}

#[test]
fn a_report_names_a_response_left_unacknowledged() {
    let s = created(true);
    let now = Instant::now();
    let mut r11 = held(s.request(req(11, |r| r.ack = Some(10)), Bytes::new(), now));
    server_writes(&s, "<x/>");
    text(&mut r11);
    let later = now + REPORT_AFTER + Duration::from_millis(500);
    let mut r12 = held(s.request(req(12, |r| r.ack = Some(10)), Bytes::new(), later));
    let a = text(&mut r12);
    assert!(a.contains("report='11'") && a.contains("time='"), "{a}");
}

#[test]
fn the_window_and_overactivity_end_the_session() {
    let now = Instant::now();
    let s = created(false);
    let o = s.request(req(13, |_| {}), Bytes::new(), now);
    assert!(
        matches!(o, Outcome::Ended(Refusal::ItemNotFound, _)),
        "beyond 11..=12"
    );
    assert!(s.lock().over.is_some() && s.lock().inbound.is_empty());

    let s = created(false);
    let mut a = held(s.request(req(11, |_| {}), Bytes::new(), now));
    let mut c = held(s.request(req(13, |_| {}), Bytes::new(), now));
    let o = s.request(req(12, |_| {}), Bytes::new(), now);
    assert!(matches!(o, Outcome::Ended(Refusal::PolicyViolation, _)));
    assert!(text(&mut a).contains("type='terminate'"));
    assert!(text(&mut c).contains("type='terminate'"));
    let o = s.request(req(12, |_| {}), Bytes::new(), now);
    assert!(matches!(o, Outcome::Now(ref a) if a.status == StatusCode::NOT_FOUND));
}

#[test]
fn a_stream_error_ends_the_session_with_remote_stream_error() {
    let s = created(false);
    let now = Instant::now();
    let mut r11 = held(s.request(req(11, |_| {}), Bytes::new(), now));
    {
        let mut st = s.lock();
        st.queue.extend_from_slice(b"<stream:error/>");
        st.stream_error = true;
        st.closed = true;
        s.deliver(&mut st, now);
    }
    let a = text(&mut r11);
    assert!(
        a.contains("type='terminate'") && a.contains("condition='remote-stream-error'"),
        "{a}"
    );
    assert!(a.contains("<stream:error/>"), "{a}");
    assert!(s.lock().over.is_some());
}

#[test]
fn terminate_closes_the_stream() {
    let s = created(false);
    let now = Instant::now();
    let mut r11 = held(s.request(req(11, |_| {}), Bytes::new(), now));
    let mut bye = held(s.request(
        req(12, |r| r.terminate = true),
        Bytes::from_static(b"<presence type='unavailable'/>"),
        now,
    ));
    assert!(text(&mut r11).contains("type='terminate'"));
    assert!(text(&mut bye).contains("type='terminate'"));
    assert_eq!(
        inbound(&s),
        "<stream:stream><presence type='unavailable'/></stream:stream>"
    );
}

#[tokio::test]
async fn a_payload_waits_while_the_stream_has_much_unread() {
    let s = std::sync::Arc::new(created(false));
    s.lock()
        .inbound
        .extend_from_slice(&vec![b' '; INBOUND_LIMIT + 1]);
    let waiting = tokio::spawn({
        let s = s.clone();
        async move { s.room().await }
    });
    tokio::task::yield_now().await;
    assert!(!waiting.is_finished(), "waits for the reader");
    // What the stream's read does.
    {
        let mut st = s.lock();
        let n = st.inbound.len() - 10;
        let _ = st.inbound.split_to(n);
    }
    s.drained.notify_waiters();
    tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("room once read")
        .unwrap();
}
