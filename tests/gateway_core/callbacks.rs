//! Callbacks booked in the chat (`gateway/callbacks/`): offered when the
//! wait is long or nobody can answer, booked with a named agent and a time
//! in the customer's zone, refused with the nearest free times when the
//! agent is off or full (a race for the last slot included), moved and
//! cancelled, kept over a restart and over a daylight-saving change, given
//! to the agent at the lead time with a live place held and opened to the
//! customer at the time; an agent who is not there is replaced or the
//! customer offered new times, and one nobody can make is reported.

use std::time::Duration;

use super::harness::*;
use switchboard::gateway::ports::Clock;
use switchboard::store::{CallbackState, Store};

const SUE: &str = "sue@agents.support.test";
const SUE_DESK: &str = "sue@agents.support.test/desk";
const MIN: u64 = 60;

/// Alice works weekdays 09:00–17:00 in Paris and is away on 2026-12-04;
/// Bob has no hours of his own (the queue has none: any time); neither
/// takes async chats, so a customer waits. Sue supervises and serves no
/// XMPP customer, so routing gives her none.
fn agents() -> String {
    format!(
        "[[agent]]\njid = \"{ALICE}\"\nname = \"Alice\"\nprotocols = [\"xmpp\"]\nmax_live = 2\nmax_async = 0\n\
         timezone = \"Europe/Paris\"\nhours = [\"mon-fri 09:00-17:00\"]\nleave = [\"2026-12-04\"]\n\n\
         [[agent]]\njid = \"{BOB}\"\nname = \"Bob\"\nprotocols = [\"xmpp\"]\nmax_live = 2\nmax_async = 0\n\n\
         [[agent]]\njid = \"{SUE}\"\nname = \"Sue\"\nprotocols = [\"sms\"]\nmax_live = 0\nmax_async = 1\n\
         role = \"supervisor\"\n"
    )
}

fn routing(settings: &str) -> String {
    routing_toml(
        "offer",
        "",
        &format!(
            "\n[callbacks]\nslot_mins = 15\nhorizon_days = 7\nper_slot = 1\nlead_secs = 120\n\
             timezone = \"Europe/Paris\"\noffer_wait_above_mins = 3\n{settings}\n"
        ),
    )
}

async fn center(settings: &str) -> Harness {
    Harness::start(&agents(), &routing(settings)).await
}

/// Juliet writes with nobody free and is offered a callback (with Sue
/// on duty, for a wait; with nobody, because nobody can answer).
async fn juliet_offered(h: &mut Harness) {
    h.customer_opens(JULIET, "hello, my order did not arrive")
        .await;
    h.line_to(JULIET_BARE, "Reply \"callback\"");
}

async fn stored(store: &Store, customer: &str) -> Vec<switchboard::store::Callback> {
    store
        .callbacks_open()
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.customer_jid == customer)
        .collect()
}

#[tokio::test]
async fn a_booking_with_a_named_agent_is_confirmed_in_the_customers_zone_and_made_at_the_time() {
    let mut h = center("").await;
    juliet_offered(&mut h).await;
    // 2026-12-01 is a Tuesday; 11:00 in Paris now.
    h.message(JULIET, HELP, "callback with Alice today at 15:30")
        .await;
    let booked = h.line_to(JULIET_BARE, "Booked: Alice will write to you here on");
    let text = booked.body().unwrap();
    assert!(
        text.contains("Tuesday 1 December at 15:30 (Europe/Paris)"),
        "{text}"
    );
    let cbs = stored(&h.store, JULIET_BARE).await;
    assert_eq!(cbs.len(), 1);
    assert_eq!(cbs[0].agent, ALICE);
    // 15:30 in Paris is 14:30 UTC: four and a half hours from 10:00 UTC.
    let due = cbs[0].due_at;
    assert_eq!(due - 1_796_119_200_000, 270 * 60_000);
    // Written to later instead of waiting now.
    assert!(h.session_states().await.is_empty());

    h.agent_presence(ALICE_DESK, true, None).await;
    h.clear();
    h.advance(Duration::from_millis(
        (due - h.clock.now_ms()) as u64 - 121_000,
    ))
    .await;
    assert!(
        !h.has_line_to(ALICE, "Callback"),
        "not before the lead time: {}",
        h.dump()
    );
    h.advance(Duration::from_secs(1)).await;
    let line = h.line_to(ALICE, "booked by juliet@customer.test");
    let text = line.body().unwrap();
    assert!(
        text.contains("hello, my order did not arrive"),
        "the earlier chat: {text}"
    );
    h.work_item(ALICE);
    // The customer hears nothing until the time; Alice's place is held.
    assert!(h.messages_to(JULIET_BARE).is_empty(), "{}", h.dump());
    let states = h.session_states().await;
    assert!(
        states
            .iter()
            .any(|(_, s, a)| s == "live" && a.as_deref() == Some(ALICE)),
        "{states:?}"
    );
    h.clear();
    h.advance(Duration::from_secs(120)).await;
    let opening = h.line_to(
        JULIET_BARE,
        "Hello, this is Alice, writing to you as booked.",
    );
    assert_eq!(opening.from().map(bare), Some(HELP));
    assert!(String::from_utf8_lossy(opening.bytes()).contains(">Alice</nick>"));
    let all = h.store.callback_get(&cbs[0].id).await.unwrap().unwrap();
    assert_eq!(all.state, CallbackState::Made);
    // Juliet answers: it is Alice's chat.
    let proxy = h.proxy_of(ALICE).unwrap();
    h.message(JULIET, HELP, "thanks for calling back").await;
    let relayed = h.line_to(ALICE, "thanks for calling back");
    assert_eq!(relayed.from().map(bare), Some(proxy.as_str()));
}

