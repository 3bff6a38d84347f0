//! Namespaces the server itself speaks. Kept in one place so a typo cannot
//! silently turn a feature off.

pub const STREAM: &str = "http://etherx.jabber.org/streams";
pub const CLIENT: &str = "jabber:client";
pub const SERVER: &str = "jabber:server";
pub const COMPONENT: &str = "jabber:component:accept";
pub const STREAM_ERRORS: &str = "urn:ietf:params:xml:ns:xmpp-streams";
pub const STANZA_ERRORS: &str = "urn:ietf:params:xml:ns:xmpp-stanzas";
pub const TLS: &str = "urn:ietf:params:xml:ns:xmpp-tls";
pub const SASL: &str = "urn:ietf:params:xml:ns:xmpp-sasl";
pub const BIND: &str = "urn:ietf:params:xml:ns:xmpp-bind";
pub const SESSION: &str = "urn:ietf:params:xml:ns:xmpp-session";
pub const ROSTER: &str = "jabber:iq:roster";
pub const ROSTER_VER: &str = "urn:xmpp:features:rosterver";
pub const DISCO_INFO: &str = "http://jabber.org/protocol/disco#info";
pub const DISCO_ITEMS: &str = "http://jabber.org/protocol/disco#items";
pub const PING: &str = "urn:xmpp:ping";
pub const VERSION: &str = "jabber:iq:version";
pub const SM: &str = "urn:xmpp:sm:3";
pub const CARBONS: &str = "urn:xmpp:carbons:2";
pub const FORWARD: &str = "urn:xmpp:forward:0";
pub const DELAY: &str = "urn:xmpp:delay";
pub const HINTS: &str = "urn:xmpp:hints";
pub const CSI: &str = "urn:xmpp:csi:0";
pub const RECEIPTS: &str = "urn:xmpp:receipts";
pub const CHATSTATES: &str = "http://jabber.org/protocol/chatstates";
pub const NICK: &str = "http://jabber.org/protocol/nick";
pub const CORRECTION: &str = "urn:xmpp:message-correct:0";
pub const OOB: &str = "jabber:x:oob";
pub const COMMANDS: &str = "http://jabber.org/protocol/commands";
pub const CAPS: &str = "http://jabber.org/protocol/caps";
pub const XHTML_IM: &str = "http://jabber.org/protocol/xhtml-im";
pub const XHTML: &str = "http://www.w3.org/1999/xhtml";
pub const HTTP_UPLOAD: &str = "urn:xmpp:http:upload:0";
pub const DATA: &str = "jabber:x:data";
/// Switchboard's mark on a page an agent pushed (`/push`): the web chat
/// opens it beside the chat, where an XMPP client shows the XEP-0066 link.
pub const SB_PUSH: &str = "urn:switchboard:push:0";
/// Switchboard's machine-readable place in the queue, beside the text that
/// says it, for the web chat to show: `<queue position='2' minutes='6'/>`,
/// and who took the chat: `<agent name='Alice'/>`.
pub const SB_QUEUE: &str = "urn:switchboard:queue:0";
