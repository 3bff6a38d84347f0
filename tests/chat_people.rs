//! The people in the chat, end to end: an agent in a real client (slixmpp)
//! is welcomed at login, gets an offer from a work-list contact that is
//! online with the customer and shows what the customer wrote, takes it
//! with a bare word, and gets no answer to chat states; a French customer
//! on a real Prosody hears Switchboard's own lines in French.

mod center;
mod common;

use center::*;
use common::{Client, Db, TIMEOUT};
use serde_json::{json, Value};

const SUPPORT: &str = "support.test";
const COMPOSING: &str = "<composing xmlns='http://jabber.org/protocol/chatstates'/>";

/// The next message from the support domain itself (the control JID).
async fn from_support(agent: &mut Client) -> Value {
    agent
        .expect_what(
            "a message from the support domain",
            |e| {
                e["event"] == "message"
                    && e["from"].as_str() == Some(SUPPORT)
                    && !e["body"].is_null()
            },
            TIMEOUT,
        )
        .await
}

/// A chat state alone, no body, as Profanity sends after typing.
fn chat_state(agent: &mut Client, to: &str) {
    agent.send(json!({"cmd": "message", "to": to, "payload": COMPOSING}));
}

#[tokio::test]
async fn an_agent_in_a_real_client_and_a_french_customer() {
    let routing = "[defaults]\nassign = \"offer\"\n\n[[queue]]\nname = \"general\"\n\
                   entry = [\"help@support.test\"]\n";
    let c = center(Db::Sqlite, routing, true);
    let mut alice = agent(&c, ALICE).await;
    let welcome = from_support(&mut alice).await;
    assert!(
        body(&welcome).starts_with("Welcome, Alice. You are on duty"),
        "{welcome}"
    );

    let mut juliet = customer(&c, JULIET).await;
    juliet
        .request_ok(
            json!({"cmd": "message", "to": HELP, "body": "ma facture est fausse", "lang": "fr"}),
        )
        .await;
    // The contact first, in the work list's Offered group, online as the
    // customer is; then the offer from it, with what she wrote.
    let proxy = work_item_in(&mut alice, "Offered").await;
    alice.expect_presence(&proxy, "available").await;
    let offer = line_containing(&mut alice, "New chat from juliet@customer.test").await;
    assert_eq!(offer["from"].as_str(), Some(proxy.as_str()), "{offer}");
    let text = body(&offer);
    assert!(text.contains("\n> ma facture est fausse\n"), "{text}");
    assert!(text.contains("Write take to accept"), "{text}");

    // A chat state to the support domain gets nothing: the next line from
    // it answers the command sent after.
    chat_state(&mut alice, SUPPORT);
    alice.message(SUPPORT, "list").await;
    let list = from_support(&mut alice).await;
    assert!(body(&list).contains(&format!("offered {proxy}")), "{list}");

    alice.message(&proxy, "take").await;
    juliet
        .expect_message(HELP, "Vous discutez maintenant avec Alice.")
        .await;
    alice.message(&proxy, "Je regarde").await;
    juliet.expect_message(HELP, "Je regarde").await;
    alice.message(&proxy, "close").await;
    juliet
        .expect_message(
            HELP,
            "Cette conversation est terminée. Écrivez-nous quand vous voulez.",
        )
        .await;

    // A chat state to the closed session's contact is dropped: no error
    // comes before the answer to the next command.
    chat_state(&mut alice, &proxy);
    alice.message(SUPPORT, "list").await;
    let list = from_support(&mut alice).await;
    assert_eq!(body(&list), "No sessions.", "{list}");
    let errors: Vec<&Value> = alice
        .seen()
        .iter()
        .filter(|e| e["event"] == "message" && e["type"] == "error")
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
}

