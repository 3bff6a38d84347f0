//! SCRAM credentials (RFC 5802, RFC 7677). Only the derived keys are kept:
//! StoredKey lets the server check a client proof, ServerKey lets it prove
//! itself, and neither reveals the password or lets a thief log in directly.

use std::fmt;

use hmac::digest::{FixedOutput, KeyInit, OutputSizeUser, Update};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// Iteration count for new credentials: the RFC 7677 minimum, kept low
/// because every login and every SCRAM-less PLAIN check pays for it.
pub const DEFAULT_ITERATIONS: u32 = 4096;

const SALT_LEN: usize = 16;

/// SCRAM-SHA-1 and SCRAM-SHA-256 verifiers for one account, sharing one salt
/// and iteration count so a client may pick either mechanism.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub salt: Vec<u8>,
    pub iterations: u32,
    pub sha1_stored_key: Vec<u8>,
    pub sha1_server_key: Vec<u8>,
    pub sha256_stored_key: Vec<u8>,
    pub sha256_server_key: Vec<u8>,
}

impl Credentials {
    /// Derives fresh credentials with a random 16-byte salt.
    ///
    /// The password ought to be SASLprep'ed (RFC 4013) first; we use its
    /// UTF-8 bytes as given, which agrees with SASLprep for ASCII passwords
    /// without control characters. Clients that normalise differently fail
    /// only for exotic passwords. An iteration count of 0 is meaningless for
    /// PBKDF2 and is raised to 1.
    pub fn derive(password: &str, iterations: u32) -> Credentials {
        let mut salt = vec![0u8; SALT_LEN];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        Self::derive_with_salt(password, salt, iterations)
    }

    fn derive_with_salt(password: &str, salt: Vec<u8>, iterations: u32) -> Credentials {
        let iterations = iterations.max(1);
        let (sha1_stored_key, sha1_server_key) =
            scram_keys::<Sha1, Hmac<Sha1>>(password.as_bytes(), &salt, iterations);
        let (sha256_stored_key, sha256_server_key) =
            scram_keys::<Sha256, Hmac<Sha256>>(password.as_bytes(), &salt, iterations);
        Credentials {
            salt,
            iterations,
            sha1_stored_key,
            sha1_server_key,
            sha256_stored_key,
            sha256_server_key,
        }
    }

    /// Checks a cleartext password (SASL PLAIN) against the SHA-256 verifier.
    pub fn verify_plain(&self, password: &str) -> bool {
        let (stored_key, _) = scram_keys::<Sha256, Hmac<Sha256>>(
            password.as_bytes(),
            &self.salt,
            self.iterations.max(1),
        );
        constant_time_eq(&stored_key, &self.sha256_stored_key)
    }
}

// The keys are password-equivalent for offline guessing, so keep them out of
// logs even when someone debug-prints an account.
impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

/// Returns (StoredKey, ServerKey) per RFC 5802 §3, for hash `D` and its
/// HMAC `M` (passed separately because `Hmac<D>`'s bounds on a generic `D`
/// are unwieldy).
fn scram_keys<D, M>(password: &[u8], salt: &[u8], iterations: u32) -> (Vec<u8>, Vec<u8>)
where
    D: Digest,
    M: Mac + KeyInit + Update + FixedOutput + Clone + Sync,
{
    let mut salted = vec![0u8; <M as OutputSizeUser>::output_size()];
    pbkdf2::pbkdf2::<M>(password, salt, iterations, &mut salted)
        .expect("HMAC accepts keys of any length");
    let client_key = hmac::<M>(&salted, b"Client Key");
    let server_key = hmac::<M>(&salted, b"Server Key");
    (D::digest(&client_key).to_vec(), server_key)
}

fn hmac<M: Mac + KeyInit>(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = <M as KeyInit>::new_from_slice(key).expect("HMAC accepts keys of any length");
    Mac::update(&mut mac, data);
    mac.finalize().into_bytes().to_vec()
}

/// Compares without an early exit so the time taken does not reveal how many
/// leading bytes of a guess were right. Lengths are public (fixed per hash).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD as B64;
    use base64::Engine;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Checks the RFC's own transcript: recovering ClientKey from the
    /// published proof must hash to our StoredKey, and our ServerKey must
    /// produce the published server signature.
    fn check_transcript<D: Digest, M: Mac + KeyInit>(
        stored: &[u8],
        server: &[u8],
        auth_message: &str,
        proof: &str,
        sig: &str,
    ) {
        let client_sig = hmac::<M>(stored, auth_message.as_bytes());
        let proof = B64.decode(proof).unwrap();
        let client_key: Vec<u8> = proof.iter().zip(&client_sig).map(|(p, s)| p ^ s).collect();
        assert_eq!(D::digest(&client_key).as_slice(), stored);
        assert_eq!(B64.encode(hmac::<M>(server, auth_message.as_bytes())), sig);
    }

    #[test]
    fn rfc5802_sha1_vector() {
        let salt = B64.decode("QSXCR+Q6sek8bf92").unwrap();
        let c = Credentials::derive_with_salt("pencil", salt, 4096);
        // Computed independently with Python's hashlib/hmac.
        assert_eq!(
            hex(&c.sha1_stored_key),
            "e9d94660c39d65c38fbad91c358f14da0eef2bd6"
        );
        assert_eq!(
            hex(&c.sha1_server_key),
            "0fe09258b3ac852ba502cc62ba903eaacdbf7d31"
        );
        check_transcript::<Sha1, Hmac<Sha1>>(
            &c.sha1_stored_key,
            &c.sha1_server_key,
            "n=user,r=fyko+d2lbbFgONRv9qkxdawL,\
             r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096,\
             c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j",
            "v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
            "rmF9pqV8S7suAoZWja4dJRkFsKQ=",
        );
    }

    #[test]
    fn rfc7677_sha256_vector() {
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let c = Credentials::derive_with_salt("pencil", salt, 4096);
        // Computed independently with Python's hashlib/hmac.
        assert_eq!(
            hex(&c.sha256_stored_key),
            "586e5df283e6dceb5c3e791d8b8528ec191e664045ce971792e2e6b5bb13e2a6"
        );
        assert_eq!(
            hex(&c.sha256_server_key),
            "c1f3cbc1c13a9d35a14c0990eed97629ea225863e566a4314ab99f3f00e5d9d5"
        );
        check_transcript::<Sha256, Hmac<Sha256>>(
            &c.sha256_stored_key,
            &c.sha256_server_key,
            "n=user,r=rOprNGfwEbeRWgbNEkqO,\
             r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
             s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,\
             c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
            "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
            "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
        );
        assert!(c.verify_plain("pencil"));
        assert!(!c.verify_plain("pencil "));
    }

    #[test]
    fn derive_uses_fresh_salt() {
        let a = Credentials::derive("secret", 1);
        let b = Credentials::derive("secret", 1);
        assert_eq!(a.salt.len(), SALT_LEN);
        assert_ne!(a.salt, b.salt);
        assert_ne!(a.sha256_stored_key, b.sha256_stored_key);
        assert_eq!(a.sha1_stored_key.len(), 20);
        assert_eq!(a.sha256_server_key.len(), 32);
        assert!(a.verify_plain("secret") && !a.verify_plain("Secret"));
        assert!(!format!("{a:?}").contains(&hex(&a.salt)));
    }

    #[test]
    fn constant_time_eq_basics() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
