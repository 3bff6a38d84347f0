//! Reading what disco#info and XEP-0092 answers say about a customer's
//! network and client: pure functions over parsed answers, so the actor's
//! bookkeeping (who asked what, timeouts) stays apart from the protocol.

use std::collections::BTreeSet;

use base64::Engine;
use minidom::Element;
use xmpp_parsers::caps::{compute_disco, hash_caps};
use xmpp_parsers::disco::DiscoInfoResult;
use xmpp_parsers::hashes::Algo;
use xmpp_parsers::version::VersionResult;

use crate::xml::ns;

/// The client features Switchboard adapts messages to, by the names rules
/// and agents.toml use, with the disco feature that announces each.
pub const FEATURE_VARS: &[(&str, &str)] = &[
    ("receipts", ns::RECEIPTS),
    ("chat-states", ns::CHATSTATES),
    ("corrections", ns::CORRECTION),
    ("xhtml-im", ns::XHTML_IM),
    ("oob", ns::OOB),
    ("http-upload", ns::HTTP_UPLOAD),
];

/// What a domain's disco#info says about the network behind it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetworkInfo {
    /// The channel name (`xmpp`, `sms`, `irc`...), when the identity tells.
    pub protocol: Option<String>,
    /// The identity as announced, e.g. `gateway/sms` or `server/im`.
    pub identity: Option<String>,
    /// The identity's human name, e.g. "SMS gateway".
    pub name: Option<String>,
    /// Longest message the network carries, in characters.
    pub max_length: Option<u32>,
    /// Feature names (see [`FEATURE_VARS`]) the domain itself announces.
    pub features: BTreeSet<String>,
}

/// What a client's disco#info says about it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientInfo {
    /// The client identity's name (e.g. "Gajim").
    pub name: Option<String>,
    /// The client identity's type (pc, phone, web, bot...).
    pub kind: Option<String>,
    pub features: BTreeSet<String>,
}

/// A client's XEP-0092 answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Software {
    pub name: String,
    pub version: String,
    pub os: Option<String>,
}

/// The `<c/>` of a presence (XEP-0115), as announced.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CapsRef {
    pub node: String,
    /// Base64 of the hash, as in the `ver` attribute.
    pub ver: String,
    /// The hash algorithm's name (`sha-1`...).
    pub hash: String,
}

impl CapsRef {
    /// The `<c xmlns='http://jabber.org/protocol/caps'/>` child of a
    /// presence, if it carries one. Legacy caps without `hash` are ignored:
    /// they cannot be verified and nobody sends them any more.
    pub fn of_presence(presence: &Element) -> Option<CapsRef> {
        let c = presence.get_child("c", ns::CAPS)?;
        Some(CapsRef {
            node: c.attr("node")?.to_string(),
            ver: c.attr("ver")?.to_string(),
            hash: c.attr("hash")?.to_string(),
        })
    }

    /// The node to ask disco#info about (XEP-0115 §6.2).
    pub fn disco_node(&self) -> String {
        format!("{}#{}", self.node, self.ver)
    }

    /// The cache key: the hash, not the node, identifies the feature set.
    pub fn key(&self) -> String {
        format!("{} {}", self.hash, self.ver)
    }
}

/// Maps a disco identity to a channel name. The registry's gateway types
/// and the unregistered ones transports commonly use; `conference/irc` is
/// how IRC gateways such as biboumi present themselves.
pub fn protocol_of_identity(category: &str, type_: &str) -> Option<&'static str> {
    let p = match (category, type_) {
        ("server", "im") => "xmpp",
        ("conference", "irc") => "irc",
        ("gateway", t) => match t {
            "xmpp" => "xmpp",
            "sms" | "pstn" => "sms",
            "irc" => "irc",
            "telegram" => "telegram",
            "whatsapp" => "whatsapp",
            "signal" => "signal",
            "matrix" => "matrix",
            "slack" => "slack",
            "discord" => "discord",
            "smtp" | "email" => "email",
            _ => return None,
        },
        _ => return None,
    };
    Some(p)
}

/// The usual length limit of a network when its transport does not say.
pub fn default_max_length(protocol: &str) -> Option<u32> {
    match protocol {
        "sms" => Some(160),
        _ => None,
    }
}

