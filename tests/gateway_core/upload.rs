//! XEP-0363 file upload: who gets a slot, what is refused and how, and
//! the grant in the session's transcript.

use switchboard::slot::{self, Slot};
use switchboard::store::Direction;
use switchboard::xml::{ns, Stanza};

use super::harness::*;

fn request(name: &str, size: &str, content_type: &str) -> String {
    format!(
        "<request xmlns='urn:xmpp:http:upload:0' filename='{name}' size='{size}' \
         content-type='{content_type}'/>"
    )
}

/// The slot's PUT and GET URLs, from a result.
fn urls(answer: &Stanza) -> (String, String) {
    assert_eq!(answer.type_(), Some("result"), "{answer:?}");
    let e = answer.element().unwrap();
    let slot = e.get_child("slot", ns::HTTP_UPLOAD).expect("a slot");
    let url = |name| {
        slot.get_child(name, ns::HTTP_UPLOAD)
            .and_then(|c| c.attr("url"))
            .unwrap_or_else(|| panic!("no {name} url in {answer:?}"))
            .to_string()
    };
    (url("put"), url("get"))
}

/// The slot a PUT URL names and whether the service's key signed it.
fn slot_of(put: &str) -> (Slot, bool) {
    let rest = put.strip_prefix("http://files.test/upload/").unwrap();
    let (path, query) = rest.split_once('?').unwrap();
    let (id, name) = path.split_once('/').unwrap();
    let (s, sig) = Slot::from_put(id, &slot::decode(name).unwrap(), query).unwrap();
    let signed = upload_service().key.verify(&s, &sig);
    (s, signed)
}

/// The condition, the text and the element of an error answer.
fn refusal(answer: &Stanza) -> (String, String) {
    assert_eq!(answer.type_(), Some("error"), "{answer:?}");
    let e = answer.element().unwrap();
    let err = e.get_child("error", ns::CLIENT).unwrap();
    let text = err
        .get_child("text", ns::STANZA_ERRORS)
        .map(|t| t.text())
        .unwrap_or_default();
    (condition(answer).unwrap(), text)
}

async fn uploading(assign: &str) -> Harness {
    let mut h = Harness::with_upload(
        &agents_toml(2),
        &routing_toml(assign, "", ""),
        upload_service(),
    )
    .await;
    h.agents_online().await;
    h
}

#[tokio::test]
async fn the_support_domain_announces_the_service_and_takes_slot_requests() {
    let h = uploading("offer").await;
    let info = h.domain_info();
    let s = &info.services[0];
    assert_eq!(
        (s.category, s.kind, s.feature),
        ("store", "file", ns::HTTP_UPLOAD)
    );
    assert_eq!(s.fields, [("max-file-size", "1000".to_string())]);
    let iq = |t: &str| {
        format!(
            "<iq type='{t}' id='1' from='{ROMEO}' to='{SUPPORT}'>{}</iq>",
            request("a.png", "1", "image/png")
        )
    };
    assert!(h.claims(&iq("get")));
    // Without the service, nothing is announced and the router answers.
    let plain = Harness::start(&agents_toml(2), &routing_toml("offer", "", "")).await;
    assert!(plain.domain_info().services.is_empty());
    assert!(!plain.claims(&iq("get")));
}

#[tokio::test]
async fn the_customer_of_an_open_session_gets_a_slot_and_the_transcript_keeps_it() {
    let mut h = uploading("offer").await;
    h.customer_opens(ROMEO, "here is a screenshot").await;
    // Waiting for an agent is an open session too.
    let answer = h
        .iq(
            ROMEO,
            SUPPORT,
            "get",
            &request("très cool.png", "900", "image/png"),
        )
        .await;
    let (put, get) = urls(&answer);
    assert_eq!(answer.from(), Some(SUPPORT));
    let (s, signed) = slot_of(&put);
    assert!(signed, "{put}");
    assert_eq!(
        (s.name.as_str(), s.size, s.content_type.as_str()),
        ("très cool.png", 900, "image/png")
    );
    assert_eq!(
        get,
        format!("http://files.test/upload/{}/tr%C3%A8s%20cool.png", s.id)
    );
    // Valid for slot_secs from the gateway's clock.
    assert_eq!(s.expires as i64, h.clock.now_ms() / 1000 + 300);
    let id = h.stored_session(ROMEO_BARE).await.unwrap().id;
    let transcript = h.store.transcript(&id).await.unwrap();
    let grant = transcript.last().unwrap();
    assert_eq!(grant.direction, Direction::Note);
    assert_eq!(grant.sender, ROMEO_BARE);
    assert_eq!(
        grant.body.as_deref(),
        Some(
            format!("File très cool.png (900 bytes, image/png) shared by {ROMEO_BARE}: {get}")
                .as_str()
        )
    );
    // Another customer with no session gets none, whatever the channel.
    for stranger in [JULIET, "visitor-1@web.support.test/widget"] {
        let answer = h
            .iq(
                stranger,
                SUPPORT,
                "get",
                &request("a.png", "10", "image/png"),
            )
            .await;
        let (cond, text) = refusal(&answer);
        assert_eq!(cond, "forbidden");
        assert!(text.contains("open session"), "{text}");
    }
}

