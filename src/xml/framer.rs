//! Incremental framing of one XMPP stream.
//!
//! The framer finds element boundaries with a byte scanner (no tree, no
//! allocation per tag) and hands each complete top-level element to
//! [`Stanza::parse`], which checks well-formedness with quick-xml. Scanning is
//! resumable: a large stanza arriving in many reads is not rescanned from its
//! start, only from the last tag boundary.

use bytes::{Buf, BytesMut};
use quick_xml::events::Event;

use super::ns;
use super::stanza::{Stanza, StanzaParseError};
use super::StreamErrorCondition;

/// One step of the stream as the peer sent it.
#[derive(Debug)]
pub enum Frame {
    Open(StreamHeader),
    Element(Stanza),
    Close,
}

/// The attributes of the peer's `<stream:stream>` that negotiation needs.
#[derive(Debug, Clone, Default)]
pub struct StreamHeader {
    pub to: Option<String>,
    pub from: Option<String>,
    pub id: Option<String>,
    pub version: Option<String>,
    pub lang: Option<String>,
    /// The default namespace of the stream (`jabber:client`, `jabber:server`...).
    pub default_ns: Option<String>,
    /// Whether `xmlns:db` was declared (dialback peers need it echoed).
    pub dialback: bool,
}

/// Why a stream cannot go on. Each maps to one RFC 6120 stream error.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("not well-formed: {0}")]
    NotWellFormed(String),
    #[error("restricted XML: {0}")]
    RestrictedXml(&'static str),
    #[error("element larger than {0} bytes")]
    TooLarge(usize),
    #[error("invalid namespace: {0}")]
    InvalidNamespace(String),
    #[error("unsupported encoding")]
    UnsupportedEncoding,
    #[error("text outside any stanza")]
    BadFormat,
}

impl FrameError {
    /// The RFC 6120 §4.9.3 condition to send before closing.
    pub fn condition(&self) -> StreamErrorCondition {
        use StreamErrorCondition::*;
        match self {
            FrameError::NotWellFormed(_) => NotWellFormed,
            FrameError::RestrictedXml(_) => RestrictedXml,
            FrameError::TooLarge(_) => PolicyViolation,
            FrameError::InvalidNamespace(_) => InvalidNamespace,
            FrameError::UnsupportedEncoding => UnsupportedEncoding,
            FrameError::BadFormat => BadFormat,
        }
    }
}

impl From<StanzaParseError> for FrameError {
    fn from(e: StanzaParseError) -> Self {
        FrameError::NotWellFormed(e.to_string())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Before `<stream:stream>`: an XML declaration may come first.
    Prolog {
        seen_decl: bool,
    },
    InStream,
    Closed,
}

/// Turns bytes into [`Frame`]s. Feed with [`Framer::buffer`], pull with
/// [`Framer::next_frame`]; [`Framer::reset`] after STARTTLS and SASL success.
pub struct Framer {
    buf: BytesMut,
    max_element: usize,
    phase: Phase,
    /// The prefix the peer bound to the streams namespace, for `</stream:stream>`.
    stream_prefix: Vec<u8>,
    /// Resume point inside the element being scanned: offset and depth there.
    scan_pos: usize,
    scan_depth: u32,
    /// The connection's limits, checked by the reading loop ([`super::read_frame`]).
    pub allowance: crate::limit::Allowance,
}

impl Framer {
    pub fn new(max_element: usize) -> Self {
        Framer {
            buf: BytesMut::new(),
            max_element,
            phase: Phase::Prolog { seen_decl: false },
            stream_prefix: b"stream".to_vec(),
            scan_pos: 0,
            scan_depth: 0,
            allowance: Default::default(),
        }
    }

    /// Where the transport should read into.
    pub fn buffer(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// Forget everything: the peer starts a new stream (RFC 6120 §5.4.3.3,
    /// §6.4.6). Bytes already buffered are discarded on purpose: after TLS
    /// they were plaintext the peer must not have sent.
    pub fn reset(&mut self) {
        self.buf.clear();
        self.phase = Phase::Prolog { seen_decl: false };
        self.scan_pos = 0;
        self.scan_depth = 0;
    }

    /// Between two elements of an open stream (or before its header).
    pub fn at_boundary(&self) -> bool {
        self.scan_pos == 0 && self.phase != Phase::Closed
    }

    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// The next complete frame, or `None` when more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        loop {
            match self.phase {
                Phase::Closed => return Ok(None),
                Phase::Prolog { seen_decl } => {
                    self.skip_whitespace();
                    if self.buf.is_empty() {
                        return Ok(None);
                    }
                    if self.buf[0] != b'<' {
                        return Err(FrameError::NotWellFormed(
                            "text before the stream header".into(),
                        ));
                    }
                    if self.buf.starts_with(b"<?") {
                        if seen_decl {
                            return Err(FrameError::RestrictedXml("processing instruction"));
                        }
                        let Some(end) = find(&self.buf, b"?>", 0) else {
                            return self.need_more();
                        };
                        self.within_limit(end + 2)?;
                        check_declaration(&self.buf[..end + 2])?;
                        self.buf.advance(end + 2);
                        self.phase = Phase::Prolog { seen_decl: true };
                        continue;
                    }
                    if self.buf.starts_with(b"<!") {
                        return Err(FrameError::RestrictedXml("DTD or comment"));
                    }
                    let Some(end) = tag_end(&self.buf, 0)? else {
                        return self.need_more();
                    };
                    self.within_limit(end + 1)?;
                    let tag = self.buf.split_to(end + 1);
                    let header = self.parse_header(&tag)?;
                    self.phase = Phase::InStream;
                    return Ok(Some(Frame::Open(header)));
                }
                Phase::InStream => return self.next_in_stream(),
            }
        }
    }

