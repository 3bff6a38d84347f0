//! XEP-0363 file upload end to end: a real `switchboard serve` with its
//! HTTP listener, an agent and a customer as slixmpp clients, and the
//! HTTP side spoken here over plain HTTP/1.1 on a TCP socket, as a
//! browser or Conversations would.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::str::FromStr;

use common::{Client, ClientOpts, ServerOpts, TestServer, TIMEOUT};
use serde_json::{json, Value};
use switchboard::slot::{self, Slot, SlotKey};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ALICE: &str = "alice@agents.support.test";
/// A local account that is no agent: a customer like any other.
const CAROL: &str = "carol@agents.support.test";
/// A local account with no session.
const DAVE: &str = "dave@agents.support.test";
const HELP: &str = "help@support.test";
const PW: &str = "pw";
const UPLOAD: &str = "urn:xmpp:http:upload:0";
/// The largest file of this test's server.
const MAX: usize = 4 * 1024 * 1024;

fn server() -> TestServer {
    let agents = format!(
        "[[agent]]\njid = \"{ALICE}\"\nname = \"Alice\"\nprotocols = [\"xmpp\"]\nmax_live = 2\n"
    );
    let routing = format!(
        "[defaults]\nassign = \"direct\"\n\n[[queue]]\nname = \"general\"\n\
         entry = [\"{HELP}\"]\nskills = []\nstrategy = \"longest-idle\"\n"
    );
    TestServer::start(
        ServerOpts::default()
            .account(ALICE, PW)
            .account(CAROL, PW)
            .account(DAVE, PW)
            .agents_toml(&agents)
            .routing_toml(&routing)
            .extra_toml(&format!(
                "[http]\nlisten = [\"127.0.0.1:0\"]\n\n[web]\ndomain = \"web.support.test\"\n\n\
                 [upload]\nmax_file_bytes = {MAX}\n\
                 allowed_types = [\"image/*\", \"application/pdf\"]\nslot_secs = 60\n"
            )),
    )
}

/// An HTTP answer: status, headers (lowercase names), body.
struct Answer {
    status: u16,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One request on its own connection (`Connection: close`): `head` is the
/// request line and headers without the blank line; `body` follows.
async fn http(addr: SocketAddr, head: &str, body: &[u8]) -> Answer {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let head = format!("{head}\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    tcp.write_all(head.as_bytes()).await.unwrap();
    // The server may answer before the body (413) and close: not an error.
    let _ = tcp.write_all(body).await;
    let mut raw = Vec::new();
    let _ = tcp.read_to_end(&mut raw).await;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP answer: {:?}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .get("transfer-encoding")
        .is_some_and(|t| t == "chunked")
    {
        body = unchunk(&body);
    }
    Answer {
        status,
        headers,
        body,
    }
}

fn unchunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = raw.windows(2).position(|w| w == b"\r\n").unwrap();
        let len =
            usize::from_str_radix(std::str::from_utf8(&raw[..eol]).unwrap().trim(), 16).unwrap();
        if len == 0 {
            return out;
        }
        out.extend_from_slice(&raw[eol + 2..eol + 2 + len]);
        raw = &raw[eol + 4 + len..];
    }
}

/// `http://addr/path?query` → the path and query, for a request line.
fn target(url: &str) -> String {
    let rest = url.strip_prefix("http://").unwrap();
    rest[rest.find('/').unwrap()..].to_string()
}

async fn put(addr: SocketAddr, url: &str, content_type: &str, body: &[u8]) -> Answer {
    let head = format!(
        "PUT {} HTTP/1.1\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Origin: https://shop.example",
        target(url),
        body.len()
    );
    http(addr, &head, body).await
}

/// A PUT's headers alone, for one the server refuses before the body:
/// a body it does not read would make its close a reset, which may lose
/// the answer.
async fn put_head(addr: SocketAddr, url: &str, content_type: &str, length: usize) -> Answer {
    let head = format!(
        "PUT {} HTTP/1.1\r\nContent-Type: {content_type}\r\nContent-Length: {length}",
        target(url)
    );
    http(addr, &head, b"").await
}

async fn get(addr: SocketAddr, url: &str) -> Answer {
    let head = format!(
        "GET {} HTTP/1.1\r\nOrigin: https://shop.example",
        target(url)
    );
    http(addr, &head, b"").await
}

/// Asks the support domain for a slot; the answer event.
async fn ask(c: &mut Client, name: &str, size: usize, content_type: &str) -> Value {
    let xml = format!(
        "<request xmlns='{UPLOAD}' filename='{name}' size='{size}' content-type='{content_type}'/>"
    );
    c.request(json!({"cmd": "iq", "type": "get", "to": "support.test", "xml": xml}))
        .await
}

