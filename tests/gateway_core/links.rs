//! Linked identities (`gateway/links.rs`): an agent links two customers as
//! one person, whose next session goes to the agent they spoke with last
//! from either identity, with the other identity and the earlier sessions
//! in the context; `/unlink` undoes it; bad input gets a clear answer; a
//! site's logged-in web visitor is linked by the verified user id; links
//! survive a restart.

use std::time::Duration;

use super::harness::*;
use switchboard::gateway::ports::Clock;
use switchboard::store::Store;
use switchboard::xml::ns;

fn agents() -> String {
    agent_toml(ALICE, "Alice", &["xmpp", "web"], 3, 5)
        + &agent_toml(BOB, "Bob", &["xmpp", "web"], 3, 5)
}

fn routing() -> String {
    routing_toml("offer", "", "")
}

/// `customer` writes `body`; `agent` takes the offer: the session's proxy.
async fn taken_by(h: &mut Harness, customer: &str, body: &str, agent: &str) -> String {
    h.customer_opens(customer, body).await;
    let desk = format!("{agent}/desk");
    let offer = h.line_to(agent, &format!("New chat from {}", bare(customer)));
    let proxy = bare(offer.from().unwrap()).to_string();
    h.message(&desk, &proxy, "take").await;
    h.line_to(agent, "is yours");
    proxy
}

/// Juliet spoke with Bob, then Romeo with Alice, who links Romeo to Juliet
/// and closes: Juliet is the same person as Romeo, whose last agent was
/// Alice. Returns with both agents online and nothing open.
async fn linked_history(h: &mut Harness) {
    h.agent_presence(BOB_DESK, true, None).await;
    let juliet = taken_by(h, JULIET, "my parcel is late", BOB).await;
    h.message(BOB_DESK, &juliet, "/note parcel 7 lost in transit")
        .await;
    h.message(BOB_DESK, &juliet, "close").await;
    h.agent_presence(BOB_DESK, false, None).await;
    h.agent_presence(ALICE_DESK, true, None).await;
    h.advance(Duration::from_secs(60)).await;
    let romeo = taken_by(h, ROMEO, "where is my refund?", ALICE).await;
    h.message(ALICE_DESK, &romeo, "/link juliet@customer.test")
        .await;
    let reply = h.line_to(ALICE, "Linked: one person now as");
    assert!(
        reply.body().unwrap().contains("romeo@customer.test"),
        "{reply:?}"
    );
    h.message(ALICE_DESK, &romeo, "!note refund promised by Friday")
        .await;
    h.message(ALICE_DESK, &romeo, "close").await;
    h.agent_presence(BOB_DESK, true, None).await;
    h.clear();
}

