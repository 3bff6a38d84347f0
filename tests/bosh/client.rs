//! A BOSH client for the tests: raw HTTP/1.1 over a TCP connection per
//! request, the `<body/>` wrapper written by hand and the payloads of
//! answers cut into elements.

use std::net::SocketAddr;
use std::time::Duration;

use quick_xml::events::Event;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const NS: &str = "http://jabber.org/protocol/httpbind";
/// How long one HTTP exchange may take (a held request included).
const EXCHANGE: Duration = Duration::from_secs(40);

/// An HTTP response.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// An attribute of the `<body>` element.
    pub fn attr(&self, name: &str) -> Option<String> {
        let mut r = quick_xml::Reader::from_str(&self.body);
        loop {
            match r.read_event() {
                Ok(Event::Start(s)) | Ok(Event::Empty(s)) => {
                    return s
                        .attributes()
                        .filter_map(Result::ok)
                        .find(|a| a.key.as_ref() == name.as_bytes())
                        .map(|a| a.unescape_value().unwrap().into_owned())
                }
                Ok(Event::Eof) | Err(_) => return None,
                _ => {}
            }
        }
    }

    pub fn terminates(&self) -> bool {
        self.attr("type").as_deref() == Some("terminate")
    }

    pub fn condition(&self) -> Option<String> {
        self.attr("condition")
    }

    /// The body's children, each as its bytes.
    pub fn elements(&self) -> Vec<String> {
        children(&self.body)
    }

    /// Panics unless this is a terminal `condition` with HTTP `status`.
    pub fn assert_terminal(&self, status: u16, condition: &str) {
        assert_eq!(self.status, status, "HTTP status: {self:?}");
        assert!(self.terminates(), "type='terminate': {self:?}");
        assert_eq!(
            self.condition().as_deref(),
            Some(condition),
            "condition: {self:?}"
        );
    }
}

/// The children of the document element of `xml`.
pub fn children(xml: &str) -> Vec<String> {
    let mut r = quick_xml::Reader::from_str(xml);
    let mut out = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    loop {
        let before = r.buffer_position() as usize;
        match r.read_event().expect("well-formed answer") {
            Event::Start(_) => {
                if depth == 1 {
                    start = before;
                }
                depth += 1;
            }
            Event::Empty(_) if depth == 1 => {
                out.push(xml[before..r.buffer_position() as usize].to_string())
            }
            Event::End(_) => {
                depth -= 1;
                if depth == 1 {
                    out.push(xml[start..r.buffer_position() as usize].to_string());
                }
            }
            Event::Eof => return out,
            _ => {}
        }
    }
}

/// The value of attribute `name` on the element `xml` starts with.
pub fn attr_of(xml: &str, name: &str) -> Option<String> {
    Reply {
        status: 200,
        headers: vec![],
        body: xml.to_string(),
    }
    .attr(name)
}

/// One HTTP/1.1 exchange on a connection of its own.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut tcp = TcpStream::connect(addr).await.expect("connecting");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head += &format!("{k}: {v}\r\n");
    }
    head += "\r\n";
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp.write_all(body).await.unwrap();
    read_reply(&mut tcp).await
}

/// Reads a response up to the end of the connection.
pub async fn read_reply(tcp: &mut TcpStream) -> Reply {
    let mut raw = Vec::new();
    tokio::time::timeout(EXCHANGE, tcp.read_to_end(&mut raw))
        .await
        .expect("an HTTP response in time")
        .expect("reading the HTTP response");
    let text = String::from_utf8(raw).expect("a UTF-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP response");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("a status line: {head}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Reply {
        status,
        headers,
        body: body.to_string(),
    }
}

/// `POST /http-bind` with `body` as a browser's BOSH client sends it.
pub async fn post(addr: SocketAddr, body: &str) -> Reply {
    http(
        addr,
        "POST",
        "/http-bind",
        &[("Content-Type", "text/xml; charset=utf-8")],
        body.as_bytes(),
    )
    .await
}

/// [`post`] on a task of its own, for requests the server holds.
pub fn spawn_post(addr: SocketAddr, body: String) -> tokio::task::JoinHandle<Reply> {
    tokio::spawn(async move { post(addr, &body).await })
}

/// A BOSH session, driven one request at a time.
pub struct Bosh {
    pub addr: SocketAddr,
    pub sid: String,
    /// The rid of the next request.
    pub rid: u64,
    /// The first answer (session creation).
    pub created: Reply,
    /// Elements received and not yet looked at by `expect`.
    pub inbox: Vec<String>,
}

