//! Switchboard's own chat page (`/chat`, web/widget.js) in headless
//! Chromium: a visitor's first message, their place in the queue, the
//! agent's name, typing and receipts, a pushed page opened beside the
//! chat, a reload that keeps the session, and the page on a phone-sized
//! screen and embedded in a company's page by one tag. Screenshots go to
//! `target/web-artifacts/`.

mod common;

use common::{
    line_with, new_session, rich_agent, Browser, Client, ClientOpts, ServerOpts, TestServer,
    TIMEOUT,
};
use serde_json::json;

const ALICE: &str = "alice@agents.support.test";
/// A local account that is no agent: a customer like any other.
const DAVE: &str = "dave@agents.support.test";
const HELP: &str = "help@support.test";
const PW: &str = "pw";
const WEB: &str = "web.support.test";

/// Alice serves XMPP and web customers, one live chat at a time, so a
/// second customer waits in line.
fn center() -> TestServer {
    let agents = format!(
        "[[agent]]\njid = \"{ALICE}\"\nname = \"Alice\"\ntier = 1\nskills = []\n\
         protocols = [\"xmpp\", \"web\"]\nmax_live = 1\nmax_async = 0\n"
    );
    let routing = format!(
        "[defaults]\nassign = \"direct\"\n\n[[queue]]\nname = \"general\"\n\
         entry = [\"{HELP}\"]\nskills = []\nstrategy = \"longest-idle\"\n"
    );
    TestServer::start(
        ServerOpts::default()
            .account(ALICE, PW)
            .account(DAVE, PW)
            .agents_toml(&agents)
            .routing_toml(&routing)
            .extra_toml(&format!(
                "[http]\nlisten = [\"127.0.0.1:0\"]\n\n[web]\ndomain = \"{WEB}\"\n\
                 anonymous = true\ntoken_secret = \"a test secret that is long enough!!\"\n\n\
                 [upload]\nmax_file_bytes = 1048576\nallowed_types = [\"image/*\", \"text/plain\"]\n"
            )),
    )
}

fn write(browser: &mut Browser, text: &str) {
    browser.run(json!({"cmd": "type", "selector": "#sb-input", "text": text}));
    browser.run(json!({"cmd": "press", "selector": "#sb-input", "key": "Enter"}));
}

fn visitor_jid(browser: &mut Browser, sb: &TestServer) -> String {
    let mut cmd = json!({"cmd": "wait_js",
        "js": "window.switchboardChat && window.switchboardChat.online && window.switchboardChat.jid"});
    let jid = browser.try_run(&mut cmd).unwrap_or_else(|e| {
        let console = browser.console();
        panic!(
            "the widget did not log in: {e}\nconsole: {console:#?}\nserver.log:\n{}",
            common::tail(&sb.log(), 60)
        )
    });
    let jid = jid.as_str().unwrap().to_string();
    jid.split('/').next().unwrap().to_string()
}

