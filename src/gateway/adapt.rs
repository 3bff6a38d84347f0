//! Adapting a bridged message to what the receiving side can show:
//! XHTML-IM reduced to its text, OOB links written into the body, chat
//! states, receipt requests and corrections only where supported, and long
//! bodies split at the channel's length limit (an SMS is 160 characters).
//! When nothing is known about the receiver, the message goes as it is.

use std::collections::BTreeSet;

use minidom::{Element, Node};

use crate::xml::build::{el, set_attr};
use crate::xml::{ns, Stanza};

/// What the receiver is known to handle.
#[derive(Debug, Clone, Copy, Default)]
pub struct Target<'a> {
    /// None: unknown, so everything passes.
    pub features: Option<&'a BTreeSet<String>>,
    /// Longest body the channel carries, in characters.
    pub max_length: Option<u32>,
}

impl Target<'_> {
    fn lacks(&self, feature: &str) -> bool {
        self.features.is_some_and(|f| !f.contains(feature))
    }
}

const CHAT_STATES: &[&str] = &["active", "composing", "paused", "inactive", "gone"];

/// The message (or messages, when split) to send instead of `s`; empty
/// when nothing is left for the receiver (a chat state it cannot show).
pub fn adapt(s: &Stanza, to: Target) -> Vec<Stanza> {
    if !may_need_work(s, to) {
        return vec![s.clone()];
    }
    let Ok(mut m) = s.element() else {
        return vec![s.clone()];
    };
    let mut changed = false;
    if to.lacks("xhtml-im") {
        if let Some(html) = m.remove_child("html", ns::XHTML_IM) {
            changed = true;
            if !m.has_child("body", ns::CLIENT) {
                set_body(&mut m, plain_text(&html).trim());
            }
        }
    }
    if to.lacks("oob") {
        let links: Vec<Element> = take_children(&mut m, |c| c.is("x", ns::OOB));
        for x in links {
            changed = true;
            let url = x.get_child("url", ns::OOB).map(|u| u.text());
            let Some(url) = url.filter(|u| !u.is_empty()) else {
                continue;
            };
            let body = body_of(&m).unwrap_or_default();
            if !body.contains(&url) {
                let desc = x.get_child("desc", ns::OOB).map(|d| d.text());
                let line = match desc.filter(|d| !d.is_empty()) {
                    Some(d) => format!("{d}: {url}"),
                    None => url,
                };
                let joined = if body.is_empty() {
                    line
                } else {
                    format!("{body}\n{line}")
                };
                set_body(&mut m, &joined);
            }
        }
    }
    if to.lacks("chat-states") {
        changed |= !take_children(&mut m, |c| {
            c.has_ns(ns::CHATSTATES) && CHAT_STATES.contains(&c.name())
        })
        .is_empty();
    }
    if to.lacks("receipts") {
        changed |= !take_children(&mut m, |c| c.has_ns(ns::RECEIPTS)).is_empty();
    }
    if to.lacks("corrections") && m.remove_child("replace", ns::CORRECTION).is_some() {
        // Shown as a new message, marked so the reader knows it replaces one.
        changed = true;
        if let Some(b) = body_of(&m) {
            set_body(&mut m, &format!("Correction: {b}"));
        }
    }
    let body = body_of(&m);
    if body.is_none() && !m.children().any(|c| !c.is("body", ns::CLIENT)) {
        // Only chat states were in it, and they are not wanted.
        return Vec::new();
    }
    let parts = match (body.as_deref(), to.max_length) {
        (Some(b), Some(max)) => split(b, max as usize),
        _ => Vec::new(),
    };
    if parts.len() > 1 {
        let id = m.attr("id").unwrap_or("sb").to_string();
        let last = parts.len() - 1;
        return parts
            .iter()
            .enumerate()
            .map(|(i, part)| {
                let mut p = m.clone();
                set_body(&mut p, part);
                set_attr(&mut p, "id", format!("{id}-{}", i + 1));
                if i != last {
                    // One receipt for the whole message: on its last part.
                    take_children(&mut p, |c| c.is("request", ns::RECEIPTS));
                }
                Stanza::from_element(&p)
            })
            .collect();
    }
    if changed {
        vec![Stanza::from_element(&m)]
    } else {
        vec![s.clone()]
    }
}

