//! The web framings of an XMPP stream (RFC 7395 WebSocket, XEP-0206 BOSH)
//! carry one whole element per message and replace the stream's open tag
//! and end tag by `<open/>` and `<close/>`. The negotiation and the session
//! read and write an RFC 6120 byte stream; this module translates between
//! the two, so that they run unchanged over either framing.
//!
//! Inbound, a framing message becomes bytes of the stream: `<open/>` a
//! stream header, `<close/>` the end tag, any other element itself.
//! Outbound, [`Reframer`] cuts what the server writes back into elements,
//! each made to stand alone (with the namespace declarations the stream
//! header used to carry).

use quick_xml::events::Event;

use super::{ns, Frame, FrameError, Framer, Stanza, StreamHeader};

/// RFC 7395's namespace of `<open/>` and `<close/>`.
pub const FRAMING: &str = "urn:ietf:params:xml:ns:xmpp-framing";

/// A framing message, read.
#[derive(Debug, PartialEq, Eq)]
pub enum Inbound {
    /// `<open/>`: the stream header it stands for.
    Open(String),
    Close,
    /// Any other element, passed on as the bytes it is.
    Element,
}

/// Reads one inbound WebSocket message: what it stands for in the stream.
pub fn inbound(msg: &str) -> Result<Inbound, FrameError> {
    let text = msg.trim_start();
    let is = |name: &str| {
        text.strip_prefix('<')
            .and_then(|t| t.strip_prefix(name))
            .is_some_and(|rest| {
                rest.starts_with(|c: char| c.is_whitespace() || c == '/' || c == '>')
            })
    };
    if is("open") {
        return open_header(text).map(Inbound::Open);
    }
    if is("close") {
        return Ok(Inbound::Close);
    }
    Ok(Inbound::Element)
}

/// The RFC 6120 header an `<open/>` stands for (RFC 7395 §3.3.1).
fn open_header(tag: &str) -> Result<String, FrameError> {
    let mut reader = quick_xml::Reader::from_str(tag);
    let start = match reader.read_event() {
        Ok(Event::Empty(s)) | Ok(Event::Start(s)) => s,
        Ok(_) => return Err(FrameError::NotWellFormed("expected <open/>".into())),
        Err(e) => return Err(FrameError::NotWellFormed(e.to_string())),
    };
    let mut header = StreamHeader::default();
    let mut framing = false;
    for attr in start.attributes() {
        let attr = attr.map_err(|e| FrameError::NotWellFormed(e.to_string()))?;
        let value = attr
            .unescape_value()
            .map_err(|e| FrameError::NotWellFormed(e.to_string()))?
            .into_owned();
        match attr.key.as_ref() {
            b"to" => header.to = Some(value),
            b"from" => header.from = Some(value),
            b"version" => header.version = Some(value),
            b"xml:lang" => header.lang = Some(value),
            b"xmlns" => framing = value == FRAMING,
            _ => {}
        }
    }
    if !framing {
        return Err(FrameError::InvalidNamespace(format!(
            "<open/> must be in the {FRAMING} namespace"
        )));
    }
    Ok(stream_header(&header))
}

/// An RFC 6120 client stream header with `h`'s attributes.
pub fn stream_header(h: &StreamHeader) -> String {
    let mut out = format!(
        "<stream:stream xmlns='{}' xmlns:stream='{}'",
        ns::CLIENT,
        ns::STREAM
    );
    for (key, value) in [
        ("to", &h.to),
        ("from", &h.from),
        ("version", &h.version),
        ("xml:lang", &h.lang),
    ] {
        if let Some(v) = value {
            out += &format!(" {key}='{}'", super::escape_attr(v));
        }
    }
    out.push('>');
    out
}

/// What the server wrote, cut back into framing messages.
#[derive(Debug)]
pub enum Outbound {
    /// The server's stream header (its `id` is the BOSH `authid`).
    Open(StreamHeader),
    /// An element that stands alone.
    Element(Stanza),
    Close,
}

impl Outbound {
    /// The RFC 7395 WebSocket message.
    pub fn websocket(&self) -> String {
        match self {
            Outbound::Open(h) => {
                let mut out = format!("<open xmlns='{FRAMING}'");
                for (key, value) in [
                    ("from", &h.from),
                    ("id", &h.id),
                    ("version", &h.version),
                    ("xml:lang", &h.lang),
                ] {
                    if let Some(v) = value {
                        out += &format!(" {key}='{}'", super::escape_attr(v));
                    }
                }
                out + "/>"
            }
            Outbound::Element(s) => String::from_utf8_lossy(s.bytes()).into_owned(),
            Outbound::Close => format!("<close xmlns='{FRAMING}'/>"),
        }
    }
}