#[tokio::test]
async fn a_visitor_waits_chats_with_an_agent_and_keeps_the_chat_across_a_reload() {
    let sb = center();
    let http = sb.addr("http");
    let mut alice = Client::login(&sb, ALICE, PW, rich_agent()).await;
    // Dave's chat keeps Alice busy, so the visitor waits.
    let mut dave = Client::login(&sb, DAVE, PW, ClientOpts::default()).await;
    dave.message(HELP, "hello, Dave here").await;
    let dave_proxy = new_session(&mut alice).await;
    line_with(&mut alice, "Dave here").await;

    let mut browser = Browser::start();
    browser.open(&format!("http://{http}/chat"));
    let me = visitor_jid(&mut browser, &sb);
    assert!(
        me.starts_with("v.") && me.ends_with(&format!("@{WEB}")),
        "{me}"
    );
    // The entry's presence: Alice is online but full.
    browser.wait_js("document.getElementById('sb-status').dataset.state === 'busy'");

    write(&mut browser, "Hi, I cannot log in to my account");
    browser.wait_text("#sb-queue", "You are number 1 in the queue");
    browser.wait_text(".sb-msg.sb-out", "I cannot log in");

    // Dave's chat ends: the visitor is next, and Alice is told who it is.
    alice.send(json!({"cmd": "message", "to": dave_proxy, "type": "chat", "body": "close"}));
    let proxy = new_session(&mut alice).await;
    let first = line_with(&mut alice, "I cannot log in").await;
    assert_eq!(first["from"], proxy.as_str());
    browser.wait_text("#sb-agent", "You are chatting with Alice");
    browser.wait_text(".sb-msg.sb-system", "You are now chatting with Alice");

    // Typing, a reply, a receipt.
    alice.send(json!({"cmd": "message", "to": proxy, "type": "chat",
        "payload": "<composing xmlns='http://jabber.org/protocol/chatstates'/>"}));
    browser.wait_text("#sb-typing", "Alice is typing");
    alice.send(json!({"cmd": "message", "to": proxy, "type": "chat",
        "body": "Hello! Which e-mail address do you log in with?"}));
    browser.wait_text(".sb-msg.sb-in", "Which e-mail address");
    write(&mut browser, "jo@example.org");
    let asked = line_with(&mut alice, "jo@example.org").await;
    let xml = asked["xml"].as_str().unwrap_or_default().to_string();
    assert!(
        xml.contains("urn:xmpp:receipts"),
        "the widget asks for receipts: {xml}"
    );
    let id = asked["id"].as_str().unwrap();
    alice.send(json!({"cmd": "message", "to": proxy,
        "payload": format!("<received xmlns='urn:xmpp:receipts' id='{id}'/>")}));
    browser.wait_text(".sb-msg.sb-out", "Delivered");
    // The visitor's typing reaches Alice.
    browser.run(json!({"cmd": "type", "selector": "#sb-input", "text": "one more"}));
    alice
        .expect_what(
            "the visitor composing",
            |e| {
                e["event"] == "message"
                    && e["from"] == proxy.as_str()
                    && e["xml"].as_str().is_some_and(|x| x.contains("composing"))
            },
            TIMEOUT,
        )
        .await;
    browser.run(json!({"cmd": "fill", "selector": "#sb-input", "text": ""}));

    // A screenshot, uploaded (XEP-0363) from the page: its link reaches
    // Alice, and the file behind it is the one the visitor chose.
    let png: &[u8] = b"\x89PNG\r\n\x1a\n a visitor's screenshot";
    browser.run(
        json!({"cmd": "set_files", "selector": "#sb-file", "name": "error.png",
        "mime": "image/png", "base64": base64_of(png)}),
    );
    let link = line_with(&mut alice, "/upload/").await;
    let url = link["body"].as_str().unwrap().to_string();
    assert!(url.ends_with("/error.png"), "{url}");
    assert!(
        link["xml"].as_str().unwrap().contains("jabber:x:oob"),
        "{link}"
    );
    browser.wait_text(".sb-msg.sb-system", "Sent error.png");
    let path = url.splitn(4, '/').nth(3).unwrap();
    let (code, _, body) = get(http, &format!("/{path}"));
    assert_eq!(code, 200);
    assert_eq!(body, png, "the file as uploaded");
    // A type the center does not take is refused with the reason.
    browser.run(
        json!({"cmd": "set_files", "selector": "#sb-file", "name": "tool.exe",
        "mime": "application/x-msdownload", "base64": base64_of(b"MZ")}),
    );
    browser.wait_text(".sb-msg.sb-system", "tool.exe could not be sent");

    // A pushed page opens beside the chat.
    let page = format!("{}/pages/pushed.html", browser.origin());
    alice.send(json!({"cmd": "message", "to": proxy, "type": "chat",
        "body": format!("/push {page} Resetting your password")}));
    line_with(&mut alice, "Pushed to the customer").await;
    browser.wait_text("#sb-page-title", "Resetting your password");
    let src = browser.eval("document.getElementById('sb-page-frame').src");
    assert_eq!(src, page.as_str());
    browser.screenshot("widget-desktop.png");

    // A reload: the same visitor, the conversation still shown, the same
    // session on Alice's side.
    browser.run(json!({"cmd": "reload"}));
    assert_eq!(
        visitor_jid(&mut browser, &sb),
        me,
        "the same visitor after a reload"
    );
    browser.wait_text(".sb-msg.sb-in", "Which e-mail address");
    browser.wait_text("#sb-agent", "Alice");
    write(&mut browser, "still there?");
    let again = line_with(&mut alice, "still there?").await;
    assert_eq!(again["from"], proxy.as_str(), "the same session");
    alice.send(json!({"cmd": "message", "to": proxy, "type": "chat",
        "body": "Yes, I've sent you a reset link."}));
    browser.wait_text(".sb-msg.sb-in", "reset link");

    // A phone-sized screen: the pushed page covers the chat until closed.
    browser.run(json!({"cmd": "viewport", "width": 390, "height": 844}));
    browser.screenshot("widget-phone-page.png");
    browser.run(json!({"cmd": "click", "selector": "#sb-page-close"}));
    browser.wait_js("document.getElementById('sb-page').hidden");
    let fits = browser.eval(
        "(() => { const r = document.getElementById('sb-input').getBoundingClientRect(); \
          return r.right <= innerWidth && r.bottom <= innerHeight && r.width > 200; })()",
    );
    assert_eq!(fits, json!(true), "the input fits a phone's screen");
    browser.screenshot("widget-phone.png");
}