/// Names of the features among `vars`.
pub fn feature_names<'a>(vars: impl IntoIterator<Item = &'a String>) -> BTreeSet<String> {
    let vars: BTreeSet<&str> = vars.into_iter().map(String::as_str).collect();
    FEATURE_VARS
        .iter()
        .filter(|(_, var)| vars.contains(var))
        .map(|(name, _)| name.to_string())
        .collect()
}

/// Parses a domain's disco#info result. Gateway identities win over the
/// server one: a transport hosted inside a server may announce both.
pub fn network(query: &Element) -> Option<NetworkInfo> {
    let disco = DiscoInfoResult::try_from(query.clone()).ok()?;
    let mut info = NetworkInfo {
        features: feature_names(&disco.features),
        ..NetworkInfo::default()
    };
    let mut best: Option<(u8, &xmpp_parsers::disco::Identity)> = None;
    for id in &disco.identities {
        let rank = match protocol_of_identity(&id.category, &id.type_) {
            Some("xmpp") => 1,
            Some(_) => 2,
            None if id.category == "gateway" => 2,
            None => 0,
        };
        if best.is_none_or(|(r, _)| rank > r) {
            best = Some((rank, id));
        }
    }
    if let Some((_, id)) = best {
        info.identity = Some(format!("{}/{}", id.category, id.type_));
        info.name = id.name.clone();
        info.protocol = protocol_of_identity(&id.category, &id.type_)
            .map(String::from)
            .or_else(|| (id.category == "gateway").then(|| id.type_.clone()));
    }
    info.max_length = announced_max_length(&disco);
    Some(info)
}

/// A transport may announce its network's message length in an extended
/// disco form (XEP-0128) field `max-message-length`, whatever the form type.
fn announced_max_length(disco: &DiscoInfoResult) -> Option<u32> {
    disco
        .extensions
        .iter()
        .flat_map(|form| form.fields.iter())
        .filter(|f| f.var.as_deref() == Some("max-message-length"))
        .flat_map(|f| f.values.iter())
        .find_map(|v| v.trim().parse::<u32>().ok())
        .filter(|&n| n > 0)
}

/// Parses a client's disco#info result.
pub fn client(query: &Element) -> Option<ClientInfo> {
    let disco = DiscoInfoResult::try_from(query.clone()).ok()?;
    Some(client_of(&disco))
}

fn client_of(disco: &DiscoInfoResult) -> ClientInfo {
    let id = disco
        .identities
        .iter()
        .find(|i| i.category == "client")
        .or(disco.identities.first());
    ClientInfo {
        name: id.and_then(|i| i.name.clone()),
        kind: id.map(|i| i.type_.clone()),
        features: feature_names(&disco.features),
    }
}

/// Parses the answer to a caps query and checks that it hashes to the
/// announced `ver` (XEP-0115 §5.4): a mismatch means a buggy or lying
/// client, whose answer must not be cached under that `ver`.
pub fn verify_caps(query: &Element, caps: &CapsRef) -> Option<(ClientInfo, bool)> {
    let disco = DiscoInfoResult::try_from(query.clone()).ok()?;
    let verified = match caps.hash.parse::<Algo>() {
        Ok(algo) => hash_caps(&compute_disco(&disco), algo)
            .is_ok_and(|h| base64::engine::general_purpose::STANDARD.encode(&h.hash) == caps.ver),
        Err(_) => false,
    };
    Some((client_of(&disco), verified))
}

