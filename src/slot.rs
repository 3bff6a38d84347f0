//! XEP-0363 upload slots, as the gateway grants them and the HTTP front
//! accepts them: what a slot is, its URLs, and the HMAC-SHA256 signature
//! (over the slot's id, file name, size, type and expiry) that proves the
//! gateway granted it. The key is the server's (`upload.key` beside the
//! certificates), so that slots outlive a restart. Both `gateway` (which
//! signs) and `http` (which verifies) import this; it imports only
//! `util`.
//!
//! A slot's GET URL is `BASE/upload/ID/NAME`; its PUT URL is that with
//! `?size=…&type=…&expires=…&sig=…`, so that any client (a browser's
//! `fetch`, Conversations, Gajim) needs nothing but the URL and the
//! `Content-Type` header.

use crate::util::{hex, unhex};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Where the HTTP front serves uploads.
pub const PATH: &str = "/upload";

/// The longest file name a slot may carry, in bytes.
pub const MAX_NAME_BYTES: usize = 255;

/// One granted upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// Random letters and digits: the file's unguessable name in its URL.
    pub id: String,
    pub name: String,
    pub size: u64,
    /// A bare `type/subtype`, lowercase.
    pub content_type: String,
    /// Until when (Unix seconds) the PUT URL is accepted.
    pub expires: u64,
}

/// A fresh slot id: 24 letters and digits (over 140 bits).
pub fn new_id() -> String {
    use rand::distributions::Alphanumeric;
    use rand::Rng;
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(24)
        .map(char::from)
        .collect()
}

/// Whether an id is one [`new_id`] could have made: only such ids name
/// directories on disk.
pub fn is_id(id: &str) -> bool {
    (16..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Why a file name is refused (None: acceptable): empty, too long, a path
/// (separators, `.` or `..`), or control characters.
pub fn bad_name(name: &str) -> Option<&'static str> {
    if name.trim().is_empty() {
        Some("the file name is empty")
    } else if name.len() > MAX_NAME_BYTES {
        Some("the file name is longer than 255 bytes")
    } else if name.contains(['/', '\\']) || name == "." || name == ".." {
        Some("the file name may not be a path")
    } else if name.chars().any(char::is_control) {
        Some("the file name has control characters")
    } else {
        None
    }
}

/// The key that signs and checks slots.
#[derive(Clone)]
pub struct SlotKey(std::sync::Arc<[u8]>);

impl std::fmt::Debug for SlotKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SlotKey(..)")
    }
}

impl SlotKey {
    pub fn new(key: &[u8]) -> SlotKey {
        SlotKey(key.into())
    }

    fn mac(&self, slot: &Slot) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(b"switchboard upload slot 1");
        let size = slot.size.to_string();
        let expires = slot.expires.to_string();
        // Each field length-prefixed: no two slots sign the same bytes.
        for field in [
            slot.id.as_str(),
            &slot.name,
            &size,
            &slot.content_type,
            &expires,
        ] {
            mac.update(&(field.len() as u64).to_be_bytes());
            mac.update(field.as_bytes());
        }
        mac
    }

    /// The signature, hex.
    pub fn sign(&self, slot: &Slot) -> String {
        hex(&self.mac(slot).finalize().into_bytes())
    }

    /// Whether `sig` (hex) is this key's signature of `slot`, compared in
    /// constant time.
    pub fn verify(&self, slot: &Slot, sig: &str) -> bool {
        match unhex(sig) {
            Some(bytes) => self.mac(slot).verify_slice(&bytes).is_ok(),
            None => false,
        }
    }
}

impl Slot {
    /// `/upload/ID/NAME`, the name percent-encoded.
    pub fn path(&self) -> String {
        format!("{PATH}/{}/{}", self.id, encode(&self.name))
    }

    /// Where the file is fetched, under `base` (`http://host:port`, no
    /// trailing slash).
    pub fn get_url(&self, base: &str) -> String {
        format!("{base}{}", self.path())
    }

    /// Where the file is sent: the GET URL with the signed slot.
    pub fn put_url(&self, base: &str, key: &SlotKey) -> String {
        format!(
            "{base}{}?size={}&type={}&expires={}&sig={}",
            self.path(),
            self.size,
            encode(&self.content_type),
            self.expires,
            key.sign(self)
        )
    }

    /// The slot a PUT names: its path's id and (decoded) name, and its
    /// query; with the signature it carries. None: not a slot URL at all.
    pub fn from_put(id: &str, name: &str, query: &str) -> Option<(Slot, String)> {
        let (mut size, mut kind, mut expires, mut sig) = (None, None, None, None);
        for pair in query.split('&') {
            let (k, v) = pair.split_once('=')?;
            let v = decode(v)?;
            match k {
                "size" => size = Some(v.parse().ok()?),
                "type" => kind = Some(v),
                "expires" => expires = Some(v.parse().ok()?),
                "sig" => sig = Some(v),
                _ => {}
            }
        }
        let slot = Slot {
            id: id.to_string(),
            name: name.to_string(),
            size: size?,
            content_type: kind?,
            expires: expires?,
        };
        Some((slot, sig?))
    }
}

/// Percent-encodes all but RFC 3986's unreserved characters.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` (and `+` as a space, as forms write it); None when the
/// result is not UTF-8 or an escape is broken.
pub fn decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hexpair = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hexpair, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot() -> Slot {
        Slot {
            id: new_id(),
            name: "très cool & 100%.png".into(),
            size: 1234,
            content_type: "image/png".into(),
            expires: 1_800_000_000,
        }
    }

    #[test]
    fn a_put_url_reads_back_as_its_slot_and_verifies() {
        let key = SlotKey::new(b"0123456789abcdef0123456789abcdef");
        let s = slot();
        let url = s.put_url("http://h:1", &key);
        let rest = url.strip_prefix("http://h:1/upload/").unwrap();
        let (path, query) = rest.split_once('?').unwrap();
        let (id, name) = path.split_once('/').unwrap();
        let (back, sig) = Slot::from_put(id, &decode(name).unwrap(), query).unwrap();
        assert_eq!(back, s);
        assert!(key.verify(&back, &sig));
        assert!(!SlotKey::new(b"another key").verify(&back, &sig));
        for changed in [
            Slot {
                size: 1235,
                ..s.clone()
            },
            Slot {
                expires: s.expires + 1,
                ..s.clone()
            },
            Slot {
                content_type: "text/html".into(),
                ..s.clone()
            },
            Slot {
                name: "other.png".into(),
                ..s.clone()
            },
        ] {
            assert!(!key.verify(&changed, &sig), "{changed:?}");
        }
        assert!(!key.verify(&s, "zz"));
    }

    #[test]
    fn names_that_are_paths_or_have_controls_are_refused() {
        assert_eq!(bad_name("report.pdf"), None);
        assert_eq!(bad_name("très cool.png"), None);
        for bad in [
            "",
            " ",
            "a/b",
            "..\\x",
            "..",
            "a\nb",
            "a\u{0}b",
            &"x".repeat(256),
        ] {
            assert!(bad_name(bad).is_some(), "{bad:?}");
        }
        assert!(is_id(&new_id()));
        assert!(!is_id("../../etc"));
    }
}
