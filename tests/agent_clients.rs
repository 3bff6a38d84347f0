//! Agents in real clients that are not ours: Profanity (Debian's 0.13) in
//! a tmux of its own, read off its screen (`common/profanity.rs`). What the
//! gateway sends is checked stanza by stanza elsewhere (`gateway.rs`,
//! `gateway_core/`); here, that an agent can work with what a client
//! shows: the offer, its commands, the ad-hoc commands it finds on its own
//! server.

mod common;

use std::time::Instant;

use common::{Client, ClientOpts, Profanity, ServerOpts, TestServer, TIMEOUT};
use serde_json::json;

const ALICE: &str = "alice@agents.support.test";
/// A customer with an account on the agent domain: any customer will do,
/// and this one needs no peer server.
const JULIET: &str = "juliet@agents.support.test";
const HELP: &str = "help@support.test";
const PW: &str = "pw";
const COMMANDS: &str = "http://jabber.org/protocol/commands";

/// Switchboard with agent Alice, who takes offers, behind help@.
fn center() -> TestServer {
    let agents = format!(
        "[[agent]]\njid = \"{ALICE}\"\nname = \"Alice\"\ntier = 1\nskills = []\n\
         protocols = [\"xmpp\"]\nmax_live = 2\nmax_async = 5\n"
    );
    // An offer that cannot lapse while the test reads the screen.
    let routing = format!(
        "[defaults]\nassign = \"offer\"\noffer_timeout_secs = 120\n\n\
         [[queue]]\nname = \"general\"\nentry = [\"{HELP}\"]\nskills = []\n\
         strategy = \"longest-idle\"\n"
    );
    TestServer::start(
        ServerOpts::default()
            .account(ALICE, PW)
            .account(JULIET, PW)
            .agents_toml(&agents)
            .routing_toml(&routing),
    )
}

#[tokio::test]
async fn an_agent_in_profanity_takes_an_offer_answers_and_finds_the_ad_hoc_commands() {
    let started = Instant::now();
    let sb = center();
    let alice = Profanity::login(&sb, ALICE, PW).await;
    let mut juliet = Client::login(&sb, JULIET, PW, ClientOpts::default()).await;

    juliet.message(HELP, "my invoice is wrong").await;
    // The offer opens a window of its own; the console says so, with the
    // work-list contact's name.
    alice
        .wait_for("chat message: juliet · agents.support.test", TIMEOUT)
        .await;
    let id = sb.db_value("SELECT id FROM sessions");
    let proxy = format!("{id}@support.test");
    alice.type_line(&format!("/msg {proxy}"));
    for line in [
        "New chat from juliet@agents.support.test",
        "> my invoice is wrong",
        "Write take to accept",
    ] {
        alice.wait_for(line, TIMEOUT).await;
    }

    alice.type_line("take");
    alice
        .wait_for(&format!("Session {id} is yours."), TIMEOUT)
        .await;
    alice.type_line("Let me look at it");
    juliet.expect_message(HELP, "Let me look at it").await;
    juliet.message(HELP, "thanks, it is invoice 42").await;
    alice.wait_for("thanks, it is invoice 42", TIMEOUT).await;

    // The ad-hoc commands, from the console: Profanity asks the account's
    // own server.
    alice.type_line("/win 1");
    alice.type_line("/cmd list");
    let all = [
        "callbacks",
        "canned",
        "category",
        "close",
        "duty",
        "escalate",
        "history",
        "info",
        "link",
        "list",
        "note",
        "push",
        "take",
        "transfer",
        "unlink",
    ];
    let screen = alice
        .wait_until("the fifteen commands", |s| listed(s) == all, TIMEOUT)
        .await;
    assert!(
        !screen.contains("does not support ad hoc commands"),
        "{screen}"
    );
    alice.type_line("/cmd exec list");
    alice.wait_for("list completed", TIMEOUT).await;
    alice
        .wait_for(&format!("live {proxy} {JULIET}"), TIMEOUT)
        .await;
    // A command with a form: Profanity opens it in a window of its own
    // and sends the submit where the form came from, the agent domain.
    alice.type_line("/cmd exec info");
    alice.wait_for("Form title: Session info", TIMEOUT).await;
    alice.type_line(&format!("/field1 {id}"));
    alice.wait_for("Field updated", TIMEOUT).await;
    alice.type_line("/form submit");
    alice.wait_for("info completed", TIMEOUT).await;
    alice
        .wait_for(
            &format!("Session {id} · {JULIET} · queue general · live"),
            TIMEOUT,
        )
        .await;

    alice.type_line(&format!("/msg {proxy}"));
    alice.type_line("close");
    alice
        .wait_for(&format!("Session {id} closed."), TIMEOUT)
        .await;
    juliet
        .expect_what(
            "the close",
            |e| {
                e["event"] == "message"
                    && e["body"]
                        .as_str()
                        .is_some_and(|b| b.contains("This chat is closed"))
            },
            TIMEOUT,
        )
        .await;
    eprintln!("profanity scenario took {:?}", started.elapsed());
}