/// The PUT and GET URLs of a granted slot.
fn urls(answer: &Value) -> (String, String) {
    assert_eq!(answer["type"], "result", "{answer}");
    let iq = minidom::Element::from_str(answer["xml"].as_str().unwrap()).unwrap();
    let slot = iq
        .children()
        .find(|c| c.is("slot", UPLOAD))
        .unwrap_or_else(|| panic!("no slot in {answer}"));
    let url = |name| {
        slot.get_child(name, UPLOAD)
            .and_then(|c| c.attr("url"))
            .unwrap()
            .to_string()
    };
    (url("put"), url("get"))
}

/// A file of `n` bytes that is not all one byte.
fn file(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[tokio::test]
async fn a_session_participant_uploads_and_the_link_serves_the_file() {
    let sb = server();
    let web = sb.addr("http");
    let mut alice = Client::login(&sb, ALICE, PW, ClientOpts::default()).await;
    let mut carol = Client::login(&sb, CAROL, PW, ClientOpts::default()).await;

    // The agent's client finds the service on its own server, and a web
    // visitor's client on theirs.
    for domain in ["agents.support.test", "web.support.test"] {
        let items = alice
            .request(json!({"cmd": "disco_items", "to": domain}))
            .await;
        let listed = items["items"].to_string().contains("\"support.test\"");
        assert!(listed, "{items}");
    }
    let info = alice
        .request(json!({"cmd": "disco_info", "to": "support.test"}))
        .await;
    assert!(info["features"].to_string().contains(UPLOAD), "{info}");
    let form = info["xml"].as_str().unwrap();
    assert!(
        form.contains(&format!("<value>{MAX}</value>")) && form.contains("max-file-size"),
        "{form}"
    );

    carol.message(HELP, "my screen shows an error").await;
    alice
        .expect_what(
            "the customer's first message",
            |e| e["event"] == "message" && e["body"] == "my screen shows an error",
            TIMEOUT,
        )
        .await;

    // Three megabytes: more than one read of the body, more than axum's
    // default limit on buffered bodies.
    let bytes = file(3 * 1024 * 1024);
    let (put_url, get_url) = urls(&ask(&mut alice, "écran 1.png", bytes.len(), "image/png").await);
    assert!(
        put_url.starts_with(&format!("http://{web}/upload/")),
        "{put_url}"
    );
    assert!(get_url.ends_with("/%C3%A9cran%201.png"), "{get_url}");

    // The widget's browser asks first: PUT from another origin.
    let pre = http(
        web,
        &format!(
            "OPTIONS {} HTTP/1.1\r\nOrigin: https://shop.example\r\n\
             Access-Control-Request-Method: PUT\r\nAccess-Control-Request-Headers: content-type",
            target(&put_url)
        ),
        b"",
    )
    .await;
    assert_eq!(pre.status, 204);
    assert_eq!(pre.header("access-control-allow-origin"), "*");
    assert!(pre.header("access-control-allow-methods").contains("PUT"));
    assert!(pre
        .header("access-control-allow-headers")
        .eq_ignore_ascii_case("content-type"));

    // Not the slot's type: refused before anything is stored.
    let wrong_type = put_head(web, &put_url, "image/jpeg", bytes.len()).await;
    assert_eq!(wrong_type.status, 415);
    assert_eq!(get(web, &get_url).await.status, 404, "nothing stored yet");

    let done = put(web, &put_url, "image/png", &bytes).await;
    assert_eq!(done.status, 201, "{}", done.text());
    assert_eq!(done.header("access-control-allow-origin"), "*");
    let back = get(web, &get_url).await;
    assert_eq!(back.status, 200);
    assert!(back.body == bytes, "the file comes back byte for byte");
    assert_eq!(back.header("content-type"), "image/png");
    assert_eq!(back.header("x-content-type-options"), "nosniff");
    assert!(
        back.header("content-disposition").starts_with("inline;"),
        "{:?}",
        back.headers
    );
    assert_eq!(back.header("access-control-allow-origin"), "*");

    // The slot is spent.
    let again = put_head(web, &put_url, "image/png", bytes.len()).await;
    assert_eq!(again.status, 409, "{}", again.text());

    // A PDF from the customer: downloaded, not shown.
    let pdf = b"%PDF-1.4 not much of a document".to_vec();
    let (put_url, get_url) = urls(&ask(&mut carol, "bill.pdf", pdf.len(), "application/pdf").await);
    assert_eq!(
        put(web, &put_url, "application/pdf", &pdf).await.status,
        201
    );
    let back = get(web, &get_url).await;
    assert_eq!(back.body, pdf);
    assert!(back
        .header("content-disposition")
        .starts_with("attachment;"));
    // Another name at the same id is no file.
    let wrong = get_url.replace("bill.pdf", "other.pdf");
    assert_eq!(get(web, &wrong).await.status, 404);
    let unknown = format!("http://{web}/upload/{}/bill.pdf", slot::new_id());
    assert_eq!(get(web, &unknown).await.status, 404);

    let log = sb.log();
    assert!(log.contains("upload slot granted"), "{log}");
    alice.disconnect().await;
    carol.disconnect().await;
}

#[tokio::test]
async fn forged_expired_oversized_and_strangers_are_refused_and_the_server_goes_on() {
    let sb = server();
    let web = sb.addr("http");
    let mut alice = Client::login(&sb, ALICE, PW, ClientOpts::default()).await;
    let mut carol = Client::login(&sb, CAROL, PW, ClientOpts::default()).await;
    let mut dave = Client::login(&sb, DAVE, PW, ClientOpts::default()).await;
    carol.message(HELP, "hello").await;
    alice
        .expect_what(
            "the customer's first message",
            |e| e["event"] == "message" && e["body"] == "hello",
            TIMEOUT,
        )
        .await;

    // Someone with no session gets no slot.
    let refused = ask(&mut dave, "a.png", 10, "image/png").await;
    assert_eq!(
        (refused["type"].as_str(), refused["condition"].as_str()),
        (Some("error"), Some("forbidden")),
        "{refused}"
    );
    // Too large, or not a type allowed: not-acceptable.
    let big = ask(&mut carol, "a.png", MAX + 1, "image/png").await;
    assert_eq!(big["condition"], "not-acceptable", "{big}");
    assert!(
        big["xml"].as_str().unwrap().contains("file-too-large"),
        "{big}"
    );
    let html = ask(&mut carol, "a.html", 10, "text/html").await;
    assert_eq!(html["condition"], "not-acceptable", "{html}");
    assert!(
        html["text"]
            .as_str()
            .unwrap()
            .contains("image/*, application/pdf"),
        "{html}"
    );

    let bytes = file(10);
    let (put_url, get_url) = urls(&ask(&mut alice, "a.png", bytes.len(), "image/png").await);

    // A signature not the server's, or a slot changed after signing.
    let forged = format!("{}0", &put_url[..put_url.len() - 1]);
    let forged = if forged == put_url {
        format!("{}1", &put_url[..put_url.len() - 1])
    } else {
        forged
    };
    let a = put(web, &forged, "image/png", &bytes).await;
    assert_eq!(a.status, 403, "{}", a.text());
    let bigger = put_url.replace("size=10&", "size=11&");
    assert_eq!(put(web, &bigger, "image/png", &file(11)).await.status, 403);
    let unsigned = put_url.split_once('?').unwrap().0.to_string();
    assert_eq!(put(web, &unsigned, "image/png", &bytes).await.status, 403);

    // A slot the server's own key signed, but whose time is over.
    let key = std::fs::read(sb.path().join("certs/upload.key")).unwrap();
    let now = switchboard::util::now_ms() as u64 / 1000;
    let old = Slot {
        id: slot::new_id(),
        name: "old.png".into(),
        size: 10,
        content_type: "image/png".into(),
        expires: now - 1,
    };
    let expired = old.put_url(&format!("http://{web}"), &SlotKey::new(&key));
    let a = put(web, &expired, "image/png", &bytes).await;
    assert_eq!(a.status, 403);
    assert!(a.text().contains("expired"), "{}", a.text());

    // More than the slot's size, announced: refused without the body.
    let a = put_head(web, &put_url, "image/png", MAX * 4).await;
    assert_eq!(a.status, 413, "{}", a.text());
    assert_eq!(put(web, &put_url, "image/png", &file(11)).await.status, 413);

    // None of that used the slot: it still takes its file.
    assert_eq!(put(web, &put_url, "image/png", &bytes).await.status, 201);
    assert_eq!(get(web, &get_url).await.body, bytes);
    // And the server still serves XMPP.
    alice
        .request_ok(json!({"cmd": "ping", "to": "agents.support.test"}))
        .await;
    let log = sb.log();
    assert!(
        log.contains("upload refused"),
        "every refusal has a log line"
    );
    for c in [alice, carol, dave] {
        c.disconnect().await;
    }
}
