//! Server Dialback (XEP-0220) keys and elements. Keys follow XEP-0185:
//! HMAC-SHA256 over "receiving originating stream-id", keyed with the hex
//! SHA-256 of a secret, so no key needs to be remembered to be verified.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::util::{hex, unhex};
use crate::xml::{escape_attr, Stanza};

pub const NS: &str = "jabber:server:dialback";
/// The stream feature advertising dialback (XEP-0220 §2.1, with errors).
pub const FEATURE: &str = "<dialback xmlns='urn:xmpp:features:dialback'><errors/></dialback>";
pub const FEATURE_NS: &str = "urn:xmpp:features:dialback";

pub struct Keys {
    hashed_secret: String,
}

impl Keys {
    /// `secret`: the configured one, or None for a random one per process.
    pub fn new(secret: Option<&str>) -> Keys {
        let secret = secret
            .map(str::to_string)
            .unwrap_or_else(|| crate::util::random_id(32));
        Keys {
            hashed_secret: hex(&Sha256::digest(secret.as_bytes())),
        }
    }

    pub fn key(&self, receiving: &str, originating: &str, stream_id: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.hashed_secret.as_bytes())
            .expect("HMAC takes keys of any length");
        mac.update(format!("{receiving} {originating} {stream_id}").as_bytes());
        hex(&mac.finalize().into_bytes())
    }

    /// Whether `key` is one we generated for this stream (constant time).
    pub fn check(&self, receiving: &str, originating: &str, stream_id: &str, key: &str) -> bool {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.hashed_secret.as_bytes())
            .expect("HMAC takes keys of any length");
        mac.update(format!("{receiving} {originating} {stream_id}").as_bytes());
        let Some(raw) = unhex(key.trim()) else {
            return false;
        };
        mac.verify_slice(&raw).is_ok()
    }
}

/// A `db:result` or `db:verify` element as received.
#[derive(Debug)]
pub struct DbElement {
    pub verify: bool,
    pub from: String,
    pub to: String,
    pub id: Option<String>,
    pub type_: Option<String>,
    /// The key (requests) or empty (answers).
    pub key: String,
}

impl DbElement {
    pub fn parse(el: &Stanza) -> Option<DbElement> {
        if el.ns() != Some(NS) || !matches!(el.name(), "result" | "verify") {
            return None;
        }
        let tree = el.element().ok()?;
        Some(DbElement {
            verify: el.name() == "verify",
            from: el.from()?.to_ascii_lowercase(),
            to: el.to()?.to_ascii_lowercase(),
            id: el.id().map(str::to_string),
            type_: el.type_().map(str::to_string),
            key: tree.text(),
        })
    }
}

pub fn result_request(from: &str, to: &str, key: &str) -> String {
    format!(
        "<db:result from='{}' to='{}'>{}</db:result>",
        escape_attr(from),
        escape_attr(to),
        escape_attr(key)
    )
}

/// The answer to a `db:result`: `valid`, `invalid`, or an error with a
/// condition (XEP-0220 §2.4).
pub fn result_answer(from: &str, to: &str, outcome: Result<bool, &str>) -> String {
    let (t, body) = match outcome {
        Ok(true) => ("valid", String::new()),
        Ok(false) => ("invalid", String::new()),
        Err(cond) => (
            "error",
            format!(
                "<error type='cancel'><{cond} xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>"
            ),
        ),
    };
    format!(
        "<db:result from='{}' to='{}' type='{t}'>{body}</db:result>",
        escape_attr(from),
        escape_attr(to)
    )
}

pub fn verify_request(from: &str, to: &str, id: &str, key: &str) -> String {
    format!(
        "<db:verify from='{}' to='{}' id='{}'>{}</db:verify>",
        escape_attr(from),
        escape_attr(to),
        escape_attr(id),
        escape_attr(key)
    )
}

pub fn verify_answer(from: &str, to: &str, id: &str, valid: bool) -> String {
    format!(
        "<db:verify from='{}' to='{}' id='{}' type='{}'/>",
        escape_attr(from),
        escape_attr(to),
        escape_attr(id),
        if valid { "valid" } else { "invalid" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_verify_only_for_their_stream_and_domains() {
        let keys = Keys::new(Some("a shared secret of some length"));
        let k = keys.key("customer.test", "support.test", "abc");
        assert_eq!(k.len(), 64);
        assert!(keys.check("customer.test", "support.test", "abc", &k));
        assert!(!keys.check("customer.test", "support.test", "abd", &k));
        assert!(!keys.check("other.test", "support.test", "abc", &k));
        assert!(!keys.check("customer.test", "support.test", "abc", "zz"));
        // Another process with another random secret cannot vouch for it.
        assert!(!Keys::new(None).check("customer.test", "support.test", "abc", &k));
    }

    #[test]
    fn db_elements_parse_with_the_stream_prefix() {
        let raw = "<db:result from='Customer.test' to='support.test'>deadbeef</db:result>";
        let s = Stanza::parse(bytes::Bytes::from(raw)).unwrap();
        let db = DbElement::parse(&s).unwrap();
        assert!(!db.verify);
        assert_eq!(db.from, "customer.test");
        assert_eq!(db.key, "deadbeef");
        let answer = verify_answer("support.test", "customer.test", "i1", true);
        let s = Stanza::parse(bytes::Bytes::from(answer)).unwrap();
        let db = DbElement::parse(&s).unwrap();
        assert!(db.verify);
        assert_eq!(db.type_.as_deref(), Some("valid"));
        assert_eq!(db.id.as_deref(), Some("i1"));
    }

    #[test]
    fn keys_are_escaped_when_written() {
        // A peer's key is echoed to the authoritative server in db:verify.
        for xml in [
            result_request("a.test", "b.test", "dead<beef&"),
            verify_request("a.test", "b.test", "i'1", "dead<beef&"),
        ] {
            let s = Stanza::parse(bytes::Bytes::from(xml)).unwrap();
            assert_eq!(DbElement::parse(&s).unwrap().key, "dead<beef&");
        }
    }

    #[test]
    fn keys_verify_in_their_own_spelling_only() {
        let keys = Keys::new(Some("secret"));
        let k = keys.key("r.test", "o.test", "id");
        // "+a" is what from_str_radix would read as 0x0a.
        let signed = k.replacen("0", "+", 1);
        assert!(k.contains('0'));
        assert!(!keys.check("r.test", "o.test", "id", &signed));
        assert!(keys.check("r.test", "o.test", "id", &k.to_ascii_uppercase()));
    }
}
