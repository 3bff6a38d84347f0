//! The `<body/>` wrapper (XEP-0124 §6): a request read (its attributes, and
//! where its payload is), and a response written, with the terminal
//! binding conditions (§17).

use std::ops::Range;

use axum::http::StatusCode;
use bytes::Bytes;
use quick_xml::events::{BytesStart, Event};

/// XEP-0124's namespace of `<body/>`.
pub const NS: &str = "http://jabber.org/protocol/httpbind";
/// XEP-0206's namespace of the `xmpp:` attributes.
pub const XBOSH: &str = "urn:xmpp:xbosh";
const STREAM_NS: &str = "http://etherx.jabber.org/streams";
/// The largest `rid` XEP-0124 allows (2^53 - 1).
const MAX_NUMBER: u64 = 9_007_199_254_740_991;

/// A request's `<body/>`, read.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Request {
    pub rid: Option<u64>,
    pub sid: Option<String>,
    pub to: Option<String>,
    pub lang: Option<String>,
    pub wait: Option<u64>,
    pub hold: Option<u64>,
    pub ver: Option<String>,
    /// `xmpp:version` (XEP-0206 §5): the XMPP version of the stream.
    pub xmpp_version: Option<String>,
    /// `xmpp:restart='true'`: a new stream header after SASL.
    pub restart: bool,
    /// `type='terminate'`: the client ends the session.
    pub terminate: bool,
    /// `ack`: the highest rid whose response the client has, all lower ones
    /// too (XEP-0124 §9.2); `ack='1'` on the session creation request
    /// announces that the client acknowledges.
    pub ack: Option<u64>,
    /// Where the payload (the body's children) is in the request's bytes.
    pub payload: Range<usize>,
}

/// Why a request is not a `<body/>` this server takes: each is
/// `bad-request`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BodyError {
    #[error("not well-formed: {0}")]
    NotWellFormed(String),
    #[error("not a <body/> in the {NS} namespace")]
    NotBody,
    #[error("attribute {0} is not a number")]
    NotNumber(&'static str),
    #[error("{0} are not allowed")]
    Forbidden(&'static str),
}

fn bad(e: impl std::fmt::Display) -> BodyError {
    BodyError::NotWellFormed(e.to_string())
}

/// Reads a request: the whole of it must be one well-formed `<body/>` in
/// the httpbind namespace, whose children are elements (whitespace
/// between them).
pub fn parse(bytes: &[u8]) -> Result<Request, BodyError> {
    let text = std::str::from_utf8(bytes).map_err(|_| bad("not UTF-8"))?;
    let mut reader = quick_xml::Reader::from_str(text);
    let mut req: Option<Request> = None;
    let mut depth = 0usize;
    let mut payload_start = 0;
    loop {
        let before = reader.buffer_position() as usize;
        let event = reader.read_event().map_err(bad)?;
        match event {
            Event::Decl(_) if req.is_none() && depth == 0 => {}
            Event::Empty(s) if req.is_none() => {
                let mut r = wrapper(&s)?;
                let end = reader.buffer_position() as usize;
                r.payload = end..end;
                return finish(&mut reader, r);
            }
            Event::Start(s) if req.is_none() => {
                req = Some(wrapper(&s)?);
                payload_start = reader.buffer_position() as usize;
            }
            Event::Start(s) => {
                check_attributes(&s)?;
                depth += 1;
            }
            Event::Empty(s) => check_attributes(&s)?,
            Event::End(_) if depth > 0 => depth -= 1,
            Event::End(_) => {
                let mut r = req.take().ok_or_else(|| bad("end tag without start"))?;
                r.payload = payload_start..before;
                return finish(&mut reader, r);
            }
            Event::Text(t) => {
                let raw = t.unescape().map_err(bad)?;
                if depth == 0 && !raw.trim().is_empty() {
                    return Err(bad("text outside the payload's elements"));
                }
            }
            Event::CData(_) if depth > 0 => {}
            Event::CData(_) => return Err(bad("text outside the payload's elements")),
            Event::Comment(_) => return Err(BodyError::Forbidden("comments")),
            Event::PI(_) | Event::Decl(_) => {
                return Err(BodyError::Forbidden("processing instructions"))
            }
            Event::DocType(_) => return Err(BodyError::Forbidden("document types")),
            Event::Eof if req.is_none() => return Err(BodyError::NotBody),
            Event::Eof => return Err(bad("the body does not end")),
        }
    }
}

/// After `</body>`: nothing but whitespace.
fn finish(reader: &mut quick_xml::Reader<&[u8]>, req: Request) -> Result<Request, BodyError> {
    loop {
        match reader.read_event().map_err(bad)? {
            Event::Eof => return Ok(req),
            Event::Text(t) if t.iter().all(u8::is_ascii_whitespace) => {}
            _ => return Err(bad("content after </body>")),
        }
    }
}

/// Attributes must be well-formed even on elements this layer passes on.
fn check_attributes(s: &BytesStart<'_>) -> Result<(), BodyError> {
    for a in s.attributes() {
        a.map_err(bad)?.unescape_value().map_err(bad)?;
    }
    Ok(())
}

/// The `<body>` start tag's attributes.
fn wrapper(s: &BytesStart<'_>) -> Result<Request, BodyError> {
    if s.name().as_ref() != b"body" {
        return Err(BodyError::NotBody);
    }
    let mut req = Request::default();
    let mut ns = false;
    // rids stay below 2^53 (§14.1), so the window's arithmetic cannot
    // overflow; no other number is larger either.
    let number = |v: &str, name: &'static str| {
        v.trim()
            .parse::<u64>()
            .ok()
            .filter(|n| *n <= MAX_NUMBER)
            .ok_or(BodyError::NotNumber(name))
    };
    for a in s.attributes() {
        let a = a.map_err(bad)?;
        let v = a.unescape_value().map_err(bad)?.into_owned();
        match a.key.as_ref() {
            b"xmlns" => ns = v == NS,
            b"rid" => req.rid = Some(number(&v, "rid")?),
            b"sid" => req.sid = Some(v),
            b"to" => req.to = Some(v),
            b"xml:lang" => req.lang = Some(v),
            b"wait" => req.wait = Some(number(&v, "wait")?),
            b"hold" => req.hold = Some(number(&v, "hold")?),
            b"ack" => req.ack = Some(number(&v, "ack")?),
            b"ver" => req.ver = Some(v),
            b"xmpp:version" => req.xmpp_version = Some(v),
            b"xmpp:restart" => req.restart = v == "true" || v == "1",
            b"type" => req.terminate = v == "terminate",
            _ => {}
        }
    }
    if !ns {
        return Err(BodyError::NotBody);
    }
    Ok(req)
}