#[tokio::test]
async fn a_linked_identity_goes_to_the_persons_last_agent_with_their_history() {
    let mut h = Harness::start(&agents(), &routing()).await;
    linked_history(&mut h).await;
    // Juliet's own last agent is Bob; the person's is Alice.
    h.customer_opens(JULIET, "any news?").await;
    let offer = h.line_to(ALICE, "New chat from juliet@customer.test");
    assert!(!h.has_line_to(BOB, "New chat"), "{}", h.dump());
    let proxy = bare(offer.from().unwrap()).to_string();
    h.message(ALICE_DESK, &proxy, "take").await;
    let context = h.line_to(ALICE, "Same person as: romeo@customer.test");
    let text = context.body().unwrap();
    assert!(text.contains("Previous sessions"), "{text}");
    assert!(text.contains("romeo@customer.test · Alice ·"), "{text}");
    assert!(
        text.contains("juliet@customer.test · Bob · closed by agent"),
        "{text}"
    );
    assert!(
        text.contains("note by alice@agents.support.test: refund promised"),
        "{text}"
    );
    assert!(
        text.contains("note by bob@agents.support.test: parcel 7"),
        "{text}"
    );
    // The newest first.
    assert!(
        text.find("romeo@customer.test · Alice").unwrap()
            < text.find("juliet@customer.test · Bob").unwrap(),
        "{text}"
    );

    h.message(ALICE_DESK, &proxy, "history").await;
    let history = h.line_to(ALICE, "History of juliet@customer.test");
    let text = history.body().unwrap();
    assert!(
        text.contains("one person as juliet@customer.test, romeo@customer.test"),
        "{text}"
    );
    assert_eq!(
        text.matches(" · ").count() / 4,
        2,
        "two earlier sessions: {text}"
    );

    // /info says it too.
    h.message(ALICE_DESK, &proxy, "info").await;
    h.line_to(ALICE, "Same person as: romeo@customer.test");

    // Unlinked, Juliet is herself again: no other identity, and only her
    // own session in the history.
    h.message(ALICE_DESK, &proxy, "unlink").await;
    h.line_to(
        ALICE,
        "Unlinked: juliet@customer.test is a customer of its own again.",
    );
    h.clear();
    h.message(ALICE_DESK, &proxy, "info").await;
    let info = h.line_to(ALICE, "Session ");
    assert!(!info.body().unwrap().contains("Same person"), "{info:?}");
    h.message(ALICE_DESK, &proxy, "/history").await;
    let history = h.line_to(ALICE, "History of juliet@customer.test:");
    assert!(!history.body().unwrap().contains("romeo"), "{history:?}");
    let id = proxy.split('@').next().unwrap();
    h.settle().await;
    let notes: Vec<String> = h
        .store
        .transcript(id)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.direction == switchboard::store::Direction::Note)
        .filter_map(|m| m.body)
        .collect();
    assert_eq!(
        notes,
        ["alice@agents.support.test unlinked juliet@customer.test from its person."]
    );
}

#[tokio::test]
async fn a_link_names_a_session_too_and_bad_input_gets_an_answer() {
    let mut h = Harness::start(&agents(), &routing()).await;
    h.agent_presence(ALICE_DESK, true, None).await;
    let juliet = taken_by(&mut h, JULIET, "hello", ALICE).await;
    let juliet_id = juliet.split('@').next().unwrap().to_string();
    h.message(ALICE_DESK, &juliet, "close").await;
    let romeo = taken_by(&mut h, ROMEO, "hi", ALICE).await;
    for (arg, answer) in [
        ("/link", "Usage: /link JID"),
        (
            "/link nobody@customer.test",
            "No customer nobody@customer.test has written to us.",
        ),
        (
            "/link romeo@customer.test/phone",
            "is this session's own customer",
        ),
        ("/link s-zzzzzzz", "No session s-zzzzzzz."),
        ("/link not a jid", "No customer not a jid"),
        ("unlink", "romeo@customer.test is not linked to anyone."),
    ] {
        h.message(ALICE_DESK, &romeo, arg).await;
        h.line_to(ALICE, answer);
    }
    // A past session's id names its customer.
    h.message(ALICE_DESK, &romeo, &format!("/link {juliet_id}"))
        .await;
    h.line_to(ALICE, "Linked: one person now as");
    h.message(ALICE_DESK, &romeo, "/link juliet@customer.test")
        .await;
    h.line_to(ALICE, "are already one person");
    h.message(ALICE_DESK, &romeo, "/unlink mercutio@customer.test")
        .await;
    h.line_to(ALICE, "No customer mercutio@customer.test");
    // Only the session's agent may link: Bob, at the proxy, is refused;
    // at the control JID, told it is not his.
    let romeo_id = romeo.split('@').next().unwrap().to_string();
    h.message(BOB_DESK, &romeo, "/unlink").await;
    assert_eq!(h.error_to(BOB_DESK).0, "forbidden");
    h.control(BOB_DESK, &format!("/unlink {romeo_id}")).await;
    h.line_to(BOB, &format!("Session {romeo_id} is not yours."));
    // The same through the control JID, by the holder.
    h.control(
        ALICE_DESK,
        &format!("/unlink {romeo_id} juliet@customer.test"),
    )
    .await;
    h.line_to(ALICE, "Unlinked: juliet@customer.test");
    h.settle().await;
    let notes: Vec<String> = h
        .store
        .transcript(&romeo_id)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.direction == switchboard::store::Direction::Note)
        .filter_map(|m| m.body)
        .collect();
    assert_eq!(
        notes,
        [
            "alice@agents.support.test linked romeo@customer.test with juliet@customer.test.",
            "alice@agents.support.test unlinked juliet@customer.test from its person.",
        ]
    );
}

