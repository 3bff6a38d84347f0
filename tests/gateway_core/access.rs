//! The doors into the gateway: entry JIDs' presence and disco, who may
//! write where, and the agents' ad-hoc commands on the support domain.

use switchboard::xml::{ns, Condition, Stanza};

use super::harness::*;

const DISCO_INFO: &str = "<query xmlns='http://jabber.org/protocol/disco#info'/>";
const COMMAND_LIST: &str =
    "<query xmlns='http://jabber.org/protocol/disco#items' node='http://jabber.org/protocol/commands'/>";

/// A presence's `<show/>` and `<status/>`, if any.
fn show_status(p: &Stanza) -> (Option<String>, Option<String>) {
    let e = p.element().unwrap();
    let text = |name| e.get_child(name, ns::CLIENT).map(|c| c.text());
    (text("show"), text("status"))
}

/// A stanza as text, for assertions on what it holds.
fn xml(s: &Stanza) -> String {
    String::from_utf8_lossy(s.bytes()).into_owned()
}

/// The one status presence the entry sent Romeo since last asked.
fn entry_status(h: &mut Harness) -> (Option<String>, Option<String>) {
    let ps = h.presences_to(ROMEO_BARE);
    assert_eq!(ps.len(), 1, "{ps:?}");
    assert_eq!((ps[0].from(), ps[0].type_()), (Some(HELP), None));
    show_status(&ps[0])
}

/// Every ad-hoc command an agent is offered, in the order listed.
const COMMANDS: [&str; 15] = [
    "list",
    "info",
    "take",
    "close",
    "note",
    "transfer",
    "push",
    "canned",
    "duty",
    "link",
    "unlink",
    "history",
    "escalate",
    "category",
    "callbacks",
];

#[tokio::test]
async fn entry_presence_tells_whether_anyone_is_there() {
    let mut h = Harness::start(&agents_toml(2), &routing_toml("direct", "", "")).await;
    h.presence(ROMEO_BARE, HELP, Some("subscribe")).await;
    let ps = h.presences_to(ROMEO_BARE);
    let types: Vec<_> = ps.iter().map(|p| p.type_()).collect();
    assert_eq!(
        types,
        [Some("subscribed"), Some("subscribe"), None],
        "approved, asked back, the status"
    );
    let (show, status) = show_status(&ps[2]);
    assert_eq!(show.as_deref(), Some("xa"), "nobody on duty");
    assert_eq!(
        status.as_deref(),
        Some("No agent on duty right now — write, and we reply as soon as one is"),
        "open hours, but nobody there"
    );

    h.agent_presence(ALICE_DESK, true, None).await;
    assert_eq!(entry_status(&mut h), (None, None), "an agent is there");
    h.agent_presence(ALICE_DESK, true, Some("away")).await;
    let (show, status) = entry_status(&mut h);
    assert_eq!(show.as_deref(), Some("away"));
    assert_eq!(status.as_deref(), Some("All agents busy — about 4 min"));
    h.agent_presence(ALICE_DESK, false, None).await;
    assert_eq!(entry_status(&mut h).0.as_deref(), Some("xa"));
    // A probe is answered with the same status.
    h.presence(ROMEO_BARE, HELP, Some("probe")).await;
    assert_eq!(entry_status(&mut h).0.as_deref(), Some("xa"));

    // The entry answers disco#info as a chat partner that shows receipts.
    let info = h.iq(ROMEO, HELP, "get", DISCO_INFO).await;
    assert_eq!(info.type_(), Some("result"), "{}", xml(&info));
    let e = info.element().unwrap();
    let q = e.get_child("query", ns::DISCO_INFO).unwrap();
    let identity = q.get_child("identity", ns::DISCO_INFO).unwrap();
    assert_eq!(identity.attr("category"), Some("client"));
    let features: Vec<_> = q.children().filter_map(|f| f.attr("var")).collect();
    assert!(features.contains(&ns::RECEIPTS), "{features:?}");
}

