//! Page push (`/push URL [title]` and the ad-hoc command): the customer
//! gets the page as an XEP-0066 link with its title, marked for the web
//! chat; it is in the transcript; bad addresses are refused with the
//! reason; only a live session's agent can push. And the waiting line's
//! place, which the web chat shows, travels beside its text.

use super::harness::*;
use switchboard::xml::ns;

/// Alice, live with Romeo: the session's proxy JID and id.
async fn live_with_romeo(h: &mut Harness) -> (String, String) {
    h.agent_presence(ALICE_DESK, true, None).await;
    h.customer_opens(ROMEO, "where do I change my password?")
        .await;
    let proxy = h.work_item(ALICE).contact;
    let id = proxy.split('@').next().unwrap().to_string();
    h.clear();
    (proxy, id)
}

#[tokio::test]
async fn a_pushed_page_reaches_the_customer_as_a_link_with_its_title_and_is_in_the_transcript() {
    let mut h = Harness::start(&agents_toml(2), &routing_toml("direct", "", "")).await;
    let (proxy, id) = live_with_romeo(&mut h).await;
    h.message(
        ALICE_DESK,
        &proxy,
        "/push https://example.com/help/password Changing your password",
    )
    .await;
    h.line_to(ALICE, "Pushed to the customer: Changing your password");
    let m = h.line_to(ROMEO_BARE, "https://example.com/help/password");
    assert_eq!(m.from(), Some(HELP));
    let e = m.element().unwrap();
    let oob = e.get_child("x", ns::OOB).expect("an XEP-0066 link");
    assert_eq!(
        oob.get_child("url", ns::OOB).unwrap().text(),
        "https://example.com/help/password"
    );
    assert_eq!(
        oob.get_child("desc", ns::OOB).unwrap().text(),
        "Changing your password"
    );
    assert!(e.has_child("push", ns::SB_PUSH), "marked for the web chat");
    assert_eq!(e.get_child("nick", ns::NICK).unwrap().text(), "Alice");
    assert_eq!(
        e.get_child("body", ns::CLIENT).unwrap().text(),
        "Alice shares a page with you: Changing your password https://example.com/help/password"
    );

    h.settle().await;
    let transcript = h.store.transcript(&id).await.unwrap();
    let pushed = transcript
        .iter()
        .find(|t| t.stanza.contains(ns::SB_PUSH))
        .expect("the push is in the transcript");
    assert_eq!(pushed.sender, ALICE);
    assert!(pushed
        .body
        .as_deref()
        .unwrap()
        .contains("https://example.com/help/password"));
}

#[tokio::test]
async fn an_address_that_cannot_be_pushed_is_refused_with_the_reason() {
    let mut h = Harness::start(&agents_toml(2), &routing_toml("direct", "", "")).await;
    let (proxy, _) = live_with_romeo(&mut h).await;
    for (arg, why) in [
        ("", "Usage: /push URL [title]"),
        ("example.com/help", "That is not a web address"),
        ("javascript:alert(1)", "Only http and https pages"),
        ("file:///etc/passwd", "Only http and https pages"),
        ("https://me:secret@example.com/", "user name or password"),
    ] {
        h.message(ALICE_DESK, &proxy, &format!("/push {arg}")).await;
        h.line_to(ALICE, why);
    }
    assert!(
        h.messages_to(ROMEO_BARE).is_empty(),
        "nothing reached the customer: {}",
        h.dump()
    );
}

#[tokio::test]
async fn an_offered_session_cannot_be_pushed_to_until_it_is_taken() {
    let mut h = Harness::start(&agents_toml(2), &routing_toml("offer", "", "")).await;
    h.agent_presence(ALICE_DESK, true, None).await;
    h.customer_opens(ROMEO, "hi").await;
    let offer = h.line_to(ALICE, "New chat from romeo@customer.test");
    let proxy = offer.from().unwrap().to_string();
    h.message(ALICE_DESK, &proxy, "/push https://example.com/")
        .await;
    h.line_to(ALICE, "Take the session first");
    assert!(!h.has_line_to(ROMEO_BARE, "example.com"), "{}", h.dump());
    // Another agent cannot push into Alice's session.
    h.message(BOB_DESK, &proxy, "/push https://example.com/")
        .await;
    assert_eq!(h.error_to(BOB_DESK).0, "forbidden");
}

#[tokio::test]
async fn the_ad_hoc_push_asks_for_the_address_and_a_title() {
    let mut h = Harness::start(&agents_toml(2), &routing_toml("direct", "", "")).await;
    let (_, id) = live_with_romeo(&mut h).await;
    let exec = format!(
        "<command xmlns='{}' node='push' action='execute'/>",
        ns::COMMANDS
    );
    let form = h.iq(ALICE_DESK, SUPPORT, "set", &exec).await;
    let form = String::from_utf8_lossy(form.bytes()).into_owned();
    assert!(
        form.contains("var='text'") || form.contains("var=\"text\""),
        "{form}"
    );
    assert!(form.contains("title"), "{form}");
    let submit = format!(
        "<command xmlns='{}' node='push'><x xmlns='jabber:x:data' type='submit'>\
         <field var='session'><value>{id}</value></field>\
         <field var='text'><value>https://example.com/pricing</value></field>\
         <field var='title'><value>Our prices</value></field></x></command>",
        ns::COMMANDS
    );
    let done = h.iq(ALICE_DESK, SUPPORT, "set", &submit).await;
    let done = String::from_utf8_lossy(done.bytes()).into_owned();
    assert!(
        done.contains("Pushed to the customer: Our prices"),
        "{done}"
    );
    let m = h.line_to(ROMEO_BARE, "https://example.com/pricing");
    let e = m.element().unwrap();
    let desc = e
        .get_child("x", ns::OOB)
        .unwrap()
        .get_child("desc", ns::OOB);
    assert_eq!(desc.unwrap().text(), "Our prices");
}

#[tokio::test]
async fn a_waiting_customer_gets_the_place_as_data_beside_the_text() {
    let alice = agent_toml(ALICE, "Alice", &["xmpp"], 1, 0);
    let mut h = Harness::start(&alice, &routing_toml("direct", "", "")).await;
    h.agent_presence(ALICE_DESK, true, None).await;
    h.customer_opens(ROMEO, "first").await;
    h.customer_opens(JULIET, "second").await;
    // Identification times out: then Juliet is in the line.
    h.advance(std::time::Duration::from_secs(3)).await;
    let line = h.line_to(JULIET_BARE, "You are number 1 in the queue");
    let e = line.element().unwrap();
    let q = e
        .get_child("queue", ns::SB_QUEUE)
        .expect("the place as data");
    assert_eq!(q.attr("position"), Some("1"));
    assert!(q.attr("minutes").unwrap().parse::<u32>().unwrap() >= 1);
}

#[tokio::test]
async fn the_line_that_says_who_answers_names_the_agent_as_data() {
    let mut h = Harness::start(&agents_toml(2), &routing_toml("direct", "", "")).await;
    h.agent_presence(ALICE_DESK, true, None).await;
    h.customer_opens(ROMEO, "hello").await;
    let line = h.line_to(ROMEO_BARE, "You are now chatting with Alice");
    let e = line.element().unwrap();
    let agent = e
        .get_child("agent", ns::SB_QUEUE)
        .expect("the agent as data");
    assert_eq!(agent.attr("name"), Some("Alice"));
}