#[tokio::test]
async fn the_ad_hoc_link_asks_for_the_identity() {
    let mut h = Harness::start(&agents(), &routing()).await;
    h.agent_presence(ALICE_DESK, true, None).await;
    let juliet = taken_by(&mut h, JULIET, "hello", ALICE).await;
    h.message(ALICE_DESK, &juliet, "close").await;
    let romeo = taken_by(&mut h, ROMEO, "hi", ALICE).await;
    let id = romeo.split('@').next().unwrap();
    let cmd = |node: &str, inner: &str| {
        format!(
            "<command xmlns='{}' node='{node}' action='execute'>{inner}</command>",
            ns::COMMANDS
        )
    };
    let form = h.iq(ALICE_DESK, SUPPORT, "set", &cmd("link", "")).await;
    let form = String::from_utf8_lossy(form.bytes()).into_owned();
    assert!(
        form.contains("var='text'") || form.contains("var=\"text\""),
        "{form}"
    );
    assert!(form.contains("Customer JID or session id"), "{form}");
    let submit = format!(
        "<x xmlns='jabber:x:data' type='submit'><field var='session'><value>{id}</value></field>\
         <field var='text'><value>juliet@customer.test</value></field></x>"
    );
    let done = h
        .iq(ALICE_DESK, SUPPORT, "set", &cmd("link", &submit))
        .await;
    let done = String::from_utf8_lossy(done.bytes()).into_owned();
    assert!(done.contains("Linked: one person now as"), "{done}");
    let submit = format!(
        "<x xmlns='jabber:x:data' type='submit'><field var='session'><value>{id}</value></field></x>"
    );
    let history = h
        .iq(ALICE_DESK, SUPPORT, "set", &cmd("history", &submit))
        .await;
    let history = String::from_utf8_lossy(history.bytes()).into_owned();
    assert!(
        history.contains("juliet@customer.test · Alice"),
        "{history}"
    );
    let done = h
        .iq(ALICE_DESK, SUPPORT, "set", &cmd("unlink", &submit))
        .await;
    let done = String::from_utf8_lossy(done.bytes()).into_owned();
    assert!(done.contains("Unlinked: romeo@customer.test"), "{done}");
}