#[tokio::test]
async fn customers_cannot_reach_agents_or_other_sessions_directly() {
    let mut h = Harness::start(&agents_toml(2), &routing_toml("direct", "", "")).await;
    h.agents_online().await;
    assert_eq!(h.screen_to_account(ROMEO_BARE), None, "not a customer yet");
    h.customer_opens(ROMEO, "hi").await;
    let proxy = h.work_item(ALICE).contact;
    // Bob writes into Alice's session.
    h.message(BOB_DESK, &proxy, "let me in").await;
    let (condition, e) = h.error_to(BOB_DESK);
    assert_eq!(
        (condition.as_str(), e.from()),
        ("forbidden", Some(proxy.as_str()))
    );
    // Romeo writes to the proxy, to an unknown one, and to Alice herself
    // (the router asks the support domain's policy).
    h.message(ROMEO, &proxy, "sneaky").await;
    assert_eq!(h.error_to(ROMEO).0, "forbidden");
    h.message(ROMEO, "s-nothere@support.test", "anyone?").await;
    assert_eq!(h.error_to(ROMEO).0, "item-not-found");
    assert_eq!(
        h.screen_to_account(ROMEO_BARE),
        Some(Condition::ServiceUnavailable)
    );
    assert!(!h.has_line_to(ROMEO_BARE, "let me in") && !h.has_line_to(ALICE, "sneaky"));
    // Agents do not open sessions at entry JIDs.
    h.message(BOB_DESK, HELP, "testing").await;
    assert_eq!(h.error_to(BOB_DESK).0, "not-acceptable");
}

/// `<command node='NODE' .../>` with `inner`, executed.
fn command(node: &str, inner: &str) -> String {
    format!(
        "<command xmlns='{}' node='{node}' action='execute'>{inner}</command>",
        ns::COMMANDS
    )
}

#[tokio::test]
async fn ad_hoc_commands_are_listed_and_run_for_agents_only() {
    let mut h = Harness::start(&agents_toml(2), &routing_toml("direct", "", "")).await;
    h.agent_presence(ALICE_DESK, true, None).await;
    h.customer_opens(ROMEO, "help me").await;
    let proxy = h.work_item(ALICE).contact;
    let id = proxy.split('@').next().unwrap().to_string();

    let items = h.iq(ALICE_DESK, SUPPORT, "get", COMMAND_LIST).await;
    let q = items.element().unwrap();
    let q = q.get_child("query", ns::DISCO_ITEMS).unwrap();
    let nodes: Vec<_> = q.children().filter_map(|i| i.attr("node")).collect();
    assert_eq!(nodes, COMMANDS);
    let denied = h.iq(ROMEO, SUPPORT, "get", COMMAND_LIST).await;
    assert_eq!(condition(&denied).as_deref(), Some("forbidden"));

    let list = xml(&h.iq(ALICE_DESK, SUPPORT, "set", &command("list", "")).await);
    assert!(list.contains("completed"), "{list}");
    assert!(
        list.contains(&format!("live {proxy} romeo@customer.test")),
        "{list}"
    );
    // close: first the form, listing this session, then the submit.
    let form = xml(&h
        .iq(ALICE_DESK, SUPPORT, "set", &command("close", ""))
        .await);
    assert!(form.contains("executing"), "{form}");
    assert!(form.contains(&format!("<value>{id}</value>")), "{form}");
    let submit = format!(
        "<x xmlns='jabber:x:data' type='submit'><field var='session'><value>{id}</value></field></x>"
    );
    let done = xml(&h
        .iq(ALICE_DESK, SUPPORT, "set", &command("close", &submit))
        .await);
    assert!(done.contains("completed"), "{done}");
    assert!(done.contains(&format!("Session {id} closed.")), "{done}");
    h.line_to(ROMEO_BARE, "This chat is closed");
    assert_eq!(h.roster_removes(ALICE), [proxy.as_str()]);
    let empty = xml(&h.iq(ALICE_DESK, SUPPORT, "set", &command("list", "")).await);
    assert!(empty.contains("No sessions."), "{empty}");
    let denied = h.iq(ROMEO, SUPPORT, "set", &command("list", "")).await;
    assert_eq!(condition(&denied).as_deref(), Some("forbidden"));
}