/// The nodes under Profanity's "Ad hoc commands:", each printed on a line
/// of its own as "HH:MM:SS !   node" (the roster panel may follow on the
/// same screen line).
fn listed(screen: &str) -> Vec<&str> {
    screen
        .lines()
        .filter_map(|l| l.split_once(" !   ")?.1.split_whitespace().next())
        .collect()
}

/// What Profanity relies on, stanza by stanza (slixmpp): the agent domain
/// announces commands and lists the support domain among its items; the
/// command list and the commands sent to it are answered from it; another
/// account of the domain finds none and may run none.
#[tokio::test]
async fn the_agent_domain_announces_lists_and_hands_over_the_commands() {
    let sb = center();
    let mut alice = Client::login(&sb, ALICE, PW, ClientOpts::default()).await;
    let mut juliet = Client::login(&sb, JULIET, PW, ClientOpts::default()).await;
    let server = "agents.support.test";

    let info = alice
        .request(json!({"cmd": "disco_info", "to": server}))
        .await;
    assert!(
        info["features"]
            .as_array()
            .unwrap()
            .contains(&json!(COMMANDS)),
        "{info}"
    );
    let items = alice
        .request(json!({"cmd": "disco_items", "to": server}))
        .await;
    assert_eq!(
        items["items"],
        json!([["support.test", null, "Switchboard support"]]),
        "{items}"
    );

    let list = alice
        .request(json!({"cmd": "disco_items", "to": server, "node": COMMANDS}))
        .await;
    assert_eq!(list["from"], server, "{list}");
    let nodes: Vec<_> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i[0].as_str().unwrap(), i[1].as_str().unwrap()))
        .collect();
    assert_eq!(
        nodes,
        [
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
        ]
        .map(|n| (server, n)),
        "run where they were listed"
    );
    let run = |node: &str| {
        json!({"cmd": "iq", "type": "set", "to": server,
            "xml": format!("<command xmlns='{COMMANDS}' node='{node}' action='execute'/>")})
    };
    let done = alice.request(run("list")).await;
    assert_eq!(
        (&done["type"], &done["from"]),
        (&json!("result"), &json!(server))
    );
    assert!(
        done["xml"].as_str().unwrap().contains("No sessions."),
        "{done}"
    );
    let unknown = alice.request(run("reboot")).await;
    assert_eq!(unknown["condition"], "item-not-found", "{unknown}");

    let none = juliet
        .request(json!({"cmd": "disco_items", "to": server, "node": COMMANDS}))
        .await;
    assert_eq!(none["items"], json!([]), "{none}");
    let denied = juliet.request(run("list")).await;
    assert_eq!(
        (&denied["condition"], &denied["from"]),
        (&json!("forbidden"), &json!(server)),
        "{denied}"
    );
}
