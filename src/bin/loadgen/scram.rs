//! The client side of SASL: SCRAM-SHA-256 and SCRAM-SHA-1 (RFC 5802, RFC
//! 7677) and PLAIN, plus the key derivation the account writer shares.
//!
//! PBKDF2 results are cached per (mechanism, password, salt, iterations), as
//! real clients cache them: otherwise the generator would spend its core on
//! 4096 HMAC rounds per login and a login storm would measure the generator.
//! A server holding stored keys does no PBKDF2 at login either way.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use anyhow::{bail, Context, Result};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::digest::{FixedOutput, KeyInit, OutputSizeUser, Update};
use hmac::{Hmac, Mac};
use rand::Rng;
use sha1::Sha1;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Mech {
    #[value(name = "SCRAM-SHA-256")]
    ScramSha256,
    #[value(name = "SCRAM-SHA-1")]
    ScramSha1,
    #[value(name = "PLAIN")]
    Plain,
}

impl Mech {
    pub fn name(self) -> &'static str {
        match self {
            Mech::ScramSha256 => "SCRAM-SHA-256",
            Mech::ScramSha1 => "SCRAM-SHA-1",
            Mech::Plain => "PLAIN",
        }
    }
}

/// StoredKey and ServerKey for one hash: what a server keeps.
pub struct Verifier {
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
}

/// ClientKey and ServerKey: what the client needs after PBKDF2.
#[derive(Clone)]
struct ClientKeys {
    client_key: Vec<u8>,
    server_key: Vec<u8>,
}

fn hmac<M: Mac + KeyInit>(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = <M as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
    Mac::update(&mut mac, data);
    mac.finalize().into_bytes().to_vec()
}

fn client_keys<M>(password: &[u8], salt: &[u8], iterations: u32) -> ClientKeys
where
    M: Mac + KeyInit + Update + FixedOutput + Clone + Sync,
{
    let mut salted = vec![0u8; <M as OutputSizeUser>::output_size()];
    pbkdf2::pbkdf2::<M>(password, salt, iterations, &mut salted)
        .expect("HMAC takes keys of any length");
    ClientKeys {
        client_key: hmac::<M>(&salted, b"Client Key"),
        server_key: hmac::<M>(&salted, b"Server Key"),
    }
}

fn cached_keys(mech: Mech, password: &str, salt: &[u8], iterations: u32) -> ClientKeys {
    type Cache = Mutex<HashMap<(Mech, String, Vec<u8>, u32), ClientKeys>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Mutex::default);
    let key = (mech, password.to_string(), salt.to_vec(), iterations);
    if let Some(k) = cache.lock().expect("scram cache").get(&key) {
        return k.clone();
    }
    let keys = match mech {
        Mech::ScramSha1 => client_keys::<Hmac<Sha1>>(password.as_bytes(), salt, iterations),
        _ => client_keys::<Hmac<Sha256>>(password.as_bytes(), salt, iterations),
    };
    cache.lock().expect("scram cache").insert(key, keys.clone());
    keys
}

/// The verifier a server stores for `password` (used to write accounts).
pub fn verifier(mech: Mech, password: &str, salt: &[u8], iterations: u32) -> Verifier {
    let k = cached_keys(mech, password, salt, iterations);
    let stored_key = match mech {
        Mech::ScramSha1 => Sha1::digest(&k.client_key).to_vec(),
        _ => Sha256::digest(&k.client_key).to_vec(),
    };
    Verifier {
        stored_key,
        server_key: k.server_key,
    }
}

/// One SCRAM exchange in progress.
pub struct Scram {
    mech: Mech,
    password: String,
    client_first_bare: String,
    nonce: String,
    /// AuthMessage and ServerKey, once the client-final message is built.
    pending: Option<(String, Vec<u8>)>,
}

fn saslname(s: &str) -> String {
    s.replace('=', "=3D").replace(',', "=2C")
}