    fn need_more(&self) -> Result<Option<Frame>, FrameError> {
        self.within_limit(self.buf.len())?;
        Ok(None)
    }

    /// The limit holds for what is buffered of an unfinished element and
    /// for a whole one alike, however the reads cut it.
    fn within_limit(&self, len: usize) -> Result<(), FrameError> {
        if len > self.max_element {
            return Err(FrameError::TooLarge(self.max_element));
        }
        Ok(())
    }

    fn skip_whitespace(&mut self) {
        let n = self
            .buf
            .iter()
            .take_while(|b| b.is_ascii_whitespace())
            .count();
        self.buf.advance(n);
    }

    fn next_in_stream(&mut self) -> Result<Option<Frame>, FrameError> {
        if self.scan_pos == 0 {
            // Between elements only whitespace keepalives may appear.
            self.skip_whitespace();
            if self.buf.is_empty() {
                return Ok(None);
            }
            if self.buf[0] != b'<' {
                return Err(FrameError::BadFormat);
            }
            if self.buf.starts_with(b"</") {
                let Some(end) = find(&self.buf, b">", 0) else {
                    return self.need_more();
                };
                self.within_limit(end + 1)?;
                let name = trim_ascii(&self.buf[2..end]);
                let mut expected = self.stream_prefix.clone();
                expected.extend_from_slice(b":stream");
                if name != expected.as_slice() {
                    return Err(FrameError::NotWellFormed("mismatched end tag".into()));
                }
                self.buf.advance(end + 1);
                self.phase = Phase::Closed;
                return Ok(Some(Frame::Close));
            }
        }
        match self.scan_element()? {
            None => self.need_more(),
            Some(len) => {
                self.within_limit(len)?;
                let raw = self.buf.split_to(len).freeze();
                self.scan_pos = 0;
                self.scan_depth = 0;
                Ok(Some(Frame::Element(Stanza::parse(raw)?)))
            }
        }
    }

    /// Scans from the resume point; returns the element's length once its
    /// end tag (or self-closing start tag) has arrived.
    fn scan_element(&mut self) -> Result<Option<usize>, FrameError> {
        let (result, pos, depth) = scan(&self.buf, self.scan_pos, self.scan_depth);
        self.scan_pos = pos;
        self.scan_depth = depth;
        result
    }

    fn parse_header(&mut self, tag: &[u8]) -> Result<StreamHeader, FrameError> {
        if tag.ends_with(b"/>") {
            return Err(FrameError::NotWellFormed("empty stream element".into()));
        }
        let text = std::str::from_utf8(tag).map_err(|_| FrameError::UnsupportedEncoding)?;
        let mut reader = quick_xml::Reader::from_str(text);
        let start = match reader.read_event() {
            Ok(Event::Start(s)) => s,
            Ok(_) => {
                return Err(FrameError::NotWellFormed(
                    "expected the stream header".into(),
                ))
            }
            Err(e) => return Err(FrameError::NotWellFormed(e.to_string())),
        };
        let mut header = StreamHeader::default();
        let mut prefixes: Vec<(Vec<u8>, String)> = Vec::new();
        for attr in start.attributes() {
            let attr = attr.map_err(|e| FrameError::NotWellFormed(e.to_string()))?;
            let value = attr
                .unescape_value()
                .map_err(|e| FrameError::NotWellFormed(e.to_string()))?
                .into_owned();
            match attr.key.as_ref() {
                b"to" => header.to = Some(value),
                b"from" => header.from = Some(value),
                b"id" => header.id = Some(value),
                b"version" => header.version = Some(value),
                b"xml:lang" => header.lang = Some(value),
                b"xmlns" => header.default_ns = Some(value),
                b"xmlns:db" => {
                    header.dialback = true;
                    prefixes.push((b"db".to_vec(), value));
                }
                key => {
                    if let Some(prefix) = key.strip_prefix(b"xmlns:") {
                        prefixes.push((prefix.to_vec(), value));
                    }
                }
            }
        }
        let qname = start.name();
        let (prefix, local) = match qname.as_ref().iter().position(|&b| b == b':') {
            Some(i) => (&qname.as_ref()[..i], &qname.as_ref()[i + 1..]),
            None => (&b""[..], qname.as_ref()),
        };
        let bound = prefixes
            .iter()
            .find(|(p, _)| p == prefix)
            .map(|(_, ns)| ns.as_str());
        if local != b"stream" || prefix.is_empty() || bound != Some(ns::STREAM) {
            return Err(FrameError::InvalidNamespace(
                "the stream element must be in the streams namespace".into(),
            ));
        }
        self.stream_prefix = prefix.to_vec();
        Ok(header)
    }
}