/// Cuts the byte stream the server writes into elements. The server's own
/// output is well-formed, and each stream header it writes starts at an
/// element boundary, which is where this looks for one.
pub struct Reframer {
    framer: Framer,
}

impl Reframer {
    pub fn new(max_element: usize) -> Self {
        Reframer {
            framer: Framer::new(max_element),
        }
    }

    /// Takes what the server wrote; appends each frame it completes.
    pub fn push(&mut self, data: &[u8], out: &mut Vec<Outbound>) -> Result<(), FrameError> {
        self.framer.buffer().extend_from_slice(data);
        loop {
            if self.framer.at_boundary() && self.header_next() {
                // A restart (after SASL): the framer starts a new stream.
                let rest = std::mem::take(self.framer.buffer());
                self.framer.reset();
                *self.framer.buffer() = rest;
            }
            match self.framer.next_frame()? {
                None => return Ok(()),
                Some(Frame::Open(h)) => out.push(Outbound::Open(h)),
                Some(Frame::Close) => out.push(Outbound::Close),
                Some(Frame::Element(s)) => out.push(Outbound::Element(standalone(s))),
            }
        }
    }

    /// Whether the buffer, past whitespace, starts a stream header.
    fn header_next(&mut self) -> bool {
        let buf = self.framer.buffer();
        let start = buf.iter().position(|b| !b.is_ascii_whitespace());
        let Some(i) = start else { return false };
        buf[i..].starts_with(b"<?xml") || buf[i..].starts_with(b"<stream:stream")
    }
}

/// The element with the declarations it inherited from the stream header:
/// `xmlns:stream` on `stream:` elements, `xmlns='jabber:client'` on stanzas.
fn standalone(s: Stanza) -> Stanza {
    if s.bytes().starts_with(b"<stream:") {
        let raw = s.bytes();
        let at = raw
            .iter()
            .position(|b| b.is_ascii_whitespace() || *b == b'/' || *b == b'>')
            .unwrap_or(raw.len());
        let mut bytes = Vec::with_capacity(raw.len() + 48);
        bytes.extend_from_slice(&raw[..at]);
        bytes.extend_from_slice(format!(" xmlns:stream='{}'", ns::STREAM).as_bytes());
        bytes.extend_from_slice(&raw[at..]);
        return Stanza::parse(bytes.into()).unwrap_or(s);
    }
    if s.ns().is_none() {
        return s.qualified();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(chunks: &[&str]) -> Vec<String> {
        let mut r = Reframer::new(10_000);
        let mut out = Vec::new();
        for c in chunks {
            r.push(c.as_bytes(), &mut out).unwrap();
        }
        out.iter().map(Outbound::websocket).collect()
    }

    #[test]
    fn open_and_close_stand_for_the_stream_tags() {
        let open =
            "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='web.test' version='1.0'/>";
        let Inbound::Open(h) = inbound(open).unwrap() else {
            panic!()
        };
        assert_eq!(
            h,
            "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='web.test' version='1.0'>"
        );
        assert_eq!(
            inbound(" <close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>").unwrap(),
            Inbound::Close
        );
        assert_eq!(inbound("<message to='a@b'/>").unwrap(), Inbound::Element);
        assert_eq!(inbound("<opener/>").unwrap(), Inbound::Element);
        assert!(matches!(
            inbound("<open to='web.test' version='1.0'/>"),
            Err(FrameError::InvalidNamespace(_))
        ));
        assert!(inbound("<open to='web.test").is_err());
    }

    #[test]
    fn the_servers_stream_is_cut_into_standalone_elements() {
        let got = cut(&[
            "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' from='web.test' id='abc' version='1.0'>",
            "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/></stream:features>",
            "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>",
            "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' from='web.test' id='def' version='1.0'><stream:features/>",
            "<message to='a@b'><bo",
            "dy>hi</body></message><stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>",
        ]);
        assert_eq!(
            got,
            [
                "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' from='web.test' id='abc' version='1.0'/>",
                "<stream:features xmlns:stream='http://etherx.jabber.org/streams'><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/></stream:features>",
                "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>",
                "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' from='web.test' id='def' version='1.0'/>",
                "<stream:features xmlns:stream='http://etherx.jabber.org/streams'/>",
                r#"<message xmlns="jabber:client" to="a@b"><body>hi</body></message>"#,
                "<stream:error xmlns:stream='http://etherx.jabber.org/streams'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>",
                "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>",
            ]
        );
    }
}