/// A crowd at once, two agents working through it one chat at a time:
/// every move of the line would be a message to everyone behind it, but
/// each customer hears of their place only a few times.
#[tokio::test]
async fn a_crowd_served_fast_hears_of_its_place_a_few_times_each() {
    use common::{ClientOpts, ServerOpts, TestServer};
    const CROWD: usize = 50;
    let customers: Vec<String> = (0..CROWD)
        .map(|i| format!("c{i:02}@agents.support.test"))
        .collect();
    let agents = format!(
        "[[agent]]\njid = \"{ALICE}\"\nname = \"Alice\"\nprotocols = [\"xmpp\"]\nmax_live = 1\n\n\
         [[agent]]\njid = \"{BOB}\"\nname = \"Bob\"\nprotocols = [\"xmpp\"]\nmax_live = 1\n"
    );
    let routing = "[defaults]\nassign = \"direct\"\n\n[[queue]]\nname = \"general\"\n\
                   entry = [\"help@support.test\"]\n";
    let mut opts = ServerOpts::default()
        .account(ALICE, PW)
        .account(BOB, PW)
        .agents_toml(&agents)
        .routing_toml(routing);
    for c in &customers {
        opts = opts.account(c, PW);
    }
    let sb = TestServer::start(opts);
    let mut alice = Client::login(&sb, ALICE, PW, ClientOpts::default()).await;
    let mut bob = Client::login(&sb, BOB, PW, ClientOpts::default()).await;
    // All log in at once, then all write.
    let mut crowd: Vec<Client> = customers
        .iter()
        .map(|c| Client::connect(&sb, c, PW, ClientOpts::default()))
        .collect();
    for c in &mut crowd {
        c.wait_session_start().await;
    }
    for c in &mut crowd {
        c.message(HELP, "hello").await;
    }
    // Each agent closes each chat as soon as it is theirs, until everyone
    // has been served. Whichever agent gets the next one: with both free,
    // the longest idle does, so the two need not take turns.
    for _ in 0..CROWD {
        let (first, proxy) = tokio::select! {
            p = work_item_live(&mut alice) => (true, p),
            p = work_item_live(&mut bob) => (false, p),
        };
        let agent = if first { &mut alice } else { &mut bob };
        agent.message(&proxy, "close").await;
    }
    let mut updates = Vec::new();
    for c in &mut crowd {
        c.expect_what(
            "the farewell",
            |e| e["event"] == "message" && body(e).starts_with("This chat is closed"),
            TIMEOUT,
        )
        .await;
        let n = c
            .seen()
            .iter()
            .filter(|e| e["event"] == "message" && body(e).contains("in the queue"))
            .count();
        updates.push(n);
    }
    updates.sort_unstable();
    assert!(
        *updates.last().unwrap() <= 3,
        "at most 3 place updates each: {updates:?}"
    );
}

/// Two customers on a real Prosody, one whose client speaks French and
/// one English, waiting for one agent: their place, the agent's name, the
/// farewell and, with nobody on duty, that nobody can help, each in their
/// own language.
#[tokio::test]
async fn french_and_english_customers_hear_switchboard_in_their_language() {
    let agents = format!(
        "[[agent]]\njid = \"{ALICE}\"\nname = \"Alice\"\nprotocols = [\"xmpp\"]\nmax_live = 1\n"
    );
    let routing = "[defaults]\nassign = \"direct\"\nwait_estimate_secs = 120\n\n[[queue]]\n\
                   name = \"general\"\nentry = [\"help@support.test\"]\n";
    let c = center_with(Db::Sqlite, &agents, routing, true);
    let mut alice = agent(&c, ALICE).await;
    let mut mercutio = customer(&c, MERCUTIO).await;
    mercutio.message(HELP, "me first").await;
    let first = work_item_live(&mut alice).await;
    let mut juliet = customer(&c, JULIET).await;
    let mut romeo = customer(&c, ROMEO).await;
    let write =
        |lang: &str, body: &str| json!({"cmd": "message", "to": HELP, "body": body, "lang": lang});
    juliet.request_ok(write("fr", "bonjour")).await;
    juliet
        .expect_message(
            HELP,
            "Vous êtes numéro 1 dans la file d'attente ; l'attente est d'environ 2 min.",
        )
        .await;
    romeo.request_ok(write("en-GB", "hello")).await;
    romeo
        .expect_message(
            HELP,
            "You are number 2 in the queue; the wait is about 4 min.",
        )
        .await;

    alice.message(&first, "close").await;
    let second = work_item_live(&mut alice).await;
    juliet
        .expect_message(HELP, "Vous discutez maintenant avec Alice.")
        .await;
    romeo
        .expect_message(
            HELP,
            "You are number 1 in the queue; the wait is about 2 min.",
        )
        .await;
    alice.message(&second, "close").await;
    juliet
        .expect_message(
            HELP,
            "Cette conversation est terminée. Écrivez-nous quand vous voulez.",
        )
        .await;
    let third = work_item_live(&mut alice).await;
    romeo
        .expect_message(HELP, "You are now chatting with Alice.")
        .await;
    alice.message(&third, "close").await;
    romeo
        .expect_message(HELP, "This chat is closed. Write again any time.")
        .await;

    // Nobody on duty now: each is told so, in their language.
    alice.disconnect().await;
    juliet.request_ok(write("fr", "il y a quelqu'un ?")).await;
    juliet
        .expect_message(
            HELP,
            "Personne ne peut traiter votre demande pour le moment. Vos messages sont conservés, \
             et nous vous répondons dès que quelqu'un est disponible.",
        )
        .await;
    romeo.request_ok(write("en", "anyone?")).await;
    romeo
        .expect_message(
            HELP,
            "Nobody who can help with this is on duty right now. Your messages are kept, \
             and we answer as soon as someone is.",
        )
        .await;
}

/// The proxy JID of the next session pushed into the agent's work list as live.
async fn work_item_live(agent: &mut Client) -> String {
    work_item_in(agent, "Live").await
}

/// The proxy JID of the next session pushed into the agent's work list in
/// `group` (added or moved there, not removed).
async fn work_item_in(agent: &mut Client, group: &str) -> String {
    let push = agent
        .expect_what(
            &format!("a session in the work list's group {group}"),
            |e| {
                e["event"] == "roster_push"
                    && e["items"][0]["groups"][0] == group
                    && e["items"][0]["subscription"] != "remove"
            },
            TIMEOUT,
        )
        .await;
    push["items"][0]["jid"].as_str().unwrap().to_string()
}
