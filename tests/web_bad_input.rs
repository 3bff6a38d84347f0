//! Hostile and broken input on XMPP over WebSocket (RFC 7395), each with
//! the answer the RFCs give, against a real `switchboard serve`: no
//! subprotocol (HTTP 400), too many WebSockets from one address (429), a
//! binary frame (`bad-format`), an element before `<open/>`
//! (`invalid-namespace`), `<open/>` outside the framing namespace
//! (`invalid-namespace`), a message over the stanza limit
//! (`policy-violation`), a text frame that is not UTF-8, and forged or
//! expired web tokens (SASL `not-authorized`). The server keeps serving.

mod common;

use base64::Engine;
use common::{ServerOpts, TestServer, TIMEOUT};
use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

const WEB: &str = "web.support.test";
const SECRET: &str = "a test secret that is long enough!!";
const OPEN: &str =
    "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='web.support.test' version='1.0'/>";

fn server() -> TestServer {
    TestServer::start(ServerOpts::default().extra_toml(&format!(
        "[http]\nlisten = [\"127.0.0.1:0\"]\nmax_streams_per_address = 3\n\n\
         [web]\ndomain = \"{WEB}\"\nanonymous = true\ntoken_secret = \"{SECRET}\"\n"
    )))
}

type Ws = WebSocketStream<TcpStream>;

/// A WebSocket handshake; the HTTP status when it is refused.
async fn ws(addr: SocketAddr, subprotocol: Option<&str>) -> Result<Ws, u16> {
    let mut req = format!("ws://{addr}/xmpp-websocket")
        .into_client_request()
        .unwrap();
    if let Some(p) = subprotocol {
        req.headers_mut()
            .insert("Sec-WebSocket-Protocol", HeaderValue::from_str(p).unwrap());
    }
    let tcp = TcpStream::connect(addr).await.unwrap();
    match tokio_tungstenite::client_async(req, tcp).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => Err(r.status().as_u16()),
        Err(e) => panic!("handshake: {e}"),
    }
}

async fn xmpp(addr: SocketAddr) -> Ws {
    ws(addr, Some("xmpp")).await.expect("the handshake")
}

