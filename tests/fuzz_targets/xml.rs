//! The XML edge: the framer, the stanza reader with the peeks and
//! rewrites the router and the gateway apply to stanzas, and JIDs.

use bytes::Bytes;
use jid::{BareJid, Jid};
use minidom::Element;
use switchboard::xml::{
    error_reply, ns, with_delay, Condition, Frame, FrameError, Framer, Kind, Stanza,
};

/// Small, so that inputs reach it.
const MAX_ELEMENT: usize = 512;

/// One frame, comparable.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Open(Vec<Option<String>>, bool),
    Element(Vec<u8>),
    Close,
}

/// Feeds `data` to a framer in chunks of the given sizes (cycled), pulling
/// every frame after each chunk; what came out, and the error if any.
fn frames(data: &[u8], chunks: &[usize]) -> (Vec<Seen>, Option<FrameError>) {
    let mut framer = Framer::new(MAX_ELEMENT);
    let mut seen = Vec::new();
    let mut rest = data;
    let mut sizes = chunks.iter().cycle();
    while !rest.is_empty() {
        let n = (*sizes.next().unwrap()).clamp(1, rest.len());
        framer.buffer().extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        loop {
            match framer.next_frame() {
                Ok(None) => break,
                Ok(Some(frame)) => seen.push(match frame {
                    Frame::Open(h) => Seen::Open(
                        vec![h.to, h.from, h.id, h.version, h.lang, h.default_ns],
                        h.dialback,
                    ),
                    Frame::Element(s) => {
                        assert!(
                            s.len() <= MAX_ELEMENT,
                            "an element of {} bytes passed a limit of {MAX_ELEMENT}",
                            s.len()
                        );
                        Seen::Element(s.bytes().to_vec())
                    }
                    Frame::Close => Seen::Close,
                }),
                Err(e) => return (seen, Some(e)),
            }
        }
    }
    (seen, None)
}

/// The framer: the same frames and the same verdict whatever the sizes of
/// the reads the bytes arrive in, no element above the limit, and every
/// element it hands on a stanza that reads again.
pub fn framer(data: &[u8]) {
    let Some((&seed, data)) = data.split_first() else {
        return;
    };
    let whole = frames(data, &[data.len().max(1)]);
    let mut x = u32::from(seed) | 0x100;
    let chunks: Vec<usize> = (0..16)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x % 64) as usize + 1
        })
        .collect();
    let chunked = frames(data, &chunks);
    let bytewise = frames(data, &[1]);
    for other in [&chunked, &bytewise] {
        assert_eq!(whole.0, other.0, "frames depend on how the bytes arrive");
        match (&whole.1, &other.1) {
            (None, None) => {}
            (Some(a), Some(b)) => {
                // Where an element is too large, another error may be
                // found first in it when it is scanned whole.
                if !matches!(a, FrameError::TooLarge(_)) && !matches!(b, FrameError::TooLarge(_)) {
                    assert_eq!(a, b, "errors depend on how the bytes arrive");
                }
            }
            (a, b) => panic!("verdicts depend on how the bytes arrive: {a:?} vs {b:?}"),
        }
    }
    for seen in &whole.0 {
        if let Seen::Element(raw) = seen {
            let s = Stanza::parse(Bytes::copy_from_slice(raw)).expect("a framed element parses");
            check_stanza(&s);
        }
    }
}

/// The stanza reader and everything done to a stanza on its way through.
pub fn stanza(data: &[u8]) {
    if let Ok(s) = Stanza::parse(Bytes::copy_from_slice(data)) {
        check_stanza(&s);
    }
}

fn reparse(s: &Stanza, what: &str) -> Stanza {
    match Stanza::parse(s.bytes().clone()) {
        Ok(again) => again,
        Err(e) => panic!("{what} does not parse again ({e}): {s:?}"),
    }
}

fn tree(s: &Stanza, what: &str) -> Element {
    match s.element() {
        Ok(el) => el,
        Err(e) => panic!("{what}: the tree reader refuses it ({e}): {s:?}"),
    }
}

/// The text of the first `<body/>` child in a stream namespace, as a tree
/// reads it.
fn tree_body(el: &Element) -> Option<String> {
    el.children()
        .find(|c| {
            c.name() == "body" && [ns::CLIENT, ns::SERVER, ns::COMPONENT].contains(&c.ns().as_str())
        })
        .map(Element::text)
}

/// The attributes of a tree's top element other than those in `except`.
fn attrs(el: &Element, except: &[&str]) -> Vec<(String, String, String)> {
    let mut v: Vec<_> = el
        .attrs()
        .iter()
        .filter(|((_, k), _)| !except.contains(&k.as_str()))
        .map(|((ns, k), v)| (format!("{ns:?}"), k.to_string(), v.to_string()))
        .collect();
    v.sort();
    v
}

fn same_routing(a: &Stanza, b: &Stanza, what: &str) {
    assert_eq!(
        (a.kind(), a.name(), a.to(), a.from(), a.id(), a.type_()),
        (b.kind(), b.name(), b.to(), b.from(), b.id(), b.type_()),
        "{what}: {a:?} vs {b:?}"
    );
}