#[tokio::test]
async fn a_long_wait_offers_a_callback_once() {
    let mut h = center("").await;
    h.agent_presence(BOB_DESK, true, None).await;
    // Bob is busy with two chats; Alice is away.
    for c in [ROMEO, MERCUTIO] {
        h.customer_opens(c, "hi").await;
        let offer = h.line_to(BOB, "New chat");
        h.message(BOB_DESK, bare(offer.from().unwrap()), "take")
            .await;
    }
    h.clear();
    h.customer_opens(JULIET, "hello").await;
    h.line_to(
        JULIET_BARE,
        "The wait is about 4 minutes. Rather be written to later",
    );
    h.message(JULIET, HELP, "still there?").await;
    assert!(
        !h.has_line_to(JULIET_BARE, "Rather be written to later"),
        "offered once"
    );
    // She keeps waiting: the offer is not forced on her.
    h.message(JULIET, HELP, "callback").await;
    h.line_to(JULIET_BARE, "When should we write to you? For example:");
    h.message(JULIET, HELP, "keep waiting").await;
    h.line_to(JULIET_BARE, "you keep your place in the queue");
    assert!(stored(&h.store, JULIET_BARE).await.is_empty());
}

#[tokio::test]
async fn bad_times_and_names_are_answered_with_examples_and_alternatives() {
    let mut h = center("").await;
    juliet_offered(&mut h).await;
    h.message(JULIET, HELP, "callback").await;
    h.line_to(JULIET_BARE, "Times are read in Europe/Paris");
    h.message(JULIET, HELP, "whenever it suits you, pal").await;
    h.line_to(
        JULIET_BARE,
        "Sorry, I could not read a time in that. For example:",
    );
    h.message(JULIET, HELP, "Zoe tomorrow at 10:00").await;
    let unknown = h.line_to(JULIET_BARE, "No agent called Zoe");
    assert!(
        unknown.body().unwrap().contains("Alice, Bob"),
        "{}",
        unknown.body().unwrap()
    );
    h.message(JULIET, HELP, "today at 9:00").await;
    h.line_to(JULIET_BARE, "has already passed");
    h.message(JULIET, HELP, "in 30 days").await;
    h.line_to(
        JULIET_BARE,
        "is too far ahead: callbacks are booked up to 7 days ahead",
    );
    // Alice is on leave on Friday 4 December and does not work at night.
    h.message(JULIET, HELP, "Alice on friday at 10:00").await;
    let off = h.line_to(JULIET_BARE, "Alice is not working on Friday 4 December");
    let text = off.body().unwrap();
    assert!(text.contains("The nearest free times:"), "{text}");
    assert!(text.contains("1. "), "{text}");
    assert!(
        text.contains("— Bob"),
        "another capable agent is proposed: {text}"
    );
    h.message(JULIET, HELP, "1").await;
    h.line_to(JULIET_BARE, "Booked:");
    assert_eq!(stored(&h.store, JULIET_BARE).await.len(), 1);
}