/// A response `<body/>` with `attrs` around `payload` (standalone elements).
pub fn render(attrs: &[(&str, String)], payload: &[u8]) -> Vec<u8> {
    let mut out = format!("<body xmlns='{NS}' xmlns:xmpp='{XBOSH}' xmlns:stream='{STREAM_NS}'");
    for (k, v) in attrs {
        out += &format!(" {k}='{}'", crate::xml::escape_attr(v));
    }
    if payload.is_empty() {
        out += "/>";
        return out.into_bytes();
    }
    out.push('>');
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(payload);
    bytes.extend_from_slice(b"</body>");
    bytes
}

/// A terminal binding condition (XEP-0124 §17.2) on its own.
pub fn terminal(condition: &str) -> Vec<u8> {
    render(
        &[
            ("type", "terminate".into()),
            ("condition", condition.into()),
        ],
        b"",
    )
}

/// What a request gets: an HTTP status and a `<body/>`.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Bytes,
}

/// A terminal binding condition (XEP-0124 §17.2) a client's request caused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    BadRequest,
    ItemNotFound,
    PolicyViolation,
}

impl Refusal {
    pub fn condition(self) -> &'static str {
        match self {
            Refusal::BadRequest => "bad-request",
            Refusal::ItemNotFound => "item-not-found",
            Refusal::PolicyViolation => "policy-violation",
        }
    }

    /// The HTTP status of a legacy client (one that sent no `ver`) or of a
    /// request no session is known for (§17.1).
    pub fn legacy_status(self) -> StatusCode {
        match self {
            Refusal::BadRequest => StatusCode::BAD_REQUEST,
            Refusal::ItemNotFound => StatusCode::NOT_FOUND,
            Refusal::PolicyViolation => StatusCode::FORBIDDEN,
        }
    }

    pub fn answer(self, status: StatusCode) -> Answer {
        Answer {
            status,
            body: terminal(self.condition()).into(),
        }
    }
}

