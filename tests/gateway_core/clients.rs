//! Agents in their own clients: commands that survive clients which take a
//! leading `/` for their own, no answers to chat states, offers that show
//! what the customer wrote from a contact in the work list, and a welcome
//! at login.

use std::time::Duration;

use super::harness::*;

async fn offered_to_alice(h: &mut Harness, first: &str) -> String {
    h.agents_online().await;
    h.clear();
    h.customer_opens(ROMEO, first).await;
    let offer = h.line_to(ALICE, "New chat from romeo@customer.test");
    offer.from().unwrap().to_string()
}

#[tokio::test]
async fn commands_are_bare_words_or_start_with_a_bang_as_well_as_a_slash() {
    let mut h = Harness::start(&agents_toml(3), &routing_toml("offer", "", "")).await;
    let proxy = offered_to_alice(&mut h, "hello").await;
    h.message(ALICE_DESK, &proxy, "Take").await;
    h.line_to(ALICE, "is yours");
    h.line_to(ROMEO_BARE, "You are now chatting with Alice");
    h.message(ALICE_DESK, &proxy, "!note wants a refund").await;
    h.line_to(ALICE, "Noted.");
    // With an argument, only after ! or /: this is said to the customer.
    h.message(ALICE_DESK, &proxy, "note that refunds take a week")
        .await;
    h.line_to(ROMEO_BARE, "note that refunds take a week");
    assert!(!h.has_line_to(ALICE, "Noted."), "{}", h.dump());
    h.message(ALICE_DESK, &proxy, "//info").await;
    h.line_to(ALICE, "Session s-");
    h.message(ALICE_DESK, &proxy, "!close").await;
    h.line_to(ALICE, "closed");
    h.line_to(ROMEO_BARE, "This chat is closed");
}

#[tokio::test]
async fn chat_states_and_chatter_get_no_reply_and_unknown_commands_get_the_help() {
    let mut h = Harness::start(&agents_toml(3), &routing_toml("direct", "", "")).await;
    h.agents_online().await;
    h.customer_opens(ROMEO, "hello").await;
    let proxy = h.work_item(ALICE).contact;
    h.clear();
    let composing = |to: &str| {
        format!(
            "<message type='chat' from='{ALICE_DESK}' to='{to}'>\
             <composing xmlns='http://jabber.org/protocol/chatstates'/></message>"
        )
    };
    // To the support domain: neither a chat state nor plain chatter is a
    // command.
    h.stanza(&composing(SUPPORT)).await;
    h.control(ALICE_DESK, "hi there").await;
    assert!(h.messages_to(ALICE).is_empty(), "{}", h.dump());
    h.control(ALICE_DESK, "!frobnicate").await;
    h.line_to(ALICE, "Commands (the word alone, or after ! or /)");
    h.control(ALICE_DESK, "help").await;
    h.line_to(ALICE, "Commands (the word alone, or after ! or /)");
    // A chat state to a session that just closed is dropped, not answered
    // with an error.
    h.message(ALICE_DESK, &proxy, "close").await;
    h.clear();
    h.stanza(&composing(&proxy)).await;
    assert!(h.messages_to(ALICE).is_empty(), "{}", h.dump());
    // A message with a body there still gets one.
    h.message(ALICE_DESK, &proxy, "are you there?").await;
    assert_eq!(h.error_to(ALICE_DESK).0, "item-not-found");
}

#[tokio::test]
async fn an_offer_shows_the_first_lines_from_a_contact_in_the_work_list() {
    let mut h = Harness::start(&agents_toml(3), &routing_toml("offer", "", "")).await;
    h.agents_online().await;
    h.clear();
    h.message(ROMEO, HELP, "my invoice is wrong").await;
    h.message(ROMEO, HELP, "it says   40 EUR\ninstead of 30")
        .await;
    h.advance(Duration::from_secs(3)).await;
    // The contact first, so the offer comes from someone in the roster.
    let item = h.work_item(ALICE);
    assert_eq!(item.groups, ["Offered"]);
    let offer = h.line_to(ALICE, "New chat from romeo@customer.test");
    assert_eq!(offer.from(), Some(item.contact.as_str()));
    let text = offer.body().unwrap();
    assert!(
        text.contains("\n> my invoice is wrong\n> it says 40 EUR instead of 30\n"),
        "{text}"
    );
    assert!(text.contains("Write take to accept within 5 s"), "{text}");
    // The customer is online: so is the contact.
    let ps = h.presences_to(ALICE);
    assert!(
        ps.iter()
            .any(|p| p.from() == Some(item.contact.as_str()) && p.type_().is_none()),
        "{ps:?}"
    );
    // Lapsed: out of Alice's list, into Bob's.
    h.advance(Duration::from_secs(5)).await;
    assert_eq!(h.roster_removes(ALICE), [item.contact.as_str()]);
    assert_eq!(h.work_item(BOB).groups, ["Offered"]);
    h.message(BOB_DESK, &item.contact, "take").await;
    assert_eq!(h.work_item(BOB).groups, ["Live"]);
}