/// Parses an XEP-0092 answer.
pub fn software(query: &Element) -> Option<Software> {
    let v = VersionResult::try_from(query.clone()).ok()?;
    Some(Software {
        name: v.name,
        version: v.version,
        os: v.os.filter(|o| !o.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(xml: &str) -> Element {
        xml.parse().expect("test XML")
    }

    #[test]
    fn a_transport_announces_its_network_and_length() {
        let q = parse(
            "<query xmlns='http://jabber.org/protocol/disco#info'>\
             <identity category='gateway' type='sms' name='SMS'/>\
             <feature var='http://jabber.org/protocol/disco#info'/>\
             <feature var='urn:xmpp:receipts'/>\
             <x xmlns='jabber:x:data' type='result'>\
             <field var='FORM_TYPE' type='hidden'><value>urn:example:sms</value></field>\
             <field var='max-message-length'><value>160</value></field></x></query>",
        );
        let n = network(&q).expect("parsed");
        assert_eq!(n.protocol.as_deref(), Some("sms"));
        assert_eq!(n.identity.as_deref(), Some("gateway/sms"));
        assert_eq!(n.max_length, Some(160));
        assert_eq!(n.features, BTreeSet::from(["receipts".to_string()]));
    }

    #[test]
    fn identities_map_to_channels() {
        let q = parse(
            "<query xmlns='http://jabber.org/protocol/disco#info'>\
             <identity category='server' type='im'/>\
             <identity category='conference' type='irc' name='biboumi'/></query>",
        );
        assert_eq!(network(&q).unwrap().protocol.as_deref(), Some("irc"));
        let q = parse(
            "<query xmlns='http://jabber.org/protocol/disco#info'>\
             <identity category='server' type='im'/></query>",
        );
        assert_eq!(network(&q).unwrap().protocol.as_deref(), Some("xmpp"));
        // An unknown gateway type is kept as it is, so rules can still name it.
        let q = parse(
            "<query xmlns='http://jabber.org/protocol/disco#info'>\
             <identity category='gateway' type='skype'/></query>",
        );
        assert_eq!(network(&q).unwrap().protocol.as_deref(), Some("skype"));
    }

    /// The example of XEP-0115 §5.2.
    const XEP_EXAMPLE: &str = "<query xmlns='http://jabber.org/protocol/disco#info' \
         node='http://psi-im.org#QgayPKawpkPSDYmwT/WM94uAlu0='>\
         <identity category='client' name='Exodus 0.9.1' type='pc'/>\
         <feature var='http://jabber.org/protocol/caps'/>\
         <feature var='http://jabber.org/protocol/disco#info'/>\
         <feature var='http://jabber.org/protocol/disco#items'/>\
         <feature var='http://jabber.org/protocol/muc'/></query>";

    #[test]
    fn caps_are_verified_against_the_hash() {
        let good = CapsRef {
            node: "http://psi-im.org".into(),
            ver: "QgayPKawpkPSDYmwT/WM94uAlu0=".into(),
            hash: "sha-1".into(),
        };
        let (info, ok) = verify_caps(&parse(XEP_EXAMPLE), &good).unwrap();
        assert!(ok);
        assert_eq!(info.name.as_deref(), Some("Exodus 0.9.1"));
        assert_eq!(info.kind.as_deref(), Some("pc"));
        let bad = CapsRef {
            ver: "AAAAAAAAAAAAAAAAAAAAAAAAAAA=".into(),
            ..good.clone()
        };
        assert!(!verify_caps(&parse(XEP_EXAMPLE), &bad).unwrap().1);
        let unknown = CapsRef {
            hash: "md5".into(),
            ..good
        };
        assert!(!verify_caps(&parse(XEP_EXAMPLE), &unknown).unwrap().1);
    }

    #[test]
    fn caps_come_from_presence() {
        let p = parse(
            "<presence xmlns='jabber:client'><c xmlns='http://jabber.org/protocol/caps' \
             hash='sha-1' node='n' ver='v='/></presence>",
        );
        let c = CapsRef::of_presence(&p).unwrap();
        assert_eq!(c.disco_node(), "n#v=");
        let legacy = parse(
            "<presence xmlns='jabber:client'><c xmlns='http://jabber.org/protocol/caps' \
             node='n' ver='1.0'/></presence>",
        );
        assert!(CapsRef::of_presence(&legacy).is_none());
    }

    #[test]
    fn feature_names_are_the_rule_languages() {
        let ours: Vec<&str> = FEATURE_VARS.iter().map(|(n, _)| *n).collect();
        assert_eq!(ours, crate::config::FEATURES);
    }

    #[test]
    fn software_answers() {
        let q = parse(
            "<query xmlns='jabber:iq:version'><name>Gajim</name>\
             <version>1.8.4</version><os></os></query>",
        );
        let s = software(&q).unwrap();
        assert_eq!((s.name.as_str(), s.version.as_str()), ("Gajim", "1.8.4"));
        assert_eq!(s.os, None);
    }
}
