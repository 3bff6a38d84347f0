//! Authentication: SASL exchanges (the server side), dialback keys and
//! elements, and the component handshake.

use std::sync::OnceLock;

use bytes::Bytes;
use switchboard::store::Credentials;
use switchboard::stream::component::{check_addresses, handshake_digest, handshake_proves};
use switchboard::stream::s2s::dialback::{self, DbElement, Keys};
use switchboard::stream::sasl::{first_message_identity, Exchange, Mech, Step};
use switchboard::util::{hex, unhex};
use switchboard::xml::{ns, Frame, Framer, Kind, Stanza};

use super::{parts, text};

/// SASL, as a client would drive it: the first byte picks the mechanism
/// and whether the account exists, the rest is the client's messages
/// (split at `0xff`). Nothing may panic; nobody gets in without the
/// password (SCRAM needs the server's random nonce, which no input can
/// know); a server-first message echoes the client's nonce.
pub fn sasl(data: &[u8]) {
    static CREDS: OnceLock<Credentials> = OnceLock::new();
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let mech = [Mech::ScramSha256, Mech::ScramSha1, Mech::Plain][usize::from(pick % 3)];
    let known = pick & 0x80 == 0;
    let msgs = parts(rest);
    // As the server does: a first message whose identity cannot be read
    // fails before any mechanism runs.
    let Ok((user, _)) = first_message_identity(mech, msgs[0]) else {
        return;
    };
    if mech == Mech::Plain {
        let first = std::str::from_utf8(msgs[0]).expect("a PLAIN identity is UTF-8");
        assert_eq!(first.split('\0').nth(1), Some(user.as_str()));
    }
    let creds = known.then(|| {
        CREDS
            .get_or_init(|| Credentials::derive("pencil", 16))
            .clone()
    });
    let mut exchange = Exchange::start(mech, creds).expect("every offered mechanism starts");
    for (i, msg) in msgs.iter().enumerate() {
        match exchange.step(msg) {
            Step::Challenge(challenge) => {
                assert_ne!(mech, Mech::Plain, "PLAIN is one step");
                if i == 0 {
                    let first = String::from_utf8_lossy(msg);
                    // After the GS2 header (flag, authzid).
                    let bare = first.splitn(3, ',').nth(2).unwrap_or_default();
                    let client_nonce = bare
                        .split(',')
                        .find_map(|kv| kv.strip_prefix("r="))
                        .expect("a challenge answers a client-first message with a nonce");
                    let server_first = String::from_utf8(challenge).expect("server-first is UTF-8");
                    let nonce = server_first
                        .split(',')
                        .find_map(|kv| kv.strip_prefix("r="))
                        .expect("server-first carries a nonce");
                    assert!(nonce.starts_with(client_nonce), "{server_first}");
                    assert!(nonce.len() > client_nonce.len());
                    if known {
                        assert!(server_first.ends_with(",i=16"), "{server_first}");
                    }
                }
            }
            Step::Success(_) => {
                assert!(known, "success without an account: {data:?}");
                assert_eq!(mech, Mech::Plain, "a SCRAM proof was forged: {data:?}");
                let m = std::str::from_utf8(msg).expect("PLAIN success is UTF-8");
                assert_eq!(m.split('\0').count(), 3, "{m:?}");
                break;
            }
            Step::Failure(_) => break,
        }
    }
}