#[tokio::test]
async fn each_login_is_welcomed_once() {
    let mut h = Harness::start(&agents_toml(3), &routing_toml("direct", "", "")).await;
    h.message(JULIET, HELP, "anyone?").await;
    h.advance(Duration::from_secs(3)).await;
    h.clear();
    h.agent_presence(ALICE_DESK, true, Some("away")).await;
    let w = h.messages_to(ALICE_DESK);
    assert_eq!(w.len(), 1, "{}", h.dump());
    assert_eq!(w[0].0.from(), Some(SUPPORT));
    assert!(
        w[0].1
            .starts_with("Welcome, Alice. You are away: async chats only."),
        "{}",
        w[0].1
    );
    // Presence changes on the same login: no second welcome.
    h.agent_presence(ALICE_DESK, true, None).await;
    h.agent_presence(ALICE_DESK, true, Some("dnd")).await;
    assert!(!h.has_line_to(ALICE_DESK, "Welcome"), "{}", h.dump());
    // A second device, and a new login after leaving, are welcomed.
    h.agent_presence(&format!("{ALICE}/phone"), true, None)
        .await;
    h.line_to(&format!("{ALICE}/phone"), "Welcome, Alice.");
    h.agent_presence(ALICE_DESK, false, None).await;
    h.agent_presence(ALICE_DESK, true, None).await;
    h.line_to(ALICE_DESK, "Welcome, Alice. You are on duty");
}

#[tokio::test]
async fn what_waited_follows_the_session_info_stamped_in_order() {
    let mut h = Harness::start(&agents_toml(3), &routing_toml("offer", "", "")).await;
    let proxy = offered_to_alice(&mut h, "first line").await;
    h.message(ROMEO, HELP, "second line").await;
    h.clear();
    h.message(ALICE_DESK, &proxy, "take").await;
    let to_alice: Vec<(String, Option<String>)> = h
        .messages_to(ALICE)
        .into_iter()
        .map(|(s, body)| {
            let e = s.element().unwrap();
            let stamp = e
                .get_child("delay", "urn:xmpp:delay")
                .and_then(|d| d.attr("stamp").map(str::to_string));
            (body, stamp)
        })
        .collect();
    let info = to_alice
        .iter()
        .position(|(b, _)| b.starts_with("Session s-"))
        .expect("the session info");
    let first = to_alice
        .iter()
        .position(|(b, _)| b == "first line")
        .unwrap();
    let second = to_alice
        .iter()
        .position(|(b, _)| b == "second line")
        .unwrap();
    assert!(info < first && first < second, "{to_alice:?}");
    // Stamps: the info just before what waited, so that clients ordering
    // by time agree with the order of arrival.
    let (info_at, first_at) = (&to_alice[info].1, &to_alice[first].1);
    assert!(info_at.is_some() && info_at <= first_at, "{to_alice:?}");
}

#[tokio::test]
async fn a_web_visitor_is_on_the_web_channel_with_the_name_they_gave() {
    // Only Alice serves the web chat.
    let agents = agent_toml(ALICE, "Alice", &["xmpp", "web"], 3, 5)
        + &agent_toml(BOB, "Bob", &["xmpp"], 3, 5);
    let mut h = Harness::start(&agents, &routing_toml("offer", "", "")).await;
    h.agents_online().await;
    h.clear();
    let visitor = "v.k3x9@web.support.test/widget";
    h.stanza(&format!(
        "<message type='chat' from='{visitor}' to='{HELP}' id='w1'><body>My order is late</body>\
         <nick xmlns='http://jabber.org/protocol/nick'>Dana\n  Scully</nick></message>"
    ))
    .await;
    h.advance(Duration::from_secs(3)).await;
    let offer = h.line_to(ALICE, "New chat from v.k3x9@web.support.test");
    assert!(offer.body().unwrap().contains("; web)"), "{offer:?}");
    let proxy = offer.from().unwrap().to_string();
    h.message(ALICE_DESK, &proxy, "take").await;
    h.message(ALICE_DESK, &proxy, "/info").await;
    let info = h.line_to(ALICE, "Customer: Dana Scully");
    assert!(info.body().unwrap().contains("Channel: web"), "{info:?}");
    assert!(!h.has_line_to(BOB, "New chat"), "{}", h.dump());
}

/// A reply the customer's side returns as an error (her server is down)
/// reaches the agent as an error from the session, under the reply's id:
/// the agent's client marks that line failed.
#[tokio::test]
async fn a_reply_that_bounces_comes_back_to_the_agent_under_its_id() {
    let mut h = Harness::start(&agents_toml(3), &routing_toml("offer", "", "")).await;
    let proxy = offered_to_alice(&mut h, "hello").await;
    h.message(ALICE_DESK, &proxy, "take").await;
    h.clear();
    h.stanza(&format!(
        "<message type='chat' id='r1' from='{ALICE_DESK}' to='{proxy}'><body>on its way</body></message>"
    ))
    .await;
    let out = h.line_to(ROMEO_BARE, "on its way");
    assert_eq!(out.id(), Some("r1"));
    h.stanza(&format!(
        "<message type='error' id='r1' from='{ROMEO_BARE}' to='{HELP}'><body>on its way</body>\
         <error type='cancel'><remote-server-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>"
    ))
    .await;
    let (cond, back) = h.error_to(ALICE);
    assert_eq!(cond, "remote-server-not-found");
    assert_eq!((back.id(), back.from()), (Some("r1"), Some(proxy.as_str())));
    // An error from someone with no session goes nowhere.
    h.stanza(&format!(
        "<message type='error' id='x' from='juliet@customer.test' to='{HELP}'>\
         <error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>"
    ))
    .await;
    assert!(h.take(|_| true).is_empty(), "{}", h.dump());
}
