//! A framed top-level element: its bytes plus the attributes routing needs.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use bytes::Bytes;
use minidom::Element;
use quick_xml::events::attributes::Attribute;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;

use super::ns;
use super::wellformed::{is_char, is_qname, references_short, MAX_TOKEN_BYTES};
use crate::delivery::Delivery;

/// Which of the three stanza kinds (RFC 6120 §8) an element is, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Message,
    Presence,
    Iq,
    /// Stream-level elements: `<starttls/>`, SASL, XEP-0198 `<r/>`...
    Other,
}

#[derive(Debug, thiserror::Error)]
pub enum StanzaParseError {
    #[error("invalid UTF-8")]
    Utf8,
    #[error("character not allowed in XML")]
    IllegalChar,
    #[error("undeclared namespace prefix {0}")]
    UnknownPrefix(String),
    #[error("{0}")]
    Xml(String),
    #[error("no element")]
    Empty,
}

/// Escapes a value for an attribute in either quote style. Tabs and line
/// ends are written as references: a reader turns literal ones into spaces
/// (XML 1.0 §3.3.3).
pub fn escape_attr(s: &str) -> Cow<'_, str> {
    let escaped = quick_xml::escape::escape(s);
    if !escaped.contains(['\t', '\n', '\r']) {
        return escaped;
    }
    let mut out = String::with_capacity(escaped.len() + 8);
    for c in escaped.chars() {
        match c {
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// An attribute's value as an XML reader reports it: literal tabs and line
/// ends become spaces (XML 1.0 §3.3.3, after §2.11 made a CR LF one line
/// end), then references are resolved, to characters XML allows only.
fn attr_value<'a>(attr: &'a Attribute<'a>) -> Result<Cow<'a, str>, StanzaParseError> {
    let raw = std::str::from_utf8(&attr.value).map_err(|_| StanzaParseError::Utf8)?;
    // A CR that is not part of a CR LF: XML makes it a space, rxml refuses
    // it or reads it otherwise, and what is framed must read as a tree.
    if raw
        .match_indices('\r')
        .any(|(i, _)| raw.as_bytes().get(i + 1) != Some(&b'\n'))
    {
        return Err(StanzaParseError::IllegalChar);
    }
    let value = if raw.contains(['\t', '\n', '\r']) {
        let spaced = raw.replace("\r\n", " ").replace(['\t', '\n', '\r'], " ");
        Cow::Owned(unescape(&spaced)?.into_owned())
    } else {
        unescape(raw)?
    };
    Ok(value)
}

/// Whether each attribute of a start tag (its bytes after the name) is
/// followed by a space or the end of the tag: `a='1'b='2'` is not XML.
fn attributes_spaced(raw: &[u8]) -> bool {
    let mut quote = None;
    let mut closed = false;
    for &b in raw {
        if closed && !b.is_ascii_whitespace() {
            return false;
        }
        closed = false;
        match quote {
            Some(q) if b == q => {
                quote = None;
                closed = true;
            }
            Some(_) => {}
            None if b == b'\'' || b == b'"' => quote = Some(b),
            None => {}
        }
    }
    true
}

/// Resolves references, refusing those to characters XML does not allow
/// (`&#1;`, `&#xFFFE;`...; quick-xml refuses only `&#0;` and surrogates).
fn unescape(s: &str) -> Result<Cow<'_, str>, StanzaParseError> {
    if !references_short(s) {
        return Err(StanzaParseError::Xml("character reference too long".into()));
    }
    let value = quick_xml::escape::unescape(s).map_err(|e| StanzaParseError::Xml(e.to_string()))?;
    if !value.chars().all(is_char) {
        return Err(StanzaParseError::IllegalChar);
    }
    Ok(value)
}

/// An element as received or as produced, cheap to clone (shared bytes).
///
/// Its bytes never declare the stream's default namespace: a stanza framed on
/// a `jabber:server` stream is read as `jabber:client` by [`Stanza::element`],
/// which is the normalisation every stream edge needs: xmpp-parsers reads
/// `Message`, `Iq` and `Presence` only in `jabber:client`.
#[derive(Clone)]
pub struct Stanza {
    raw: Bytes,
    kind: Kind,
    name: Box<str>,
    /// The element's own namespace when it declares or prefixes one.
    ns: Option<Box<str>>,
    to: Option<Box<str>>,
    from: Option<Box<str>>,
    id: Option<Box<str>>,
    type_: Option<Box<str>>,
    /// Given when the stanza reaches its recipient; kept by every rewrite.
    delivery: Option<Delivery>,
}

impl fmt::Debug for Stanza {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Stanza({})", String::from_utf8_lossy(&self.raw))
    }
}

