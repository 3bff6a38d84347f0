//! Stock converse.js in headless Chromium as a web customer, over
//! WebSocket (RFC 7395) and over BOSH (XEP-0206): it logs in anonymously
//! on the web domain, writes to the entry JID, and the agent, a slixmpp
//! client on Switchboard, answers; what the agent writes is read off the
//! page's DOM. Typing notifications pass both ways, a pushed page reaches
//! the page as a link, and receipts come back.

mod common;

use common::{line_with, new_session, rich_agent, Browser, Client, ServerOpts, TestServer};
use serde_json::json;

const ALICE: &str = "alice@agents.support.test";
const HELP: &str = "help@support.test";
const PW: &str = "pw";
pub const WEB: &str = "web.support.test";

/// Switchboard with an HTTP listener, a web domain for anonymous visitors,
/// and Alice, who serves the web channel, on one queue behind help@.
fn center() -> TestServer {
    let agents = format!(
        "[[agent]]\njid = \"{ALICE}\"\nname = \"Alice\"\ntier = 1\nskills = []\n\
         protocols = [\"xmpp\", \"web\"]\nmax_live = 3\nmax_async = 3\n"
    );
    let routing = format!(
        "[defaults]\nassign = \"direct\"\n\n[[queue]]\nname = \"general\"\n\
         entry = [\"{HELP}\"]\nskills = []\nstrategy = \"longest-idle\"\n"
    );
    TestServer::start(
        ServerOpts::default()
            .account(ALICE, PW)
            .agents_toml(&agents)
            .routing_toml(&routing)
            .extra_toml(&format!(
                "[http]\nlisten = [\"127.0.0.1:0\"]\n\n[web]\ndomain = \"{WEB}\"\n\
                 anonymous = true\ntoken_secret = \"a test secret that is long enough!!\"\n"
            )),
    )
}

/// Opens converse.js on `query` (`ws=…` or `bosh=…`), waits for it to be
/// logged in, and opens the chat with the entry JID.
fn converse_customer(browser: &mut Browser, query: &str) {
    browser.open(&format!("/pages/converse.html?domain={WEB}&{query}"));
    browser.wait_js("window.sb && window.sb.connected");
    let jid = browser.eval("window.sb.api.connection.get().jid");
    assert!(
        jid.as_str()
            .is_some_and(|j| j.contains(&format!("@{WEB}/"))),
        "converse.js logged in as {jid} (anonymous on {WEB})"
    );
    let opened = browser.eval(&format!(
        "Promise.race([window.sb.api.chats.open('{HELP}', {{}}, true).then(c => 'ok ' + (c && c.get('jid'))).catch(e => 'err ' + e), new Promise(ok => setTimeout(() => ok('timeout'), 5000))])"
    ));
    assert!(
        opened.as_str().is_some_and(|o| o.starts_with("ok")),
        "the chat opened: {opened}"
    );
    browser.run(json!({"cmd": "wait_for", "selector": "textarea.chat-textarea"}));
}

/// Writes `text` in the open chat as a person would: typed, then Enter.
fn customer_writes(browser: &mut Browser, text: &str) {
    browser.run(json!({"cmd": "type", "selector": "textarea.chat-textarea", "text": text}));
    browser.run(json!({"cmd": "press", "selector": "textarea.chat-textarea", "key": "Enter"}));
}

/// The whole conversation, on either transport.
async fn a_chat(query_of: impl Fn(&TestServer) -> String, shot: &str) {
    let sb = center();
    let mut alice = Client::login(&sb, ALICE, PW, rich_agent()).await;
    // The web domain is this server: it answers (converse.js asks it
    // before it opens any chat).
    let info = alice.request(json!({"cmd": "disco_info", "to": WEB})).await;
    assert_eq!(info["event"], "disco_info", "{info}");

    let mut browser = Browser::start();
    converse_customer(&mut browser, &query_of(&sb));

    customer_writes(&mut browser, "Hello, my order has not arrived");
    let proxy = new_session(&mut alice).await;
    let first = line_with(&mut alice, "my order has not arrived").await;
    assert_eq!(first["from"], proxy.as_str());
    // The agent types, then answers: the page shows both.
    alice.send(json!({"cmd": "message", "to": proxy, "type": "chat",
        "payload": "<composing xmlns='http://jabber.org/protocol/chatstates'/>"}));
    browser.wait_text(".chat-content__notifications", "typing");
    alice.send(json!({"cmd": "message", "to": proxy, "type": "chat",
        "body": "Sorry to hear that! Let me check the tracking."}));
    browser.wait_text(".chat-msg__text", "Let me check the tracking");

    // A pushed page is a link on the page (XEP-0066 with the title).
    alice.send(json!({"cmd": "message", "to": proxy, "type": "chat",
        "body": format!("/push {}/pages/pushed.html Tracking your parcel", browser.origin())}));
    line_with(&mut alice, "Pushed to the customer").await;
    browser.wait_text(".chat-msg__text", "/pages/pushed.html");

    customer_writes(&mut browser, "Thanks!");
    let thanks = line_with(&mut alice, "Thanks!").await;
    // The customer's typing reached the agent as chat states (XEP-0085):
    // those before the first message were not, there was no session yet.
    assert!(
        alice.seen().iter().any(|e| e["event"] == "message"
            && e["from"] == proxy.as_str()
            && e["xml"].as_str().is_some_and(|x| x.contains("composing"))),
        "no composing state from the customer: {:?}",
        alice.seen()
    );

    assert!(
        thanks["xml"]
            .as_str()
            .is_some_and(|x| x.contains("urn:xmpp:receipts")),
        "converse.js asks for a receipt: {thanks}"
    );
    browser.screenshot(shot);
}

#[tokio::test]
async fn converse_over_websocket_chats_with_an_agent() {
    a_chat(
        |sb| format!("ws=ws://{}/xmpp-websocket", sb.addr("http")),
        "converse-websocket.png",
    )
    .await;
}

#[tokio::test]
async fn converse_over_bosh_chats_with_an_agent() {
    a_chat(
        |sb| format!("bosh=http://{}/http-bind", sb.addr("http")),
        "converse-bosh.png",
    )
    .await;
}