/// The element scanner behind [`Framer::scan_element`]: from a resume point
/// (offset, depth) to either the element's length or a new resume point,
/// which is always the start of a markup construct not yet complete.
type ScanResult = (Result<Option<usize>, FrameError>, usize, u32);

fn scan(buf: &[u8], mut pos: usize, mut depth: u32) -> ScanResult {
    loop {
        // Text is skipped wholesale; only markup changes depth.
        let Some(lt) = buf[pos..].iter().position(|&b| b == b'<') else {
            return (Ok(None), buf.len(), depth);
        };
        pos += lt;
        let at = pos;
        let rest = &buf[pos..];
        if rest.len() < 2 {
            return (Ok(None), at, depth);
        }
        match rest[1] {
            b'?' => {
                return (
                    Err(FrameError::RestrictedXml("processing instruction")),
                    at,
                    depth,
                )
            }
            b'!' => {
                if rest.len() < 9 {
                    if !b"<![CDATA[".starts_with(rest) {
                        return (Err(FrameError::RestrictedXml("comment or DTD")), at, depth);
                    }
                    return (Ok(None), at, depth);
                }
                if !rest.starts_with(b"<![CDATA[") || depth == 0 {
                    return (Err(FrameError::RestrictedXml("comment or DTD")), at, depth);
                }
                let Some(end) = find(rest, b"]]>", 9) else {
                    return (Ok(None), at, depth);
                };
                pos += end + 3;
            }
            b'/' => {
                let Some(end) = find(rest, b">", 2) else {
                    return (Ok(None), at, depth);
                };
                if depth == 0 {
                    return (
                        Err(FrameError::NotWellFormed("unexpected end tag".into())),
                        at,
                        depth,
                    );
                }
                pos += end + 1;
                depth -= 1;
                if depth == 0 {
                    return (Ok(Some(pos)), 0, 0);
                }
            }
            _ => {
                let end = match tag_end(rest, 0) {
                    Ok(Some(end)) => end,
                    Ok(None) => return (Ok(None), at, depth),
                    Err(e) => return (Err(e), at, depth),
                };
                pos += end + 1;
                if rest[end - 1] != b'/' {
                    depth += 1;
                } else if depth == 0 {
                    return (Ok(Some(pos)), 0, 0);
                }
            }
        }
    }
}

/// Finds the `>` closing the start tag beginning at `from` (a `<`), skipping
/// quoted attribute values, where `>` is legal.
fn tag_end(buf: &[u8], from: usize) -> Result<Option<usize>, FrameError> {
    let mut quote: Option<u8> = None;
    for (i, &b) in buf.iter().enumerate().skip(from + 1) {
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {
                if b == b'<' {
                    return Err(FrameError::NotWellFormed(
                        "'<' in an attribute value".into(),
                    ));
                }
            }
            None => match b {
                b'"' | b'\'' => quote = Some(b),
                b'>' => return Ok(Some(i)),
                b'<' => return Err(FrameError::NotWellFormed("'<' inside a tag".into())),
                _ => {}
            },
        }
    }
    Ok(None)
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if hay.len() < from + needle.len() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

fn trim_ascii(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &s[start..end]
}

/// XMPP is UTF-8 only (RFC 6120 §11.6); a declaration naming anything else
/// gets `unsupported-encoding`.
fn check_declaration(decl: &[u8]) -> Result<(), FrameError> {
    if !decl.starts_with(b"<?xml") || !matches!(decl.get(5), Some(b' ' | b'\t' | b'\r' | b'\n')) {
        return Err(FrameError::RestrictedXml("processing instruction"));
    }
    let text = String::from_utf8_lossy(decl).to_ascii_lowercase();
    if let Some(i) = text.find("encoding") {
        let rest = &text[i..];
        if !(rest.contains("'utf-8'") || rest.contains("\"utf-8\"")) {
            return Err(FrameError::UnsupportedEncoding);
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "framer_tests.rs"]
mod tests;