/// Dialback: keys verify for their stream only, in their canonical spelling
/// only; elements read back from what we write of them.
pub fn dialback(data: &[u8]) {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    let keys = KEYS.get_or_init(|| Keys::new(Some("a shared secret for fuzzing")));
    let p = parts(data);
    let arg = |i: usize| p.get(i).map(|b| text(b)).unwrap_or_default();

    // Elements as received, and as we write them back.
    if let Ok(s) = Stanza::parse(Bytes::copy_from_slice(p[0])) {
        if let Some(db) = DbElement::parse(&s) {
            let id = db.id.clone().unwrap_or_else(|| "i".into());
            let written = if db.verify {
                vec![
                    dialback::verify_request(&db.from, &db.to, &id, &db.key),
                    dialback::verify_answer(&db.from, &db.to, &id, db.key.is_empty()),
                ]
            } else {
                vec![
                    dialback::result_request(&db.from, &db.to, &db.key),
                    dialback::result_answer(&db.from, &db.to, Ok(true)),
                    dialback::result_answer(&db.from, &db.to, Err("remote-server-not-found")),
                ]
            };
            for (n, xml) in written.into_iter().enumerate() {
                let s = Stanza::parse(Bytes::from(xml.clone()))
                    .unwrap_or_else(|e| panic!("we wrote {xml:?}, which does not parse: {e}"));
                let back = DbElement::parse(&s).unwrap_or_else(|| panic!("{xml:?}"));
                assert_eq!((&back.from, &back.to), (&db.from, &db.to), "{xml:?}");
                assert_eq!(back.verify, db.verify);
                if n == 0 {
                    assert_eq!(back.key, db.key, "{xml:?}");
                    assert_eq!(back.id.is_some(), db.verify);
                }
                if db.verify {
                    assert_eq!(back.id.as_deref(), Some(id.as_str()));
                }
            }
        }
    }

    // Keys.
    let (receiving, originating, stream) = (arg(1), arg(2), arg(3));
    let key = keys.key(&receiving, &originating, &stream);
    assert!(keys.check(&receiving, &originating, &stream, &key));
    assert!(keys.check(&receiving, &originating, &stream, &key.to_ascii_uppercase()));
    assert!(!keys.check(&receiving, &originating, &format!("{stream}x"), &key));
    let given = arg(4);
    if keys.check(&receiving, &originating, &stream, &given) {
        assert!(
            given.trim().eq_ignore_ascii_case(&key),
            "{given:?} passed for {key}"
        );
    }
    // The key altered at the places the input says.
    let mut altered = key.clone().into_bytes();
    for pair in p.get(5).copied().unwrap_or_default().chunks(2) {
        if let [at, b] = *pair {
            let at = usize::from(at) % altered.len();
            if b.is_ascii() {
                altered[at] = b;
            }
        }
    }
    let altered = String::from_utf8(altered).expect("ASCII");
    if keys.check(&receiving, &originating, &stream, &altered) {
        assert!(
            altered.trim().eq_ignore_ascii_case(&key),
            "{altered:?} passed for {key}"
        );
    }

    // The hex the keys travel in.
    let h = arg(0);
    if let Some(bytes) = unhex(&h) {
        assert_eq!(hex(&bytes), h.to_ascii_lowercase(), "unhex accepted {h:?}");
    }
}

/// The secret of the component the corpus knocks as, and the stream id
/// the handshake is computed over.
const COMPONENT_DOMAIN: &str = "irc.support.example";
const COMPONENT_SECRET: &str = "s3cret";
pub const COMPONENT_STREAM_ID: &str = "fuzzstream0123456";

/// XEP-0114: the header and the handshake as the server reads them, then
/// the addresses of the stanzas the component sends. Only the one digest
/// passes; a component speaks only for its domain.
pub fn component(data: &[u8]) {
    let digest = handshake_digest(COMPONENT_STREAM_ID, COMPONENT_SECRET);
    assert_eq!(digest.len(), 40);
    let mut framer = Framer::new(64 * 1024);
    framer.buffer().extend_from_slice(data);
    let mut frames = std::iter::from_fn(|| framer.next_frame().ok().flatten());
    let Some(Frame::Open(header)) = frames.next() else {
        return;
    };
    let domain = header.to.as_deref().unwrap_or("").to_ascii_lowercase();
    if header.default_ns.as_deref() != Some(ns::COMPONENT) || domain != COMPONENT_DOMAIN {
        return;
    }
    let Some(Frame::Element(hs)) = frames.next() else {
        return;
    };
    if hs.name() != "handshake" {
        return;
    }
    let good = format!("<handshake>{}</handshake>", digest.to_ascii_uppercase());
    let good = Stanza::parse(Bytes::from(good)).expect("a handshake parses");
    assert!(handshake_proves(
        &good,
        COMPONENT_STREAM_ID,
        COMPONENT_SECRET
    ));
    if handshake_proves(&hs, COMPONENT_STREAM_ID, COMPONENT_SECRET) {
        let given = hs.element().expect("an accepted handshake reads").text();
        assert!(given.trim().eq_ignore_ascii_case(&digest), "{hs:?}");
    } else {
        return;
    }
    for frame in frames {
        let Frame::Element(el) = frame else {
            break;
        };
        if el.kind() == Kind::Other {
            break;
        }
        if check_addresses(&el, COMPONENT_DOMAIN).is_ok() {
            let from = switchboard::xml::jid(el.from().expect("checked")).expect("a valid from");
            assert!(
                from.domain()
                    .as_str()
                    .eq_ignore_ascii_case(COMPONENT_DOMAIN),
                "{el:?}"
            );
            assert!(switchboard::xml::jid(el.to().expect("checked")).is_ok());
        }
    }
}
