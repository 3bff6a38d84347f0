//! Namespaces the server itself speaks. Kept in one place so a typo cannot
//! silently turn a feature off.

pub const STREAM: &str = "http://etherx.jabber.org/streams";
pub const CLIENT: &str = "jabber:client";
pub const SERVER: &str = "jabber:server";
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