/// A look at the bytes that rules out most messages before any parsing:
/// nothing the receiver lacks is mentioned, and the whole stanza is
/// shorter than the length limit.
fn may_need_work(s: &Stanza, to: Target) -> bool {
    let bytes = s.bytes();
    let mentions = |needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
    let lacking = FEATURE_NS
        .iter()
        .any(|(feature, ns)| to.lacks(feature) && mentions(ns));
    let long = to.max_length.is_some_and(|m| bytes.len() > m as usize);
    lacking || long
}

/// The namespace each adapted feature's elements are in.
const FEATURE_NS: &[(&str, &str)] = &[
    ("xhtml-im", ns::XHTML_IM),
    ("oob", ns::OOB),
    ("chat-states", ns::CHATSTATES),
    ("receipts", ns::RECEIPTS),
    ("corrections", ns::CORRECTION),
];

fn body_of(m: &Element) -> Option<String> {
    m.get_child("body", ns::CLIENT).map(Element::text)
}

fn set_body(m: &mut Element, text: &str) {
    m.remove_child("body", ns::CLIENT);
    m.append_child(el("body", ns::CLIENT).append(text).build());
}

/// Removes the children `pick` selects and returns them; text and other
/// children stay in order.
fn take_children(m: &mut Element, pick: impl Fn(&Element) -> bool) -> Vec<Element> {
    let mut taken = Vec::new();
    for node in m.take_nodes() {
        match node {
            Node::Element(e) if pick(&e) => taken.push(e),
            other => m.append_node(other),
        }
    }
    taken
}

/// The text of an XHTML-IM body: paragraphs and line breaks become new
/// lines, and a link's target follows its text when it differs.
fn plain_text(html: &Element) -> String {
    let mut out = String::new();
    for node in html.nodes() {
        match node {
            Node::Text(t) => out.push_str(t),
            Node::Element(e) => match e.name() {
                "br" => out.push('\n'),
                "p" | "div" | "li" | "blockquote" | "body" => {
                    if !out.is_empty() && !out.ends_with('\n') {
                        out.push('\n');
                    }
                    out.push_str(&plain_text(e));
                    out.push('\n');
                }
                "a" => {
                    let text = plain_text(e);
                    out.push_str(&text);
                    if let Some(href) = e.attr("href").filter(|h| !text.contains(h)) {
                        out.push_str(&format!(" ({href})"));
                    }
                }
                _ => out.push_str(&plain_text(e)),
            },
        }
    }
    out
}

