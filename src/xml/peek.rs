//! Single facts read off a stanza's bytes, and small splices into them,
//! without building a tree. The bridge needs the body of every message it
//! stores and adds the agent's nick to every reply; a minidom tree for each
//! of those cost more than the rest of the relay together (perf, support
//! chat at saturation).

use std::borrow::Cow;

use memchr::memmem;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

use super::{ns, Stanza};

impl Stanza {
    /// The text of the stanza's first `<body/>` child, as
    /// `element().get_child("body", jabber:client).text()` reads it (direct
    /// text only, entities resolved); `None` when it has none. A body in the
    /// stream namespace of an s2s or component stream counts too.
    pub fn body(&self) -> Option<String> {
        body_of(self.bytes())
    }

    /// Whether the bytes contain `needle` anywhere (a cheap pre-check
    /// before any parsing, e.g. for a namespace).
    pub fn mentions(&self, needle: &str) -> bool {
        memmem::find(self.bytes(), needle.as_bytes()).is_some()
    }

    /// The same element with `child` (a complete, well-formed element)
    /// appended as its last child. The routing attributes do not change, so
    /// nothing is parsed again.
    pub fn with_child(&self, child: &str) -> Stanza {
        // Blanks may follow the element (a stored line, bytes not framed).
        let raw = self.bytes().trim_ascii_end();
        let mut out = Vec::with_capacity(raw.len() + child.len() + 16);
        if raw.ends_with(b"/>") {
            // `<message .../>`: opened, given the child, and closed.
            let name_end = raw
                .iter()
                .skip(1)
                .position(|b| b.is_ascii_whitespace() || *b == b'/' || *b == b'>')
                .map_or(raw.len(), |i| i + 1);
            out.extend_from_slice(&raw[..raw.len() - 2]);
            out.push(b'>');
            out.extend_from_slice(child.as_bytes());
            out.extend_from_slice(b"</");
            out.extend_from_slice(&raw[1..name_end]);
            out.push(b'>');
        } else {
            let Some(close) = memmem::rfind(raw, b"</") else {
                return self.clone();
            };
            out.extend_from_slice(&raw[..close]);
            out.extend_from_slice(child.as_bytes());
            out.extend_from_slice(&raw[close..]);
        }
        self.with_raw(out.into())
    }
}

/// See [`Stanza::body`].
pub fn body_of(raw: &[u8]) -> Option<String> {
    // Chat states, receipts and presence carry no body: most stanzas stop here.
    memmem::find(raw, b"body")?;
    let mut reader = NsReader::from_reader(raw);
    let mut depth = 0usize;
    // Some(text) while inside the body element.
    let mut text: Option<String> = None;
    loop {
        let (resolved, event) = reader.read_resolved_event().ok()?;
        match event {
            Event::Start(e) => {
                if depth == 1 && text.is_none() && is_body(&resolved, e.local_name().as_ref()) {
                    text = Some(String::new());
                }
                depth += 1;
            }
            Event::Empty(e)
                if depth == 1 && text.is_none() && is_body(&resolved, e.local_name().as_ref()) =>
            {
                return Some(String::new());
            }
            Event::End(_) => {
                depth = depth.checked_sub(1)?;
                if depth == 1 && text.is_some() {
                    return text;
                }
            }
            Event::Text(t) if depth == 2 => {
                if let Some(out) = text.as_mut() {
                    let raw = line_ends(std::str::from_utf8(&t).ok()?);
                    out.push_str(&quick_xml::escape::unescape(&raw).ok()?);
                }
            }
            Event::CData(c) if depth == 2 => {
                if let Some(out) = text.as_mut() {
                    out.push_str(&line_ends(std::str::from_utf8(&c).ok()?));
                }
            }
            Event::Eof => return None,
            _ => {}
        }
    }
}

/// CR LF and CR as the LF an XML reader makes of them (XML 1.0 §2.11); a
/// `&#13;` stays a CR, since references are resolved after.
fn line_ends(s: &str) -> Cow<'_, str> {
    if s.contains('\r') {
        Cow::Owned(s.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        Cow::Borrowed(s)
    }
}

fn is_body(resolved: &ResolveResult, local: &[u8]) -> bool {
    if local != b"body" {
        return false;
    }
    match resolved {
        // Stanzas are framed without their stream's default namespace.
        ResolveResult::Unbound => true,
        ResolveResult::Bound(n) => matches!(
            n.as_ref(),
            b if b == ns::CLIENT.as_bytes()
                || b == ns::SERVER.as_bytes()
                || b == ns::COMPONENT.as_bytes()
        ),
        ResolveResult::Unknown(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn parse(s: &str) -> Stanza {
        Stanza::parse(Bytes::copy_from_slice(s.as_bytes())).unwrap()
    }

    /// What minidom reads, for comparison.
    fn tree_body(s: &Stanza) -> Option<String> {
        s.element()
            .unwrap()
            .get_child("body", ns::CLIENT)
            .map(|b| b.text())
    }

    #[test]
    fn body_reads_as_the_tree_does() {
        for xml in [
            "<message><body>hi</body></message>",
            "<message to='a@b'><body>1 &lt; 2 &amp; &#x263A; <![CDATA[<raw>]]></body></message>",
            "<message><body/></message>",
            "<message><body></body></message>",
            "<message/>",
            "<message><active xmlns='http://jabber.org/protocol/chatstates'/></message>",
            // Only the first body, and never one in another namespace.
            "<message><body xmlns='urn:x'>no</body><body>yes</body><body>later</body></message>",
            "<message><x xmlns='urn:y'><body>nested</body></x><body>top</body></message>",
            "<message><html xmlns='http://jabber.org/protocol/xhtml-im'><body xmlns='http://www.w3.org/1999/xhtml'>rich</body></html></message>",
            "<message xmlns='jabber:client'><body xml:lang='en'>\n  spaced  \n</body></message>",
            "<message><body>a<b xmlns='urn:z'>skipped</b>c</body></message>",
            "<message><subject>body</subject></message>",
            // Line ends as a reader makes them; a reference stays a CR.
            "<message><body>a\r\nb\rc&#13;d<![CDATA[e\r\nf]]></body></message>",
        ] {
            let s = parse(xml);
            assert_eq!(s.body(), tree_body(&s), "{xml}");
        }
    }

    #[test]
    fn body_in_a_stream_namespace() {
        let s = parse("<message xmlns='jabber:server'><body>s2s</body></message>");
        assert_eq!(s.body().as_deref(), Some("s2s"));
        let s = parse("<message xmlns='jabber:component:accept'><body>c</body></message>");
        assert_eq!(s.body().as_deref(), Some("c"));
    }

    #[test]
    fn with_child_appends_and_keeps_attributes() {
        let nick = "<nick xmlns='http://jabber.org/protocol/nick'>Ann</nick>";
        for xml in [
            "<message to='c@d' id='1'><body>x</body></message>",
            "<message to='c@d' id='1'/>",
            "<message to='c@d' id='1' />",
        ] {
            let s = parse(xml).with_child(nick);
            let again = parse(std::str::from_utf8(s.bytes()).unwrap());
            assert_eq!((again.to(), again.id()), (Some("c@d"), Some("1")), "{xml}");
            assert_eq!((s.to(), s.id()), (Some("c@d"), Some("1")));
            let el = again.element().unwrap();
            assert_eq!(
                el.children().last().unwrap().name(),
                "nick",
                "{xml} -> {:?}",
                s
            );
            assert_eq!(
                el.get_child("body", ns::CLIENT).map(|b| b.text()),
                tree_body(&parse(xml))
            );
        }
    }
}