#[tokio::test]
async fn an_agent_gets_a_slot_for_a_session_they_hold_not_one_offered() {
    let mut h = uploading("offer").await;
    h.customer_opens(ROMEO, "hello").await;
    h.line_to(ALICE, "New chat from");
    let proxy = h.proxy_of(ALICE).unwrap();
    let ask = request("invoice.pdf", "1000", "application/pdf");
    let (cond, _) = refusal(&h.iq(ALICE_DESK, SUPPORT, "get", &ask).await);
    assert_eq!(cond, "forbidden", "an offer is not yet the agent's");
    h.message(ALICE_DESK, &proxy, "/take").await;
    let (put, get) = urls(&h.iq(ALICE_DESK, SUPPORT, "get", &ask).await);
    assert!(slot_of(&put).1);
    let id = h.stored_session(ROMEO_BARE).await.unwrap().id;
    let transcript = h.store.transcript(&id).await.unwrap();
    let grant = transcript.last().unwrap();
    assert_eq!(
        (grant.direction, grant.sender.as_str()),
        (Direction::Note, ALICE)
    );
    assert!(grant.body.as_deref().unwrap().contains(&get));
    // Bob is an agent, but holds no session.
    let (cond, _) = refusal(&h.iq(BOB_DESK, SUPPORT, "get", &ask).await);
    assert_eq!(cond, "forbidden");
    // Once closed, the session is nobody's to upload to.
    h.message(ALICE_DESK, &proxy, "/close").await;
    let (cond, _) = refusal(&h.iq(ALICE_DESK, SUPPORT, "get", &ask).await);
    assert_eq!(cond, "forbidden");
    let (cond, _) = refusal(&h.iq(ROMEO, SUPPORT, "get", &ask).await);
    assert_eq!(cond, "forbidden");
}

#[tokio::test]
async fn too_large_a_type_not_allowed_and_bad_requests_are_refused() {
    let mut h = uploading("direct").await;
    h.customer_opens(ROMEO, "hello").await;
    let id = h.stored_session(ROMEO_BARE).await.unwrap().id;
    let before = h.store.transcript(&id).await.unwrap().len();

    // §4: not-acceptable, with the largest size.
    let answer = h
        .iq(
            ROMEO,
            SUPPORT,
            "get",
            &request("big.png", "1001", "image/png"),
        )
        .await;
    assert_eq!(refusal(&answer).0, "not-acceptable");
    let e = answer.element().unwrap();
    let max = e
        .get_child("error", ns::CLIENT)
        .and_then(|err| err.get_child("file-too-large", ns::HTTP_UPLOAD))
        .and_then(|f| f.get_child("max-file-size", ns::HTTP_UPLOAD))
        .map(|m| m.text());
    assert_eq!(max.as_deref(), Some("1000"), "{answer:?}");

    let (cond, text) = refusal(
        &h.iq(
            ROMEO,
            SUPPORT,
            "get",
            &request("page.html", "10", "text/html"),
        )
        .await,
    );
    assert_eq!(cond, "not-acceptable");
    assert!(
        text.contains("text/html") && text.contains("image/*, application/pdf"),
        "{text}"
    );

    let bad = [
        request("../../etc/passwd", "10", "image/png"),
        request("a\\b.png", "10", "image/png"),
        request("a&#10;b.png", "10", "image/png"),
        request(&"x".repeat(256), "10", "image/png"),
        request("", "10", "image/png"),
        request("a.png", "-1", "image/png"),
        request("a.png", "ten", "image/png"),
        request("a.png", "10", "not a type"),
        "<request xmlns='urn:xmpp:http:upload:0' size='10'/>".to_string(),
        "<request xmlns='urn:xmpp:http:upload:0' filename='a.png'/>".to_string(),
    ];
    for ask in &bad {
        let (cond, text) = refusal(&h.iq(ROMEO, SUPPORT, "get", ask).await);
        assert_eq!(cond, "bad-request", "{ask}: {text}");
    }
    let (cond, _) = refusal(
        &h.iq(ROMEO, SUPPORT, "set", &request("a.png", "10", "image/png"))
            .await,
    );
    assert_eq!(cond, "bad-request", "a slot is asked for with get");
    // Nothing refused is in the transcript.
    assert_eq!(h.store.transcript(&id).await.unwrap().len(), before);
    // Without a content-type, the name's extension tells.
    let ask = "<request xmlns='urn:xmpp:http:upload:0' filename='scan.PDF' size='10'/>";
    let (put, _) = urls(&h.iq(ROMEO, SUPPORT, "get", ask).await);
    assert_eq!(slot_of(&put).0.content_type, "application/pdf");
}