/// Clients look for commands on their own server (Profanity's `/cmd list`
/// asks the agent domain): the router hands those the policy lists to the
/// gateway, which answers from the agent domain, where the client then
/// sends a form's submit.
#[tokio::test]
async fn ad_hoc_commands_sent_to_the_agent_domain_are_answered_from_it() {
    let mut h = Harness::start(&agents_toml(2), &routing_toml("direct", "", "")).await;
    let all = COMMANDS;
    assert_eq!(h.agent_domain_commands(), all);
    h.agent_presence(ALICE_DESK, true, None).await;
    h.customer_opens(ROMEO, "help me").await;
    let proxy = h.work_item(ALICE).contact;
    let id = proxy.split('@').next().unwrap().to_string();

    let items = h.iq(ALICE_DESK, AGENTS_DOMAIN, "get", COMMAND_LIST).await;
    assert_eq!(items.from(), Some(AGENTS_DOMAIN), "{}", xml(&items));
    let q = items.element().unwrap();
    let q = q.get_child("query", ns::DISCO_ITEMS).unwrap();
    let listed: Vec<_> = q
        .children()
        .map(|i| (i.attr("jid").unwrap(), i.attr("node").unwrap()))
        .collect();
    let expected: Vec<_> = all.iter().map(|n| (AGENTS_DOMAIN, *n)).collect();
    assert_eq!(listed, expected, "run where they were listed");

    let list = h
        .iq(ALICE_DESK, AGENTS_DOMAIN, "set", &command("list", ""))
        .await;
    assert_eq!(list.from(), Some(AGENTS_DOMAIN));
    assert!(xml(&list).contains(&format!("live {proxy} romeo@customer.test")));
    let form = h
        .iq(ALICE_DESK, AGENTS_DOMAIN, "set", &command("close", ""))
        .await;
    assert_eq!(form.from(), Some(AGENTS_DOMAIN));
    assert!(xml(&form).contains("executing"), "{}", xml(&form));
    let submit = format!(
        "<x xmlns='jabber:x:data' type='submit'><field var='session'><value>{id}</value></field></x>"
    );
    let done = h
        .iq(ALICE_DESK, AGENTS_DOMAIN, "set", &command("close", &submit))
        .await;
    assert_eq!(done.from(), Some(AGENTS_DOMAIN));
    assert!(
        xml(&done).contains(&format!("Session {id} closed.")),
        "{}",
        xml(&done)
    );
    h.line_to(ROMEO_BARE, "This chat is closed");

    // Another account of the agent domain finds no commands and may run
    // none; the support domain still refuses it both.
    const CAROL_DESK: &str = "carol@agents.support.test/desk";
    let none = h.iq(CAROL_DESK, AGENTS_DOMAIN, "get", COMMAND_LIST).await;
    assert_eq!(none.type_(), Some("result"), "{}", xml(&none));
    let q = none.element().unwrap();
    assert_eq!(
        q.get_child("query", ns::DISCO_ITEMS)
            .unwrap()
            .children()
            .count(),
        0
    );
    let denied = h
        .iq(CAROL_DESK, AGENTS_DOMAIN, "set", &command("list", ""))
        .await;
    assert_eq!(
        (condition(&denied).as_deref(), denied.from()),
        (Some("forbidden"), Some(AGENTS_DOMAIN))
    );
    let denied = h.iq(CAROL_DESK, SUPPORT, "get", COMMAND_LIST).await;
    assert_eq!(condition(&denied).as_deref(), Some("forbidden"));
}