/// What the server sends until it closes: the text messages, joined.
async fn until_closed(ws: &mut Ws) -> String {
    let mut seen = String::new();
    let read = async {
        while let Some(m) = ws.next().await {
            match m {
                Ok(Message::Text(t)) => seen.push_str(t.as_str()),
                Ok(Message::Close(_)) | Err(_) => break,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(TIMEOUT, read)
        .await
        .expect("the server closes the stream");
    seen
}

/// The next text message that contains `needle`.
async fn expect(ws: &mut Ws, needle: &str) -> String {
    let read = async {
        while let Some(Ok(m)) = ws.next().await {
            if let Message::Text(t) = m {
                if t.as_str().contains(needle) {
                    return t.as_str().to_string();
                }
            }
        }
        panic!("the stream ended before {needle:?}");
    };
    tokio::time::timeout(TIMEOUT, read)
        .await
        .unwrap_or_else(|_| panic!("no message with {needle:?}"))
}

async fn send(ws: &mut Ws, text: &str) {
    ws.send(Message::Text(text.into())).await.unwrap();
}

/// Opens the stream and tries SASL PLAIN with `token`: the SASL answer.
async fn plain_login(addr: SocketAddr, token: &str) -> String {
    let mut ws = xmpp(addr).await;
    send(&mut ws, OPEN).await;
    expect(&mut ws, "<mechanism>PLAIN</mechanism>").await;
    let msg = base64::engine::general_purpose::STANDARD.encode(format!("\0\0{token}"));
    send(
        &mut ws,
        &format!("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{msg}</auth>"),
    )
    .await;
    let answer = async {
        while let Some(Ok(m)) = ws.next().await {
            if let Message::Text(t) = m {
                if t.as_str().contains("<success") || t.as_str().contains("<failure") {
                    return t.as_str().to_string();
                }
            }
        }
        panic!("no SASL answer");
    };
    tokio::time::timeout(TIMEOUT, answer).await.unwrap()
}

fn site_token(secret: &str, exp: u64) -> String {
    #[derive(serde::Serialize)]
    struct Claims<'a> {
        sub: &'a str,
        name: &'a str,
        exp: u64,
    }
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &Claims {
            sub: "42",
            name: "Dana",
            exp,
        },
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A visitor can still log in anonymously: the server is unharmed.
async fn still_serving(addr: SocketAddr) {
    let mut ws = xmpp(addr).await;
    send(&mut ws, OPEN).await;
    expect(&mut ws, "<mechanism>ANONYMOUS</mechanism>").await;
    send(
        &mut ws,
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='ANONYMOUS'/>",
    )
    .await;
    expect(&mut ws, "<success").await;
}

#[tokio::test]
async fn broken_framing_gets_the_stream_error_the_rfc_names() {
    let sb = server();
    let http = sb.addr("http");

    assert_eq!(ws(http, None).await.err(), Some(400), "no xmpp subprotocol");
    assert_eq!(ws(http, Some("chat")).await.err(), Some(400));

    let mut binary = xmpp(http).await;
    send(&mut binary, OPEN).await;
    expect(&mut binary, "<stream:features").await;
    binary
        .send(Message::Binary(b"<presence/>".to_vec().into()))
        .await
        .unwrap();
    let seen = until_closed(&mut binary).await;
    assert!(seen.contains("bad-format"), "{seen}");

    let mut early = xmpp(http).await;
    send(
        &mut early,
        "<message to='help@support.test'><body>hi</body></message>",
    )
    .await;
    let seen = until_closed(&mut early).await;
    // What opens the stream is not the stream's element (RFC 6120 §4.9.3.10).
    assert!(seen.contains("invalid-namespace"), "{seen}");
    assert!(!seen.contains("<success"), "{seen}");

    let mut wrong_ns = xmpp(http).await;
    send(
        &mut wrong_ns,
        "<open xmlns='jabber:client' to='web.support.test' version='1.0'/>",
    )
    .await;
    let seen = until_closed(&mut wrong_ns).await;
    assert!(seen.contains("invalid-namespace"), "{seen}");

    let mut big = xmpp(http).await;
    send(&mut big, OPEN).await;
    expect(&mut big, "<stream:features").await;
    let body = "x".repeat(300_000);
    let _ = big
        .send(Message::Text(
            format!("<message><body>{body}</body></message>").into(),
        ))
        .await;
    let seen = until_closed(&mut big).await;
    assert!(seen.contains("policy-violation"), "{seen}");

    let mut not_utf8 = xmpp(http).await;
    send(&mut not_utf8, OPEN).await;
    expect(&mut not_utf8, "<stream:features").await;
    let frame = Frame::message(
        b"<presence>\xff\xfe</presence>".to_vec(),
        OpCode::Data(Data::Text),
        true,
    );
    let _ = not_utf8.send(Message::Frame(frame)).await;
    let seen = until_closed(&mut not_utf8).await;
    assert!(seen.contains("not-well-formed"), "bad UTF-8: {seen}");

    still_serving(http).await;
}

#[tokio::test]
async fn too_many_websockets_from_one_address_are_refused() {
    let sb = server();
    let http = sb.addr("http");
    let mut open = Vec::new();
    for _ in 0..3 {
        let mut w = xmpp(http).await;
        send(&mut w, OPEN).await;
        expect(&mut w, "<stream:features").await;
        open.push(w);
    }
    assert_eq!(ws(http, Some("xmpp")).await.err(), Some(429));
    // One closes: its place is free again.
    let mut first = open.remove(0);
    first.close(None).await.unwrap();
    until_closed(&mut first).await;
    let mut again = None;
    for _ in 0..50 {
        if let Ok(w) = ws(http, Some("xmpp")).await {
            again = Some(w);
            break;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(again.is_some(), "the place of a closed WebSocket is freed");
}

#[tokio::test]
async fn forged_and_expired_web_tokens_are_not_authorized() {
    let sb = server();
    let http = sb.addr("http");
    let good = plain_login(http, &site_token(SECRET, now() + 600)).await;
    assert!(good.contains("<success"), "a token the site signed: {good}");
    let forged = plain_login(
        http,
        &site_token("another secret, just as long!!!!", now() + 600),
    )
    .await;
    assert!(forged.contains("not-authorized"), "{forged}");
    let expired = plain_login(http, &site_token(SECRET, now() - 3600)).await;
    assert!(expired.contains("not-authorized"), "{expired}");
    let garbage = plain_login(http, "not.a.token").await;
    assert!(garbage.contains("not-authorized"), "{garbage}");
    still_serving(http).await;
}

/// `[http] listen_tls`: the same routes over HTTPS, with the server's own
/// certificates (here the development CA's, for the web domain).
#[tokio::test]
async fn the_https_listener_serves_the_chat_page_with_the_servers_certificate() {
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let sb = TestServer::start(ServerOpts::default().extra_toml(&format!(
        "[http]\nlisten = []\nlisten_tls = [\"127.0.0.1:0\"]\n\n\
         [web]\ndomain = \"{WEB}\"\nanonymous = true\n"
    )));
    let https = sb.addr("https");
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(sb.path().join("certs/ca.crt")).unwrap();
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(https).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from(WEB.to_string()).unwrap();
    let mut tls = connector
        .connect(name, tcp)
        .await
        .expect("a certificate the CA signed for the web domain");
    tls.write_all(
        format!("GET /chat HTTP/1.1\r\nHost: {WEB}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut page = Vec::new();
    let _ = tokio::time::timeout(TIMEOUT, tls.read_to_end(&mut page)).await;
    let page = String::from_utf8_lossy(&page);
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("\"domain\":\"web.support.test\""), "{page}");
}