/// Values with every character that needs escaping in an attribute.
const FROM: &str = "o'k@x.test/r\"<&>\t\n\r";
const TO: &str = "t&amp;@y.test/&#x41;'\"";

pub fn check_stanza(s: &Stanza) {
    let again = reparse(s, "a parsed stanza");
    same_routing(s, &again, "parsing twice");
    assert_eq!(s.ns(), again.ns());

    // What the byte reader accepts, the tree reader accepts, and they read
    // the same routing attributes and body.
    let el = tree(s, "a parsed stanza");
    assert_eq!(el.name(), s.name());
    for (name, value) in [
        ("to", s.to()),
        ("from", s.from()),
        ("id", s.id()),
        ("type", s.type_()),
    ] {
        assert_eq!(el.attr(name), value, "attribute {name} of {s:?}");
    }
    assert_eq!(s.body(), tree_body(&el), "body of {s:?}");
    let children = el.children().count();

    // Rewriting the addresses changes them and nothing else.
    for (from, to) in [(Some(FROM), None), (None, Some(TO)), (Some(FROM), Some(TO))] {
        let r = s.with_addresses(from, to);
        let p = reparse(&r, "a readdressed stanza");
        same_routing(&r, &p, "a readdressed stanza");
        assert_eq!(p.from(), from.or(s.from()));
        assert_eq!(p.to(), to.or(s.to()));
        assert_eq!(
            (p.kind(), p.name(), p.id(), p.type_()),
            (s.kind(), s.name(), s.id(), s.type_())
        );
        let rel = tree(&p, "a readdressed stanza");
        assert_eq!(rel.attr("from"), p.from(), "{r:?}");
        assert_eq!(rel.attr("to"), p.to(), "{r:?}");
        assert_eq!(
            attrs(&rel, &["from", "to"]),
            attrs(&el, &["from", "to"]),
            "{r:?}"
        );
        assert_eq!(rel.children().count(), children);
        assert_eq!(p.body(), s.body());
    }

    // Qualified for embedding, unqualified for a stream.
    let q = s.qualified();
    let qp = reparse(&q, "a qualified stanza");
    same_routing(&q, &qp, "a qualified stanza");
    assert_eq!(q.ns(), qp.ns());
    if s.ns().is_none() || s.ns() == Some(ns::SERVER) {
        assert_eq!(qp.ns(), Some(ns::CLIENT));
    } else {
        assert_eq!(qp.ns(), s.ns());
    }
    let u = s.unqualified();
    let up = reparse(&u, "an unqualified stanza");
    same_routing(&u, &up, "an unqualified stanza");
    if matches!(s.ns(), Some(ns::CLIENT | ns::SERVER | ns::COMPONENT)) {
        assert_eq!(up.ns(), None);
    }
    assert_eq!(
        tree(&up, "an unqualified stanza").children().count(),
        children
    );

    // The gateway's splices.
    let nick = "<nick xmlns='http://jabber.org/protocol/nick'>A &amp; B</nick>";
    let w = s.with_child(nick);
    let wp = reparse(&w, "a stanza with a child added");
    same_routing(s, &wp, "a stanza with a child added");
    let wel = tree(&wp, "a stanza with a child added");
    assert_eq!(wel.children().count(), children + 1, "{w:?}");
    assert_eq!(wel.children().last().map(Element::name), Some("nick"));

    if s.kind() == Kind::Message {
        let text = std::str::from_utf8(s.bytes()).expect("parsed as UTF-8");
        let d = with_delay(text, FROM, 1_700_000_000_123).expect("a message takes a delay");
        let dp = reparse(&d, "a delayed message");
        same_routing(s, &dp, "a delayed message");
        let del = tree(&dp, "a delayed message");
        assert_eq!(del.children().count(), children + 1);
        let delay = del
            .get_child("delay", ns::DELAY)
            .expect("the delay is there");
        assert_eq!(delay.attr("from"), Some(FROM));
    }
    if let Some(e) = error_reply(s, Condition::ServiceUnavailable, Some(FROM), "server.test") {
        let ep = reparse(&e, "an error reply");
        assert_eq!(ep.type_(), Some("error"));
        assert_eq!(ep.to(), s.from());
        assert_eq!(ep.id(), s.id());
        tree(&ep, "an error reply");
    }
}

/// JIDs: one that parses prints back to one that parses equal, and in its
/// RFC 7622 form (no final dot in the domain).
pub fn jid(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(j) = switchboard::xml::jid(text) {
        let printed = j.to_string();
        let back = switchboard::xml::jid(&printed)
            .unwrap_or_else(|e| panic!("{text:?} printed as {printed:?}, which is refused: {e}"));
        assert_eq!(j, back, "{text:?} printed as {printed:?}");
        assert!(!j.domain().as_str().ends_with('.'), "{text:?}: {j}");
        let at_domain = printed.split('/').next().unwrap_or_default();
        assert!(!at_domain.ends_with('.'), "{text:?} printed as {printed:?}");
        assert_eq!(j.domain().as_str(), back.domain().as_str());
        let bare = j.to_bare();
        assert_eq!(BareJid::new(&bare.to_string()).ok(), Some(bare));
        // Ours differs from the crate's by the final dot only.
        assert!(Jid::new(text).is_ok());
    }
}