#[tokio::test]
async fn two_customers_racing_for_the_last_slot_one_gets_it_the_other_alternatives() {
    let mut h = center("").await;
    h.customer_opens(JULIET, "hello").await;
    h.customer_opens(ROMEO, "hello").await;
    h.clear();
    // Both ask for Alice at the same time, handled in one go.
    h.message(JULIET, HELP, "callback Alice today at 14:00")
        .await;
    h.message(ROMEO, HELP, "callback Alice today at 14:00")
        .await;
    h.line_to(JULIET_BARE, "Booked: Alice");
    let full = h.line_to(
        ROMEO_BARE,
        "Alice is fully booked on Tuesday 1 December at 14:00",
    );
    let text = full.body().unwrap();
    assert!(
        text.contains("2. Tuesday 1 December at 13:45 (Europe/Paris) — Alice"),
        "{text}"
    );
    assert!(
        text.contains("3. Tuesday 1 December at 14:15 (Europe/Paris) — Alice"),
        "{text}"
    );
    assert!(
        text.contains("at 14:00 (Europe/Paris) — Bob"),
        "another agent then: {text}"
    );
    h.message(ROMEO, HELP, "3").await;
    h.line_to(
        ROMEO_BARE,
        "Booked: Alice will write to you here on Tuesday 1 December at 14:15",
    );
}

#[tokio::test]
async fn a_booking_across_a_daylight_saving_change_is_made_at_the_wall_clock_time() {
    // Friday 27 March 2026, 12:00 in Paris (UTC+1); Sunday the clocks go
    // forward, so Monday 09:30 is 07:30 UTC, not 08:30.
    let start = jiff::civil::date(2026, 3, 27)
        .at(12, 0, 0, 0)
        .in_tz("Europe/Paris")
        .unwrap();
    let store = Store::connect("sqlite::memory:").await.unwrap();
    let clock = Clock::manual(start.timestamp().as_millisecond());
    let mut h = Harness::on_store(store, clock, &agents(), &routing("")).await;
    juliet_offered(&mut h).await;
    h.message(JULIET, HELP, "callback with Alice monday at 9:30")
        .await;
    h.line_to(JULIET_BARE, "on Monday 30 March at 09:30 (Europe/Paris)");
    let cb = stored(&h.store, JULIET_BARE).await.remove(0);
    let due = jiff::Timestamp::from_millisecond(cb.due_at).unwrap();
    assert_eq!(due.to_string(), "2026-03-30T07:30:00Z");
    h.agent_presence(ALICE_DESK, true, None).await;
    h.clear();
    let until_lead = (cb.due_at - 120_000 - h.clock.now_ms()) as u64;
    h.advance(Duration::from_millis(until_lead - 1000)).await;
    assert!(!h.has_line_to(ALICE, "booked by"), "{}", h.dump());
    h.advance(Duration::from_millis(1000)).await;
    h.line_to(
        ALICE,
        "booked by juliet@customer.test for Monday 30 March at 09:30 (Europe/Paris)",
    );
}

#[tokio::test]
async fn a_restart_between_booking_and_callback_loses_nothing() {
    let mut h = center("").await;
    juliet_offered(&mut h).await;
    h.message(JULIET, HELP, "callback Bob in 10 minutes").await;
    h.line_to(JULIET_BARE, "Booked: Bob");
    let mut h = h.restart(&agents(), &routing("")).await;
    h.agent_presence(BOB_DESK, true, None).await;
    h.clear();
    h.advance(Duration::from_secs(8 * MIN)).await;
    h.line_to(BOB, "booked by juliet@customer.test");
    // And over a restart between the lead time and the time.
    let mut h = h.restart(&agents(), &routing("")).await;
    h.agent_presence(BOB_DESK, true, None).await;
    h.clear();
    h.advance(Duration::from_secs(2 * MIN)).await;
    h.line_to(JULIET_BARE, "Hello, this is Bob, writing to you as booked.");
}

#[tokio::test]
async fn an_agent_away_at_the_lead_time_is_replaced_and_the_customer_told() {
    let mut h = center("").await;
    h.agent_presence(SUE_DESK, true, None).await;
    juliet_offered(&mut h).await;
    h.message(JULIET, HELP, "callback Bob in 10 minutes").await;
    h.line_to(JULIET_BARE, "Booked: Bob");
    h.agent_presence(ALICE_DESK, true, None).await;
    h.clear();
    h.advance(Duration::from_secs(8 * MIN)).await;
    h.line_to(ALICE, "You stand in for Bob");
    h.line_to(SUE, "Bob is not available: Alice makes it");
    h.advance(Duration::from_secs(2 * MIN)).await;
    h.line_to(
        JULIET_BARE,
        "Bob cannot make it, so Alice is writing to you instead",
    );
    h.line_to(JULIET_BARE, "Hello, this is Alice");
}