impl Stanza {
    /// Checks that `raw` is one well-formed element under restricted XML and
    /// reads its top-level attributes. Text and attribute values are unescaped
    /// once here so that a bad entity is caught at the edge, not downstream.
    pub fn parse(raw: Bytes) -> Result<Stanza, StanzaParseError> {
        let text = std::str::from_utf8(&raw).map_err(|_| StanzaParseError::Utf8)?;
        if text
            .bytes()
            .any(|b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r'))
            || text.contains(['\u{FFFE}', '\u{FFFF}'])
        {
            return Err(StanzaParseError::IllegalChar);
        }
        // quick-xml skips a byte order mark; rxml refuses one, and only a
        // stream's first bytes may carry it.
        if text.starts_with('\u{FEFF}') {
            return Err(StanzaParseError::Xml(
                "byte order mark before the element".into(),
            ));
        }
        let mut reader = quick_xml::NsReader::from_str(text);
        let mut top: Option<Stanza> = None;
        // One element, whole: the framer makes sure of it, other callers
        // pass bytes of their own.
        let mut depth = 0usize;
        let mut done = false;
        loop {
            let (resolved, event) = reader
                .read_resolved_event()
                .map_err(|e| StanzaParseError::Xml(e.to_string()))?;
            let opens = matches!(event, Event::Start(_));
            match event {
                Event::Start(e) | Event::Empty(e) => {
                    if done {
                        return Err(StanzaParseError::Xml("more than one element".into()));
                    }
                    if opens {
                        depth += 1;
                    } else if depth == 0 {
                        done = true;
                    }
                    let qname = e.name();
                    if !is_qname(qname.as_ref()) || qname.as_ref().len() > MAX_TOKEN_BYTES {
                        return Err(StanzaParseError::Xml("not an element name".into()));
                    }
                    // Namespaces in XML §3: no element is in `xmlns`; one
                    // in `xml` is legal but pointless, and the tree reader
                    // knows that prefix only on attributes.
                    if matches!(qname.prefix(), Some(p) if matches!(p.as_ref(), b"xml" | b"xmlns"))
                    {
                        return Err(StanzaParseError::Xml("reserved element prefix".into()));
                    }
                    if !attributes_spaced(e.attributes_raw()) {
                        return Err(StanzaParseError::Xml("attributes not apart".into()));
                    }
                    let ns = resolve(&resolved, e.name().as_ref())?;
                    let mut to = None;
                    let mut from = None;
                    let mut id = None;
                    let mut type_ = None;
                    for attr in e.attributes() {
                        let attr = attr.map_err(|e| StanzaParseError::Xml(e.to_string()))?;
                        if !is_qname(attr.key.as_ref())
                            || attr.key.as_ref().len() > MAX_TOKEN_BYTES
                            || attr.value.len() > MAX_TOKEN_BYTES
                            || attr.value.contains(&b'<')
                        {
                            return Err(StanzaParseError::Xml("not an attribute".into()));
                        }
                        // An empty namespace: Namespaces in XML forbids it
                        // for a prefix, and a default of no namespace has
                        // no meaning on an XMPP stream, where the tree
                        // reader and the byte reader would read it apart.
                        let key = attr.key.as_ref();
                        if (key == b"xmlns" || key.starts_with(b"xmlns:")) && attr.value.is_empty()
                        {
                            return Err(StanzaParseError::Xml("empty namespace".into()));
                        }
                        let (res, _) = reader.resolve_attribute(attr.key);
                        if let ResolveResult::Unknown(p) = res {
                            if !is_stream_prefix(&p) {
                                return Err(StanzaParseError::UnknownPrefix(
                                    String::from_utf8_lossy(&p).into_owned(),
                                ));
                            }
                        }
                        let value = attr_value(&attr)?;
                        if top.is_none() {
                            let slot = match attr.key.as_ref() {
                                b"to" => &mut to,
                                b"from" => &mut from,
                                b"id" => &mut id,
                                b"type" => &mut type_,
                                _ => continue,
                            };
                            *slot = Some(value.into_owned().into_boxed_str());
                        }
                    }
                    if top.is_none() {
                        let name = std::str::from_utf8(e.local_name().as_ref())
                            .map_err(|_| StanzaParseError::Utf8)?
                            .into();
                        top = Some(Stanza {
                            raw: Bytes::new(),
                            kind: Kind::Other,
                            name,
                            ns: ns.map(Into::into),
                            to,
                            from,
                            id,
                            type_,
                            delivery: None,
                        });
                    }
                }
                Event::Text(t) => {
                    let raw = std::str::from_utf8(&t).map_err(|_| StanzaParseError::Utf8)?;
                    // Nothing before the element (rxml refuses even a space);
                    // a space after it is harmless.
                    if depth == 0
                        && (top.is_none() || !raw.bytes().all(|b| b.is_ascii_whitespace()))
                    {
                        return Err(StanzaParseError::Xml("text outside the element".into()));
                    }
                    if raw.contains("]]>") {
                        return Err(StanzaParseError::Xml("']]>' in text".into()));
                    }
                    unescape(raw)?;
                }
                Event::End(_) => {
                    depth -= 1;
                    done = depth == 0;
                }
                // rxml 0.14 keeps a CR that follows a `]` in CDATA instead
                // of making it a line end, so a tree and the bytes would
                // read the text apart; no client writes that.
                Event::CData(c) if memchr::memmem::find(&c, b"]\r").is_some() => {
                    return Err(StanzaParseError::Xml("CR after ']' in CDATA".into()));
                }
                Event::CData(_) => {}
                Event::Eof if depth > 0 => {
                    return Err(StanzaParseError::Xml("unclosed element".into()));
                }
                Event::Eof => break,
                Event::Comment(_) | Event::PI(_) | Event::DocType(_) | Event::Decl(_) => {
                    return Err(StanzaParseError::Xml("restricted XML".into()));
                }
            }
        }
        let mut stanza = top.ok_or(StanzaParseError::Empty)?;
        stanza.kind = kind_of(&stanza.name, stanza.ns.as_deref());
        stanza.raw = raw;
        Ok(stanza)
    }

    /// Serialises an element built by the server.
    pub fn from_element(el: &Element) -> Stanza {
        let mut raw = Vec::with_capacity(256);
        // Writing to a Vec cannot fail for I/O; minidom only errors on
        // invalid names, which our own elements never carry.
        if let Err(e) = el.write_to(&mut raw) {
            tracing::error!(error = %e, "serialising an element failed");
        }
        let ns = el.ns();
        let attr = |n: &str| el.attr(n).map(Into::into);
        Stanza {
            raw: raw.into(),
            kind: kind_of(el.name(), Some(&ns)),
            name: el.name().into(),
            ns: Some(ns.into()),
            to: attr("to"),
            from: attr("from"),
            id: attr("id"),
            type_: attr("type"),
            delivery: None,
        }
    }

    /// A tree of the element, for code that must understand it. Unprefixed
    /// names without a declaration are read as `jabber:client`.
    pub fn element(&self) -> Result<Element, minidom::Error> {
        let mut prefixes = BTreeMap::new();
        prefixes.insert(None, ns::CLIENT.to_string());
        prefixes.insert(Some("stream".to_string()), ns::STREAM.to_string());
        prefixes.insert(Some("db".to_string()), "jabber:server:dialback".to_string());
        Element::from_reader_with_prefixes(&self.raw[..], prefixes)
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The namespace of the element, `None` meaning the stream's default.
    pub fn ns(&self) -> Option<&str> {
        self.ns.as_deref()
    }
    /// Whether the element is `name` in `namespace`.
    pub fn is(&self, name: &str, namespace: &str) -> bool {
        &*self.name == name && self.ns.as_deref() == Some(namespace)
    }
    pub fn to(&self) -> Option<&str> {
        self.to.as_deref()
    }
    pub fn from(&self) -> Option<&str> {
        self.from.as_deref()
    }
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }
    pub fn type_(&self) -> Option<&str> {
        self.type_.as_deref()
    }
    pub fn bytes(&self) -> &Bytes {
        &self.raw
    }
    pub fn len(&self) -> usize {
        self.raw.len()
    }
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The stanza carrying `d`, given once it reaches its recipient.
    pub fn with_delivery(mut self, d: Delivery) -> Stanza {
        self.delivery = Some(d);
        self
    }

    /// The notice [`Stanza::delivered`] gives, if anyone waits for it.
    pub fn delivery(&self) -> Option<&Delivery> {
        self.delivery.as_ref()
    }

    /// It reached its recipient (acknowledged, written, or stored offline
    /// for them): tells whoever asked ([`Stanza::with_delivery`]).
    pub fn delivered(&self) {
        if let Some(d) = &self.delivery {
            d.done();
        }
    }

    /// The same routing attributes over new bytes: for splices that add
    /// children and leave the top-level tag as it is.
    pub(super) fn with_raw(&self, raw: Bytes) -> Stanza {
        let mut s = self.clone();
        s.raw = raw;
        s
    }

    /// The same element with `from` and `to` replaced (`None` keeps the old
    /// value), rewritten on the bytes: relaying never builds a tree.
    pub fn with_addresses(&self, from: Option<&str>, to: Option<&str>) -> Stanza {
        let set = [("from", from), ("to", to)];
        // Adding addresses the element does not carry yet (a client's
        // stanza getting its `from`, on every stanza a client sends) is a
        // splice after the name: no re-reading and re-escaping of the other
        // attributes.
        let adds_only =
            (from.is_none() || self.from.is_none()) && (to.is_none() || self.to.is_none());
        let mut s = if adds_only {
            self.insert_attributes(&set)
        } else {
            self.rewrite_top(&set, &[])
        };
        if let Some(f) = from {
            s.from = Some(f.into());
        }
        if let Some(t) = to {
            s.to = Some(t.into());
        }
        s
    }

    /// The element with `xmlns='jabber:client'` on its tag, for embedding it
    /// in another namespace (a carbon's or a forwarded copy): bytes without a
    /// declaration would inherit the wrapper's namespace.
    pub fn qualified(&self) -> Stanza {
        if self.ns.is_some() && self.ns.as_deref() != Some(ns::SERVER) {
            return self.clone();
        }
        let mut s = self.rewrite_top(&[("xmlns", Some(ns::CLIENT))], &[]);
        s.ns = Some(ns::CLIENT.into());
        s
    }

    /// The element without a declaration of a stream default namespace
    /// (`jabber:client` or `jabber:server`), so that it reads as a stanza on
    /// whichever stream it is written to.
    pub fn unqualified(&self) -> Stanza {
        if !matches!(
            self.ns.as_deref(),
            Some(ns::CLIENT) | Some(ns::SERVER) | Some(ns::COMPONENT)
        ) {
            return self.clone();
        }
        let mut s = self.rewrite_top(&[], &["xmlns"]);
        s.ns = None;
        s
    }

    /// Inserts the attributes in `set` that have a value right after the
    /// element's name; none of them may be on the tag already.
    fn insert_attributes(&self, set: &[(&str, Option<&str>)]) -> Stanza {
        let raw = &self.raw[..];
        let name_end = raw
            .iter()
            .skip(1)
            .position(|b| b.is_ascii_whitespace() || *b == b'/' || *b == b'>')
            .map_or(raw.len(), |i| i + 1);
        let mut out = Vec::with_capacity(raw.len() + 64);
        out.extend_from_slice(&raw[..name_end]);
        for (key, value) in set {
            if let Some(v) = value {
                out.push(b' ');
                out.extend_from_slice(key.as_bytes());
                out.extend_from_slice(b"=\"");
                out.extend_from_slice(escape_attr(v).as_bytes());
                out.push(b'"');
            }
        }
        out.extend_from_slice(&raw[name_end..]);
        let mut s = self.clone();
        s.raw = out.into();
        s
    }

    /// Rewrites the top-level tag: attributes in `set` with a value replace
    /// (or add) that attribute, those in `remove` are dropped.
    fn rewrite_top(&self, set: &[(&str, Option<&str>)], remove: &[&str]) -> Stanza {
        let mut reader = quick_xml::Reader::from_reader(&self.raw[..]);
        let (start, empty) = match reader.read_event() {
            Ok(Event::Start(s)) => (s, false),
            Ok(Event::Empty(s)) => (s, true),
            // Parsed once already: a stanza always starts with its tag.
            _ => return self.clone(),
        };
        let body_at = reader.buffer_position() as usize;
        let mut out = Vec::with_capacity(self.raw.len() + 64);
        out.push(b'<');
        out.extend_from_slice(start.name().as_ref());
        let push_attr = |out: &mut Vec<u8>, key: &[u8], value: &str| {
            out.push(b' ');
            out.extend_from_slice(key);
            out.extend_from_slice(b"=\"");
            out.extend_from_slice(escape_attr(value).as_bytes());
            out.push(b'"');
        };
        for (key, value) in set {
            if let Some(v) = value {
                push_attr(&mut out, key.as_bytes(), v);
            }
        }
        for attr in start.attributes().flatten() {
            let key = attr.key.as_ref();
            let replaced = set.iter().any(|(k, v)| v.is_some() && k.as_bytes() == key);
            if replaced || remove.iter().any(|k| k.as_bytes() == key) {
                continue;
            }
            let value = attr_value(&attr).unwrap_or_default();
            push_attr(&mut out, key, &value);
        }
        if empty {
            out.extend_from_slice(b"/>");
        } else {
            out.push(b'>');
            out.extend_from_slice(&self.raw[body_at..]);
        }
        let mut s = self.clone();
        s.raw = out.into();
        s
    }
}

fn is_stream_prefix(p: &[u8]) -> bool {
    p == b"stream" || p == b"db"
}

/// The namespace an element's name resolves to, refusing undeclared prefixes
/// other than those every XMPP stream header declares.
fn resolve(res: &ResolveResult, qname: &[u8]) -> Result<Option<String>, StanzaParseError> {
    match res {
        ResolveResult::Bound(ns) => Ok(Some(String::from_utf8_lossy(ns.as_ref()).into_owned())),
        ResolveResult::Unbound => Ok(None),
        ResolveResult::Unknown(p) => match p.as_slice() {
            b"stream" => Ok(Some(ns::STREAM.to_string())),
            b"db" => Ok(Some("jabber:server:dialback".to_string())),
            _ => Err(StanzaParseError::UnknownPrefix(
                String::from_utf8_lossy(qname).into_owned(),
            )),
        },
    }
}

fn kind_of(name: &str, ns: Option<&str>) -> Kind {
    if !matches!(
        ns,
        None | Some(ns::CLIENT) | Some(ns::SERVER) | Some(ns::COMPONENT)
    ) {
        return Kind::Other;
    }
    match name {
        "message" => Kind::Message,
        "presence" => Kind::Presence,
        "iq" => Kind::Iq,
        _ => Kind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Stanza {
        Stanza::parse(Bytes::copy_from_slice(s.as_bytes())).unwrap()
    }

    #[test]
    fn reads_routing_attributes() {
        let s = parse(
            "<message to='a@b/c' from=\"x@y\" type='chat' id='m&amp;1'><body>hi</body></message>",
        );
        assert_eq!(s.kind(), Kind::Message);
        assert_eq!(s.to(), Some("a@b/c"));
        assert_eq!(s.from(), Some("x@y"));
        assert_eq!(s.type_(), Some("chat"));
        assert_eq!(s.id(), Some("m&1"));
        assert_eq!(s.ns(), None);
    }

    #[test]
    fn namespaced_elements_are_not_stanzas() {
        let s = parse("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
        assert_eq!(s.kind(), Kind::Other);
        assert!(s.is("starttls", ns::TLS));
        let s = parse("<message xmlns='jabber:client'/>");
        assert_eq!(s.kind(), Kind::Message);
    }

    #[test]
    fn rewrite_keeps_payload_and_escapes() {
        let s = parse("<message to='a@b' from='spoof@x'><body>1 &lt; 2</body></message>");
        let r = s.with_addresses(Some("o'k@x/r"), None);
        assert_eq!(r.from(), Some("o'k@x/r"));
        let again = Stanza::parse(r.bytes().clone()).unwrap();
        assert_eq!(again.from(), Some("o'k@x/r"));
        assert_eq!(again.to(), Some("a@b"));
        let el = again.element().unwrap();
        assert_eq!(el.ns(), ns::CLIENT);
        assert_eq!(el.get_child("body", ns::CLIENT).unwrap().text(), "1 < 2");
        let empty = parse("<presence/>").with_addresses(Some("a@b"), Some("c@d"));
        assert_eq!(
            Stanza::parse(empty.bytes().clone()).unwrap().to(),
            Some("c@d")
        );
    }

    #[test]
    fn adding_addresses_splices_them_in() {
        for xml in [
            "<message to='a@b' type='chat'><body>x &amp; y</body></message>",
            "<message><body/></message>",
            "<presence/>",
            "<iq\ttype='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>",
        ] {
            let s = parse(xml).with_addresses(Some("o'k@x/r\"<"), None);
            let again = Stanza::parse(s.bytes().clone()).unwrap();
            assert_eq!(again.from(), Some("o'k@x/r\"<"), "{xml}");
            assert_eq!(again.to(), parse(xml).to(), "{xml}");
            assert_eq!(again.name(), parse(xml).name(), "{xml}");
            assert_eq!(
                again.element().unwrap().children().count(),
                parse(xml).element().unwrap().children().count()
            );
        }
        let both =
            parse("<message><body>x</body></message>").with_addresses(Some("f@x"), Some("t@y"));
        let again = Stanza::parse(both.bytes().clone()).unwrap();
        assert_eq!((again.from(), again.to()), (Some("f@x"), Some("t@y")));
    }

    #[test]
    fn namespace_declarations_follow_the_destination() {
        let bare = parse("<message to='a@b'><body>x</body></message>");
        let q = bare.qualified();
        assert_eq!(q.ns(), Some(ns::CLIENT));
        let wrapped = format!(
            "<forwarded xmlns='{}'>{}</forwarded>",
            ns::FORWARD,
            String::from_utf8_lossy(q.bytes())
        );
        let outer = minidom::Element::from_reader(wrapped.as_bytes()).unwrap();
        assert!(outer.get_child("message", ns::CLIENT).is_some());

        let server = parse("<message xmlns='jabber:server' to='a@b'/>");
        assert_eq!(server.kind(), Kind::Message);
        let u = server.unqualified();
        assert_eq!(u.ns(), None);
        assert_eq!(u.to(), Some("a@b"));
        assert!(!String::from_utf8_lossy(u.bytes()).contains("xmlns"));
        // A foreign namespace is the element's own and stays.
        let other = parse("<x xmlns='urn:other'/>");
        assert_eq!(other.unqualified().bytes(), other.bytes());
    }

    #[test]
    fn refuses_what_xml_forbids() {
        for xml in [
            "<message><body>&#1;</body></message>",
            "<message><body>&#x1F;</body></message>",
            "<message id='&#xFFFE;'/>",
            "<message><body>\u{FFFF}</body></message>",
            "<message><body>&#xD800;</body></message>",
            "<message><body>&#0;</body></message>",
            "<1message/>",
            "<message a:b:c='1'/>",
            "<message><-x/></message>",
            "<message .a='1'/>",
            "<message a='1'b='2'/>",
            "<message a='<'/>",
            "<message><body>",
            "<message/><message/>",
            "<message/>text",
            "text<message/>",
            " <message/>",
            "<message><body>a]]>b</body></message>",
            "<message to='a\rb'/>",
            "<xmlns:message/>",
            "<xml:message/>",
            "<message xmlns=''/>",
            "<message xmlns:a=''/>",
            "<message><body>&#x00000041;</body></message>",
            "<message id='&#00000065;'/>",
            "\u{FEFF}<message/>",
            "<message><body><![CDATA[a]\rb]]></body></message>",
        ] {
            assert!(Stanza::parse(Bytes::from(xml)).is_err(), "{xml}");
        }
        let long = "a".repeat(MAX_TOKEN_BYTES + 1);
        for xml in [
            format!("<{long}/>"),
            format!("<message {long}='1'/>"),
            format!("<message id='{long}'/>"),
        ] {
            assert!(Stanza::parse(Bytes::from(xml)).is_err());
        }
        let most = "a".repeat(MAX_TOKEN_BYTES);
        let at_most = parse(&format!("<message id='{most}'><{most}/></message>"));
        at_most.element().unwrap();
        parse("<message><body>&#x0000041;</body></message>");
        parse("<message id='&#9;&#xA;&#xD;&#x10FFFF;'><b\u{e9}-.1 xmlns='urn:x'/></message>");
    }

    #[test]
    fn attribute_values_read_as_xml_reads_them() {
        // Literal tabs and line ends are spaces; references are kept.
        let s = parse("<message to='a\r\nb' from='c\td\ne' id='&#10;'/>");
        assert_eq!(
            (s.to(), s.from(), s.id()),
            (Some("a b"), Some("c d e"), Some("\n"))
        );
        let r = s.with_addresses(Some("x\ny"), None);
        let el = r.element().unwrap();
        assert_eq!((el.attr("from"), el.attr("id")), (Some("x\ny"), Some("\n")));
        assert_eq!(
            parse(std::str::from_utf8(r.bytes()).unwrap()).from(),
            Some("x\ny")
        );
    }

    #[test]
    fn element_round_trip() {
        use crate::xml::build::{el, BuilderExt};
        let el = el("iq", ns::CLIENT).a("type", "get").build();
        let s = Stanza::from_element(&el);
        assert_eq!(s.kind(), Kind::Iq);
        assert_eq!(s.type_(), Some("get"));
        let back = Stanza::parse(s.bytes().clone()).unwrap();
        assert_eq!(back.kind(), Kind::Iq);
    }
}