/// `<body type='terminate'/>`: the session is over, without an error.
pub fn terminated() -> Answer {
    Answer {
        status: StatusCode::OK,
        body: render(&[("type", "terminate".into())], b"").into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload<'a>(bytes: &'a str, r: &Request) -> &'a str {
        &bytes[r.payload.clone()]
    }

    #[test]
    fn a_session_creation_request_is_read() {
        let b = "<?xml version='1.0'?><body content='text/xml; charset=utf-8' hold='1' rid='1573741820' \
                 to='web.test' ver='1.6' wait='60' ack='1' xml:lang='en' xmpp:version='1.0' \
                 xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:xbosh'/>";
        let r = parse(b.as_bytes()).unwrap();
        assert_eq!(r.rid, Some(1573741820));
        assert_eq!(r.to.as_deref(), Some("web.test"));
        assert_eq!((r.wait, r.hold, r.ack), (Some(60), Some(1), Some(1)));
        assert_eq!(r.ver.as_deref(), Some("1.6"));
        assert_eq!(r.xmpp_version.as_deref(), Some("1.0"));
        assert_eq!(r.lang.as_deref(), Some("en"));
        assert!(r.sid.is_none() && !r.restart && !r.terminate);
        assert_eq!(payload(b, &r), "");
    }

    #[test]
    fn the_payload_is_the_bytes_between_the_body_tags() {
        let b = "<body rid='2' sid='s1' xmlns='http://jabber.org/protocol/httpbind'>\n \
                 <message to='help@support.test' xmlns='jabber:client'><body>a &amp; b</body></message>\
                 <presence xmlns='jabber:client'/> </body>\r\n";
        let r = parse(b.as_bytes()).unwrap();
        assert_eq!(r.sid.as_deref(), Some("s1"));
        assert_eq!(
            payload(b, &r),
            "\n <message to='help@support.test' xmlns='jabber:client'><body>a &amp; b</body></message>\
             <presence xmlns='jabber:client'/> "
        );
        let b = "<body rid='3' sid='s1' xmpp:restart='true' type='terminate' \
                 xmlns='http://jabber.org/protocol/httpbind'></body>";
        let r = parse(b.as_bytes()).unwrap();
        assert!(r.restart && r.terminate);
        assert_eq!(payload(b, &r), "");
    }

    #[test]
    fn anything_else_is_a_bad_request() {
        let cases = [
            ("<body rid='1' xmlns='http://jabber.org/protocol/httpbind'><message>", "unclosed"),
            ("<body rid='1' xmlns='http://jabber.org/protocol/httpbind'><a></b></body>", "mismatched"),
            ("<body rid='1' xmlns='urn:other'/>", "other namespace"),
            ("<body rid='1'/>", "no namespace"),
            ("<open xmlns='http://jabber.org/protocol/httpbind'/>", "not body"),
            ("", "empty"),
            ("hello", "text"),
            ("<body rid='x' xmlns='http://jabber.org/protocol/httpbind'/>", "rid not a number"),
            ("<body rid='18446744073709551615' xmlns='http://jabber.org/protocol/httpbind'/>", "rid over 2^53"),
            ("<body xmlns='http://jabber.org/protocol/httpbind'>hi</body>", "text in body"),
            ("<body xmlns='http://jabber.org/protocol/httpbind'/><body/>", "two bodies"),
            ("<body xmlns='http://jabber.org/protocol/httpbind'><a b='1' b='2'/></body>", "duplicate attribute"),
            ("<body xmlns='http://jabber.org/protocol/httpbind'><a>&bogus;</a></body>", "unknown entity"),
            ("<!DOCTYPE body [<!ENTITY x 'y'>]><body xmlns='http://jabber.org/protocol/httpbind'/>", "doctype"),
            ("<body xmlns='http://jabber.org/protocol/httpbind'><!-- c --></body>", "comment"),
        ];
        for (b, why) in cases {
            assert!(parse(b.as_bytes()).is_err(), "{why}: {b}");
        }
        assert!(parse(b"<body xmlns='http://jabber.org/protocol/httpbind'>\xff</body>").is_err());
    }

    #[test]
    fn responses_carry_the_namespaces_their_payload_needs() {
        let r = render(&[("sid", "a'b".into())], b"");
        assert_eq!(
            String::from_utf8(r).unwrap(),
            "<body xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:xbosh' \
             xmlns:stream='http://etherx.jabber.org/streams' sid='a&apos;b'/>"
        );
        let r = String::from_utf8(render(&[], b"<x/>")).unwrap();
        assert!(r.ends_with("><x/></body>"), "{r}");
        let t = String::from_utf8(terminal("item-not-found")).unwrap();
        assert!(
            t.contains("type='terminate' condition='item-not-found'"),
            "{t}"
        );
    }
}