#[tokio::test]
async fn with_nobody_there_the_callback_is_reported_and_the_customer_queued() {
    let mut h = center("").await;
    h.agent_presence(SUE_DESK, true, None).await;
    juliet_offered(&mut h).await;
    h.message(JULIET, HELP, "callback Bob in 10 minutes").await;
    let id = stored(&h.store, JULIET_BARE).await.remove(0).id;
    h.clear();
    h.advance(Duration::from_secs(8 * MIN)).await;
    h.line_to(
        SUE,
        "failed: Bob is not available and nobody else is; the customer is queued",
    );
    h.line_to(JULIET_BARE, "nobody could write to you at the time booked");
    let cb = h.store.callback_get(&id).await.unwrap().unwrap();
    assert_eq!(cb.state, CallbackState::Failed);
    // Queued: when she writes, the first agent back gets the live chat
    // (away, it would wait for an agent taking async ones).
    h.message(JULIET, HELP, "is anyone there?").await;
    h.agent_presence(BOB_DESK, true, None).await;
    h.line_to(BOB, "New chat from juliet@customer.test");
}

#[tokio::test]
async fn with_the_new_time_fallback_the_customer_chooses_again() {
    let mut h = center("fallback = \"new-time\"").await;
    juliet_offered(&mut h).await;
    h.message(JULIET, HELP, "callback Bob in 10 minutes").await;
    h.line_to(JULIET_BARE, "Booked: Bob");
    h.clear();
    h.advance(Duration::from_secs(8 * MIN)).await;
    let menu = h.line_to(
        JULIET_BARE,
        "Bob cannot make it at the time booked, sorry. Choose a new time:",
    );
    assert!(
        menu.body().unwrap().contains("1. "),
        "{}",
        menu.body().unwrap()
    );
    h.message(JULIET, HELP, "1").await;
    h.line_to(JULIET_BARE, "Booked:");
    let cbs = stored(&h.store, JULIET_BARE).await;
    assert_eq!(cbs.len(), 1);
    assert_eq!(cbs[0].state, CallbackState::Booked);
}

#[tokio::test]
async fn the_customer_lists_moves_and_cancels_and_a_supervisor_reassigns() {
    let mut h = center("").await;
    h.agent_presence(SUE_DESK, true, None).await;
    juliet_offered(&mut h).await;
    h.message(JULIET, HELP, "callback Alice tomorrow at 10:00")
        .await;
    h.line_to(JULIET_BARE, "Booked: Alice");
    h.message(JULIET, HELP, "my callback").await;
    h.line_to(
        JULIET_BARE,
        "Wednesday 2 December at 10:00 (Europe/Paris) — Alice",
    );
    assert!(h.session_states().await.is_empty(), "no new chat");
    h.message(JULIET, HELP, "move callback to tomorrow at 11:00")
        .await;
    h.line_to(
        JULIET_BARE,
        "Booked: Alice will write to you here on Wednesday 2 December at 11:00",
    );
    h.control(ALICE_DESK, "callbacks").await;
    let list = h.line_to(ALICE, "juliet@customer.test with Alice (booked)");
    let id = list
        .body()
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    h.control(ALICE_DESK, &format!("!callbacks reassign {id} Bob"))
        .await;
    h.line_to(ALICE, "Forbidden");
    h.control(SUE_DESK, &format!("!callbacks reassign {id} Bob"))
        .await;
    h.line_to(SUE, "is now Bob's");
    h.line_to(
        JULIET_BARE,
        "Booked: Bob will write to you here on Wednesday 2 December at 11:00",
    );
    h.message(JULIET, HELP, "cancel callback").await;
    h.line_to(
        JULIET_BARE,
        "Your callback of Wednesday 2 December at 11:00 (Europe/Paris) is cancelled.",
    );
    assert!(stored(&h.store, JULIET_BARE).await.is_empty());
    h.agent_presence(BOB_DESK, true, None).await;
    h.clear();
    h.advance(Duration::from_secs(1500 * MIN)).await;
    assert!(
        !h.has_line_to(BOB, "booked by"),
        "a cancelled callback is not made: {}",
        h.dump()
    );
}

#[tokio::test]
async fn the_same_person_as_last_time_is_the_agent_the_customer_spoke_with() {
    let mut h = center("").await;
    h.agent_presence(BOB_DESK, true, None).await;
    h.customer_opens(JULIET, "hello").await;
    let offer = h.line_to(BOB, "New chat from juliet@customer.test");
    let proxy = bare(offer.from().unwrap()).to_string();
    h.message(BOB_DESK, &proxy, "take").await;
    h.message(BOB_DESK, &proxy, "close").await;
    h.agent_presence(BOB_DESK, false, None).await;
    h.clear();
    juliet_offered(&mut h).await;
    h.message(
        JULIET,
        HELP,
        "callback, the same person as last time, tomorrow at 10:00",
    )
    .await;
    h.line_to(
        JULIET_BARE,
        "Booked: Bob will write to you here on Wednesday 2 December at 10:00",
    );
}