impl Bosh {
    /// Creates a session to `domain`; `extra`: more attributes.
    pub async fn create(addr: SocketAddr, domain: &str, extra: &str) -> Bosh {
        Bosh::try_create(addr, domain, extra)
            .await
            .unwrap_or_else(|r| panic!("session creation: {r:?}"))
    }

    /// A session, or the refusal.
    pub async fn try_create(addr: SocketAddr, domain: &str, extra: &str) -> Result<Bosh, Reply> {
        let rid = 1_000_000 + u64::from(rand::random::<u16>());
        let created = post(
            addr,
            &format!(
                "<body rid='{rid}' to='{domain}' xml:lang='en' wait='5' hold='1' ver='1.6' \
                 xmpp:version='1.0' xmlns:xmpp='urn:xmpp:xbosh' xmlns='{NS}' {extra}/>"
            ),
        )
        .await;
        let Some(sid) = created.attr("sid").filter(|_| created.status == 200) else {
            return Err(created);
        };
        Ok(Bosh {
            addr,
            sid,
            rid: rid + 1,
            inbox: created.elements(),
            created,
        })
    }

    /// The next request's body (and uses up its rid).
    pub fn next_body(&mut self, attrs: &str, payload: &str) -> String {
        let rid = self.rid;
        self.rid += 1;
        self.body_for(rid, attrs, payload)
    }

    pub fn body_for(&self, rid: u64, attrs: &str, payload: &str) -> String {
        format!(
            "<body rid='{rid}' sid='{}' xmlns='{NS}' xmlns:xmpp='urn:xmpp:xbosh' {attrs}>{payload}</body>",
            self.sid
        )
    }

    /// Sends the next request and waits for its answer, whose elements
    /// join the inbox.
    pub async fn send(&mut self, attrs: &str, payload: &str) -> Reply {
        let body = self.next_body(attrs, payload);
        let reply = post(self.addr, &body).await;
        assert_eq!(reply.status, 200, "{body} got {reply:?}");
        self.inbox.extend(reply.elements());
        reply
    }

    /// The first element (received or to come) that `pred` accepts; empty
    /// requests are held by the server until it has something.
    pub async fn expect(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(i) = self.inbox.iter().position(|e| pred(e)) {
                return self.inbox.remove(i);
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no {what} over BOSH; got {:?}",
                self.inbox
            );
            let reply = self.send("", "").await;
            assert!(
                !reply.terminates(),
                "session ended waiting for {what}: {reply:?}"
            );
        }
    }

    /// SASL (`auth` is the `<auth/>` element), the restart, binding: the
    /// bound JID.
    pub async fn login(&mut self, auth: &str) -> String {
        self.expect("features", |e| e.contains("<mechanisms")).await;
        self.send("", auth).await;
        let ok = self
            .expect("SASL's outcome", |e| {
                e.starts_with("<success") || e.starts_with("<failure")
            })
            .await;
        assert!(ok.starts_with("<success"), "SASL: {ok}");
        let restarted = self
            .send("xmpp:restart='true' to='web.support.test'", "")
            .await;
        assert!(!restarted.terminates(), "{restarted:?}");
        self.expect("bind feature", |e| {
            e.contains("urn:ietf:params:xml:ns:xmpp-bind")
        })
        .await;
        self.send(
            "",
            "<iq type='set' id='bind1' xmlns='jabber:client'>\
             <bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>",
        )
        .await;
        let bound = self
            .expect("bind result", |e| {
                e.contains("id=\"bind1\"") || e.contains("id='bind1'")
            })
            .await;
        let jid = bound
            .split("<jid>")
            .nth(1)
            .and_then(|r| r.split("</jid>").next())
            .unwrap_or_else(|| panic!("a bound JID: {bound}"))
            .to_string();
        // Available: what is sent to the bare JID comes here (RFC 6121).
        self.send("", "<presence xmlns='jabber:client'/>").await;
        jid
    }
}

pub const ANONYMOUS: &str =
    "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='ANONYMOUS'/>";

/// SASL PLAIN with a web token as the password.
pub fn plain(token: &str) -> String {
    use base64::Engine;
    let msg = base64::engine::general_purpose::STANDARD.encode(format!("\0\0{token}"));
    format!("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{msg}</auth>")
}