/// A site's logged-in user (`u.` on the web domain) is verified as that
/// user: a customer a dialog verified as the same user before is the same
/// person, linked without an agent, and the visitor goes to that
/// customer's agent.
#[tokio::test]
async fn a_verified_web_user_is_linked_to_the_customer_verified_as_them_before() {
    let mut h = Harness::start(&agents(), &routing()).await;
    h.agent_presence(ALICE_DESK, true, None).await;
    let romeo = taken_by(&mut h, ROMEO, "hi", ALICE).await;
    h.message(ALICE_DESK, &romeo, "close").await;
    // What the dialogs would record once Romeo proved he is site user 42.
    let romeo_id = h
        .store
        .customer_by_jid(ROMEO_BARE)
        .await
        .unwrap()
        .unwrap()
        .id;
    h.store
        .identifier_record(&romeo_id, "web-user", "42", 1)
        .await
        .unwrap();
    h.agent_presence(BOB_DESK, true, None).await;
    h.clear();
    let visitor = "u.42@web.support.test/widget";
    h.customer_opens(visitor, "me again, from the site").await;
    let offer = h.line_to(ALICE, "New chat from u.42@web.support.test");
    let proxy = bare(offer.from().unwrap()).to_string();
    h.message(ALICE_DESK, &proxy, "take").await;
    let context = h.line_to(ALICE, "Same person as: romeo@customer.test");
    assert!(
        context.body().unwrap().contains("Previous sessions"),
        "{context:?}"
    );
    let id = proxy.split('@').next().unwrap();
    let notes: Vec<String> = h
        .store
        .transcript(id)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.direction == switchboard::store::Direction::Note)
        .filter_map(|m| m.body)
        .collect();
    assert_eq!(
        notes,
        ["Linked automatically (same verified web-user): u.42@web.support.test is the same person as romeo@customer.test."]
    );
    let visitor_id = h
        .store
        .customer_by_jid("u.42@web.support.test")
        .await
        .unwrap()
        .unwrap()
        .id;
    let audit = h.store.link_events(&visitor_id).await.unwrap();
    assert_eq!(audit[0].actor, "auto:web-user");
    // A chat page visitor (`v.`) is nobody verified: no identifier.
    h.customer_opens("v.k3x9@web.support.test/widget", "hello")
        .await;
    let v = h
        .store
        .customer_by_jid("v.k3x9@web.support.test")
        .await
        .unwrap()
        .unwrap();
    assert!(h.store.identifiers_of(&v.id).await.unwrap().is_empty());
}

#[tokio::test]
async fn links_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("links.db").display());
    let store = Store::connect(&url).await.unwrap();
    let mut h = Harness::on_store(
        store,
        Clock::manual(1_796_119_200_000),
        &agents(),
        &routing(),
    )
    .await;
    linked_history(&mut h).await;
    let (store, clock) = h.stop().await;
    store.close().await;

    let store = Store::connect(&url).await.unwrap();
    let mut h = Harness::on_store(store, clock, &agents(), &routing()).await;
    h.agents_online().await;
    h.clear();
    h.customer_opens(JULIET, "after the restart").await;
    let offer = h.line_to(ALICE, "New chat from juliet@customer.test");
    let proxy = bare(offer.from().unwrap()).to_string();
    h.message(ALICE_DESK, &proxy, "take").await;
    h.line_to(ALICE, "Same person as: romeo@customer.test");
}

/// Two identities of one person may chat at once: their sessions stay two,
/// but the second goes to the agent who holds the first.
#[tokio::test]
async fn a_second_identity_with_the_first_still_open_goes_to_its_agent() {
    let mut h = Harness::start(&agents(), &routing()).await;
    h.agent_presence(BOB_DESK, true, None).await;
    let juliet = taken_by(&mut h, JULIET, "hello", BOB).await;
    h.message(BOB_DESK, &juliet, "close").await;
    h.agent_presence(BOB_DESK, false, None).await;
    h.agent_presence(ALICE_DESK, true, None).await;
    let romeo = taken_by(&mut h, ROMEO, "still there?", ALICE).await;
    h.message(ALICE_DESK, &romeo, "/link juliet@customer.test")
        .await;
    h.line_to(ALICE, "Linked: one person now as");
    h.agent_presence(BOB_DESK, true, None).await;
    h.clear();
    h.customer_opens(JULIET, "me again, other account").await;
    h.line_to(ALICE, "New chat from juliet@customer.test");
    assert!(!h.has_line_to(BOB, "New chat"), "{}", h.dump());
    let mut open = h.session_states().await;
    open.sort();
    assert_eq!(
        open,
        [
            (
                "juliet@customer.test".into(),
                "offered".into(),
                Some(ALICE.into())
            ),
            (
                "romeo@customer.test".into(),
                "live".into(),
                Some(ALICE.into())
            ),
        ]
    );
}