#[tokio::test]
async fn the_chat_is_embedded_in_a_company_page_by_one_script_tag() {
    let sb = center();
    let http = sb.addr("http");
    let mut alice = Client::login(&sb, ALICE, PW, rich_agent()).await;
    let mut browser = Browser::start();
    browser.open(&format!("/pages/shop.html?sb=http://{http}"));
    browser.wait_text("button", "Chat with us");
    browser.run(json!({"cmd": "click", "selector": "button"}));
    browser.wait_js("document.querySelector('iframe') && document.querySelector('iframe').src.includes('/chat')");
    // Inside the iframe: the page is Switchboard's, on its own origin.
    browser.run(json!({"cmd": "wait_js", "frame": "/chat",
        "js": "window.switchboardChat && window.switchboardChat.online"}));
    browser.run(json!({"cmd": "type", "frame": "/chat", "selector": "#sb-input", "text": "hello from the shop"}));
    browser.run(json!({"cmd": "press", "frame": "/chat", "selector": "#sb-input", "key": "Enter"}));
    new_session(&mut alice).await;
    line_with(&mut alice, "hello from the shop").await;
    browser.screenshot("widget-embedded.png");
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A plain HTTP/1.1 GET: the status line's code, the head, the body.
fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String, Vec<u8>) {
    use std::io::{Read, Write};
    let mut tcp = std::net::TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(TIMEOUT)).unwrap();
    write!(
        tcp,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    tcp.read_to_end(&mut raw).unwrap();
    let at = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(raw.len());
    let head = String::from_utf8_lossy(&raw[..at]).to_ascii_lowercase();
    let body = raw.get(at + 4..).unwrap_or_default().to_vec();
    let code = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, head, body)
}

#[tokio::test]
async fn the_chat_page_serves_only_its_entries_and_its_own_files() {
    let sb = center();
    let http = sb.addr("http");
    let (code, _, body) = get(http, "/chat?entry=evil@elsewhere.example");
    let body = String::from_utf8_lossy(&body).into_owned();
    assert_eq!(code, 404, "{body}");
    assert!(body.contains(HELP), "the answer lists the entries: {body}");
    let (code, head, body) = get(http, "/chat");
    let body = String::from_utf8_lossy(&body).into_owned();
    assert_eq!(code, 200);
    assert!(head.contains("content-security-policy"), "{head}");
    assert!(body.contains(&format!("\"entry\":\"{HELP}\"")), "{body}");
    let (code, _, _) = get(http, &format!("/chat?entry={}", HELP.to_uppercase()));
    assert_eq!(code, 200, "entries are matched without case");
    let (code, head, _) = get(http, "/web/widget.js");
    assert_eq!(code, 200);
    assert!(head.contains("text/javascript"), "{head}");
    assert_eq!(get(http, "/web/nothing.js").0, 404);
    assert_eq!(get(http, "/web/..%2fCargo.toml").0, 404);
}
