//! What waiting customers are told: their place, paced so that a fast line
//! is a handful of messages and not one per move; that nobody can serve
//! them, when nobody on duty can; and what the entry's presence says when
//! it is closed and when it is open with nobody there.

use std::collections::HashMap;
use std::time::Duration;

use super::harness::*;

fn one_live_chat_each() -> String {
    agent_toml(ALICE, "Alice", &["xmpp"], 1, 0) + &agent_toml(BOB, "Bob", &["xmpp"], 1, 0)
}

#[tokio::test]
async fn a_crowd_served_fast_gets_a_few_place_updates_each() {
    const CROWD: usize = 60;
    let mut h = Harness::start(&one_live_chat_each(), &routing_toml("direct", "", "")).await;
    h.agents_online().await;
    let customers: Vec<String> = (0..CROWD)
        .map(|i| format!("c{i:02}@customer.test/phone"))
        .collect();
    for c in &customers {
        h.message(c, HELP, "hello").await;
    }
    h.advance(Duration::from_secs(3)).await;
    let mut current: HashMap<&str, String> = HashMap::new();
    for agent in [ALICE, BOB] {
        current.insert(agent, h.work_item(agent).contact);
    }
    // Each agent closes a chat and takes the next every 2 s, alternately:
    // the line moves once a second.
    let mut served = 2;
    let mut told: HashMap<String, usize> = HashMap::new();
    let mut count = |h: &mut Harness| {
        for c in &customers {
            let bare = c.split('/').next().unwrap();
            let n = h
                .messages_to(bare)
                .iter()
                .filter(|(_, b)| b.contains("in the queue"))
                .count();
            *told.entry(bare.to_string()).or_default() += n;
        }
    };
    count(&mut h);
    while served < CROWD {
        for (agent, desk) in [(ALICE, ALICE_DESK), (BOB, BOB_DESK)] {
            if served == CROWD {
                break;
            }
            let proxy = current[agent].clone();
            h.message(desk, &proxy, "close").await;
            h.advance(Duration::from_secs(1)).await;
            current.insert(agent, h.work_item(agent).contact);
            served += 1;
            count(&mut h);
        }
    }
    let mut per: Vec<usize> = told.values().copied().filter(|n| *n > 0).collect();
    per.sort_unstable();
    // 58 waited (two were served at once), for up to a minute each: the
    // first place, one update a minute, and "number 1".
    assert_eq!(per.len(), CROWD - 2, "{told:?}");
    assert!(per[per.len() - 1] <= 3, "at most 3 updates each: {per:?}");
    assert!(per[0] >= 1, "everyone who waited was told once: {per:?}");
}

#[tokio::test]
async fn a_customer_nobody_on_duty_can_serve_is_told_so_once_not_given_a_wait() {
    // Bob serves SMS only: no XMPP customer can be his.
    let agents =
        agent_toml(ALICE, "Alice", &["xmpp"], 1, 0) + &agent_toml(BOB, "Bob", &["sms"], 1, 0);
    let mut h = Harness::start(
        &agents,
        &routing_toml("direct", "queue_update_secs = 0", ""),
    )
    .await;
    h.agent_presence(BOB_DESK, true, None).await;
    h.customer_opens(ROMEO, "hello?").await;
    let lines: Vec<String> = h
        .messages_to(ROMEO_BARE)
        .into_iter()
        .map(|(_, b)| b)
        .collect();
    assert_eq!(
        lines,
        [
            "Nobody who can help with this is on duty right now. Your messages are kept, \
          and we answer as soon as someone is."
        ]
    );
    h.customer_opens(JULIET, "me too").await;
    h.message(ROMEO, HELP, "anyone?").await;
    h.advance(Duration::from_secs(120)).await;
    assert!(
        h.messages_to(ROMEO_BARE).is_empty(),
        "told once: {}",
        h.dump()
    );
    h.agent_presence(ALICE_DESK, true, None).await;
    h.line_to(ROMEO_BARE, "You are now chatting with Alice");
    h.line_to(JULIET_BARE, "You are number 1 in the queue");
}

#[tokio::test]
async fn the_entry_says_closed_outside_hours_and_unstaffed_inside_them() {
    // The clock starts on a Tuesday at 10:00 UTC: open until 10:30.
    let calendar = "[[calendar]]\nname = \"office\"\ntimezone = \"UTC\"\n\
                    open = [\"mon-fri 09:00-10:30\"]\n";
    let routing = format!(
        "{calendar}\n{}calendar = \"office\"\n",
        routing_toml("direct", "", "")
    );
    let mut h = Harness::start(&agents_toml(1), &routing).await;
    h.presence(ROMEO_BARE, HELP, Some("probe")).await;
    let status = |h: &mut Harness| {
        let ps = h.presences_to(ROMEO_BARE);
        let p = ps.last().expect("a status presence").element().unwrap();
        p.get_child("status", switchboard::xml::ns::CLIENT)
            .map(|s| s.text())
    };
    assert_eq!(
        status(&mut h).as_deref(),
        Some("No agent on duty right now — write, and we reply as soon as one is")
    );
    h.advance(Duration::from_secs(31 * 60)).await;
    h.presence(ROMEO_BARE, HELP, Some("probe")).await;
    assert_eq!(
        status(&mut h).as_deref(),
        Some("Closed — we reply when we open")
    );
}