impl Scram {
    pub fn new(mech: Mech, user: &str, password: &str) -> Scram {
        let nonce: String = rand::thread_rng()
            .sample_iter(rand::distributions::Alphanumeric)
            .take(24)
            .map(char::from)
            .collect();
        Scram {
            mech,
            password: password.to_string(),
            client_first_bare: format!("n={},r={nonce}", saslname(user)),
            nonce,
            pending: None,
        }
    }

    /// The initial response: gs2 header (no channel binding) + bare message.
    pub fn client_first(&self) -> String {
        format!("n,,{}", self.client_first_bare)
    }

    /// Answers the server-first message with the client-final message.
    pub fn client_final(&mut self, server_first: &str) -> Result<String> {
        let mut nonce = None;
        let mut salt = None;
        let mut iterations = None;
        for kv in server_first.split(',') {
            match kv.split_once('=') {
                Some(("r", v)) => nonce = Some(v),
                Some(("s", v)) => salt = Some(B64.decode(v).context("SCRAM salt")?),
                Some(("i", v)) => iterations = Some(v.parse::<u32>().context("SCRAM i")?),
                Some(("m", _)) => bail!("SCRAM extension the client does not know"),
                _ => {}
            }
        }
        let (Some(nonce), Some(salt), Some(iterations)) = (nonce, salt, iterations) else {
            bail!("incomplete server-first message {server_first:?}");
        };
        if !nonce.starts_with(&self.nonce) {
            bail!("the server nonce does not extend ours");
        }
        let keys = cached_keys(self.mech, &self.password, &salt, iterations);
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{server_first},{without_proof}", self.client_first_bare);
        let signature = match self.mech {
            Mech::ScramSha1 => {
                let stored = Sha1::digest(&keys.client_key);
                hmac::<Hmac<Sha1>>(&stored, auth_message.as_bytes())
            }
            _ => {
                let stored = Sha256::digest(&keys.client_key);
                hmac::<Hmac<Sha256>>(&stored, auth_message.as_bytes())
            }
        };
        let proof: Vec<u8> = keys
            .client_key
            .iter()
            .zip(&signature)
            .map(|(a, b)| a ^ b)
            .collect();
        self.pending = Some((auth_message, keys.server_key));
        Ok(format!("{without_proof},p={}", B64.encode(proof)))
    }

    /// Checks the server's signature: a server that does not hold our
    /// verifier cannot produce it.
    pub fn verify_server_final(&self, server_final: &str) -> Result<()> {
        let Some((auth_message, server_key)) = &self.pending else {
            bail!("server-final before client-final");
        };
        let Some(v) = server_final.strip_prefix("v=") else {
            bail!("server-final without a signature: {server_final:?}");
        };
        let expected = match self.mech {
            Mech::ScramSha1 => hmac::<Hmac<Sha1>>(server_key, auth_message.as_bytes()),
            _ => hmac::<Hmac<Sha256>>(server_key, auth_message.as_bytes()),
        };
        if B64.decode(v.trim()).ok().as_deref() != Some(&expected[..]) {
            bail!("the server's SCRAM signature is wrong");
        }
        Ok(())
    }
}

/// The PLAIN initial response (RFC 4616), no authzid.
pub fn plain(user: &str, password: &str) -> String {
    format!("\0{user}\0{password}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677 §3's exchange, with its nonce.
    #[test]
    fn rfc7677_vector() {
        let mut s = Scram::new(Mech::ScramSha256, "user", "pencil");
        s.nonce = "rOprNGfwEbeRWgbNEkqO".into();
        s.client_first_bare = "n=user,r=rOprNGfwEbeRWgbNEkqO".into();
        let fin = s
            .client_final(
                "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                 s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            )
            .unwrap();
        assert_eq!(
            fin,
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
             p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        s.verify_server_final("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .unwrap();
        assert!(s.verify_server_final("v=AAAA").is_err());
    }
}