/// Splits `text` into parts of at most `max` characters, at a space or
/// line break when one falls in the second half of a part, so words stay
/// whole where they can.
pub fn split(text: &str, max: usize) -> Vec<String> {
    let max = max.max(1);
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= max {
        return vec![text.to_string()];
    }
    let mut parts = Vec::new();
    let mut start = 0;
    while start < chars.len() {
        // Spaces left over from the previous cut do not start a part.
        while start < chars.len() && chars[start].is_whitespace() {
            start += 1;
        }
        if start >= chars.len() {
            break;
        }
        let end = (start + max).min(chars.len());
        let cut = if end == chars.len() {
            end
        } else {
            (start + max / 2..end)
                .rev()
                .find(|&i| chars[i].is_whitespace())
                .unwrap_or(end)
        };
        let part: String = chars[start..cut].iter().collect();
        parts.push(part.trim_end().to_string());
        start = cut;
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(inner: &str) -> Stanza {
        Stanza::from_element(
            &format!(
                "<message xmlns='jabber:client' from='a@x' to='b@y' id='m1' type='chat'>{inner}</message>"
            )
            .parse::<Element>()
            .unwrap(),
        )
    }

    fn bodies(v: &[Stanza]) -> Vec<String> {
        v.iter()
            .map(|s| body_of(&s.element().unwrap()).unwrap_or_default())
            .collect()
    }

    fn features(f: &[&str]) -> BTreeSet<String> {
        f.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn unknown_receivers_get_the_message_as_it_is() {
        let m = msg("<body>hi</body><composing xmlns='http://jabber.org/protocol/chatstates'/>");
        let out = adapt(&m, Target::default());
        assert_eq!(out[0].bytes(), m.bytes());
    }

    #[test]
    fn xhtml_is_flattened_and_oob_written_into_the_body() {
        let m = msg(
            "<html xmlns='http://jabber.org/protocol/xhtml-im'><body xmlns='http://www.w3.org/1999/xhtml'>\
             <p>Your <strong>invoice</strong></p><p>see <a href='https://x.example/i'>here</a></p></body></html>\
             <x xmlns='jabber:x:oob'><url>https://x.example/f.pdf</url><desc>Invoice</desc></x>",
        );
        let none = features(&[]);
        let out = adapt(
            &m,
            Target {
                features: Some(&none),
                max_length: None,
            },
        );
        let e = out[0].element().unwrap();
        assert!(!e.has_child("html", ns::XHTML_IM));
        assert!(!e.has_child("x", ns::OOB));
        assert_eq!(
            body_of(&e).unwrap(),
            "Your invoice\nsee here (https://x.example/i)\nInvoice: https://x.example/f.pdf"
        );
        // A client with both keeps them.
        let rich = features(&["xhtml-im", "oob"]);
        let kept = adapt(
            &m,
            Target {
                features: Some(&rich),
                max_length: None,
            },
        );
        assert_eq!(kept[0].bytes(), m.bytes());
    }

    #[test]
    fn chat_states_and_receipts_only_where_supported() {
        let none = features(&[]);
        let t = Target {
            features: Some(&none),
            max_length: None,
        };
        let typing = msg("<composing xmlns='http://jabber.org/protocol/chatstates'/>");
        assert!(adapt(&typing, t).is_empty());
        let m = msg(
            "<body>ok</body><active xmlns='http://jabber.org/protocol/chatstates'/>\
             <request xmlns='urn:xmpp:receipts'/>",
        );
        let e = adapt(&m, t)[0].element().unwrap();
        assert!(!e.has_child("active", ns::CHATSTATES));
        assert!(!e.has_child("request", ns::RECEIPTS));
        assert_eq!(body_of(&e).unwrap(), "ok");
    }

    #[test]
    fn long_bodies_split_at_the_limit_on_word_boundaries() {
        let text = "word ".repeat(70); // 350 characters
        let m = msg(&format!(
            "<body>{}</body><request xmlns='urn:xmpp:receipts'/>",
            text.trim_end()
        ));
        let sms = features(&["receipts"]);
        let out = adapt(
            &m,
            Target {
                features: Some(&sms),
                max_length: Some(160),
            },
        );
        let b = bodies(&out);
        assert_eq!(b.len(), 3);
        assert!(b.iter().all(|p| p.chars().count() <= 160), "{b:?}");
        assert!(b.iter().all(|p| !p.starts_with(' ') && !p.ends_with(' ')));
        assert_eq!(b.join(" "), text.trim_end());
        let ids: Vec<_> = out.iter().map(|s| s.id().unwrap().to_string()).collect();
        assert_eq!(ids, ["m1-1", "m1-2", "m1-3"]);
        let receipts: Vec<bool> = out
            .iter()
            .map(|s| s.element().unwrap().has_child("request", ns::RECEIPTS))
            .collect();
        assert_eq!(receipts, [false, false, true]);
    }

    #[test]
    fn split_handles_unbroken_text_and_multibyte_characters() {
        let parts = split(&"é".repeat(25), 10);
        assert_eq!(
            parts.iter().map(|p| p.chars().count()).collect::<Vec<_>>(),
            [10, 10, 5]
        );
        assert_eq!(split("short", 160), ["short"]);
    }

    #[test]
    fn corrections_become_marked_messages() {
        let m = msg("<body>fixed</body><replace xmlns='urn:xmpp:message-correct:0' id='m0'/>");
        let none = features(&[]);
        let e = adapt(
            &m,
            Target {
                features: Some(&none),
                max_length: None,
            },
        )[0]
        .element()
        .unwrap();
        assert_eq!(body_of(&e).unwrap(), "Correction: fixed");
        assert!(!e.has_child("replace", ns::CORRECTION));
    }
}
