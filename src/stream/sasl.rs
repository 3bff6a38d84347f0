//! SASL for c2s (RFC 6120 §6) through rsasl: SCRAM-SHA-256, SCRAM-SHA-1 and
//! PLAIN, against stored SCRAM keys only.
//!
//! rsasl's callbacks are synchronous, so the account's keys are fetched
//! before the mechanism runs: the username is read from the client's first
//! message (SCRAM client-first or the PLAIN triple), then the exchange runs
//! with those keys in memory.

use std::sync::Arc;

use rsasl::callback::{Context, Request, SessionCallback, SessionData};
use rsasl::mechanisms::scram::properties::ScramStoredPassword;
use rsasl::mechname::Mechname;
use rsasl::prelude::{SASLConfig, SASLServer, Session, SessionError, State};
use rsasl::property::{AuthId, Password};
use rsasl::validate::{Validate, Validation, ValidationError};

use crate::store::Credentials;

/// Mechanisms in order of preference, as advertised.
pub const MECHANISMS: [&str; 3] = ["SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"];

/// RFC 6120 §6.5 failure conditions we send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SaslFailure {
    #[error("aborted")]
    Aborted,
    #[error("incorrect-encoding")]
    IncorrectEncoding,
    #[error("invalid-authzid")]
    InvalidAuthzid,
    #[error("invalid-mechanism")]
    InvalidMechanism,
    #[error("malformed-request")]
    MalformedRequest,
    #[error("encryption-required")]
    EncryptionRequired,
    #[error("not-authorized")]
    NotAuthorized,
    #[error("temporary-auth-failure")]
    TemporaryAuthFailure,
}

impl SaslFailure {
    pub fn condition(self) -> String {
        self.to_string()
    }
}

/// Which of the stored key sets a mechanism uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mech {
    ScramSha256,
    ScramSha1,
    Plain,
    /// RFC 4505, for web visitors only.
    Anonymous,
}

impl Mech {
    pub fn parse(name: &str) -> Option<Mech> {
        match name {
            "SCRAM-SHA-256" => Some(Mech::ScramSha256),
            "SCRAM-SHA-1" => Some(Mech::ScramSha1),
            "PLAIN" => Some(Mech::Plain),
            "ANONYMOUS" => Some(Mech::Anonymous),
            _ => None,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Mech::ScramSha256 => "SCRAM-SHA-256",
            Mech::ScramSha1 => "SCRAM-SHA-1",
            Mech::Plain => "PLAIN",
            Mech::Anonymous => "ANONYMOUS",
        }
    }
}

/// The username (authcid) and authzid a client's first message names.
pub fn first_message_identity(
    mech: Mech,
    msg: &[u8],
) -> Result<(String, Option<String>), SaslFailure> {
    let text = std::str::from_utf8(msg).map_err(|_| SaslFailure::MalformedRequest)?;
    match mech {
        Mech::Anonymous => Ok((String::new(), None)),
        Mech::Plain => {
            let mut parts = text.split('\0');
            let (Some(authz), Some(authc), Some(_pw), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return Err(SaslFailure::MalformedRequest);
            };
            Ok((
                authc.to_string(),
                (!authz.is_empty()).then(|| authz.to_string()),
            ))
        }
        Mech::ScramSha1 | Mech::ScramSha256 => {
            // gs2-header: cbind-flag "," [authzid] "," then client-first-bare.
            let mut it = text.splitn(3, ',');
            let (Some(flag), Some(authz), Some(bare)) = (it.next(), it.next(), it.next()) else {
                return Err(SaslFailure::MalformedRequest);
            };
            if !(flag == "n" || flag == "y") {
                // "p=": channel binding we never offered.
                return Err(SaslFailure::MalformedRequest);
            }
            let authz = match authz.strip_prefix("a=") {
                Some(a) => Some(scram_unescape(a)?),
                None if authz.is_empty() => None,
                None => return Err(SaslFailure::MalformedRequest),
            };
            let user = bare
                .split(',')
                .find_map(|kv| kv.strip_prefix("n="))
                .ok_or(SaslFailure::MalformedRequest)?;
            Ok((scram_unescape(user)?, authz))
        }
    }
}

fn scram_unescape(s: &str) -> Result<String, SaslFailure> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        match rest.get(i..i + 3) {
            Some("=2C") => out.push(','),
            Some("=3D") => out.push('='),
            _ => return Err(SaslFailure::MalformedRequest),
        }
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    Ok(out)
}

struct Authenticated;
impl Validation for Authenticated {
    type Value = bool;
}

/// Holds the keys of the one account this exchange may authenticate: the
/// caller loaded them for the username in the very message being stepped.
struct Keys {
    creds: Option<Credentials>,
}

impl SessionCallback for Keys {
    fn callback(
        &self,
        session: &SessionData,
        context: &Context,
        request: &mut Request,
    ) -> Result<(), SessionError> {
        let _ = context;
        let Some(creds) = &self.creds else {
            return Ok(());
        };
        let (stored, server) = if session.mechanism().mechanism.as_str() == "SCRAM-SHA-1" {
            (&creds.sha1_stored_key, &creds.sha1_server_key)
        } else {
            (&creds.sha256_stored_key, &creds.sha256_server_key)
        };
        request.satisfy::<ScramStoredPassword>(&ScramStoredPassword::new(
            creds.iterations,
            &creds.salt,
            stored,
            server,
        ))?;
        Ok(())
    }

    fn validate(
        &self,
        session: &SessionData,
        context: &Context,
        validate: &mut Validate<'_>,
    ) -> Result<(), ValidationError> {
        let authid = context.get_ref::<AuthId>();
        let ok = match (&self.creds, authid) {
            (Some(creds), Some(_)) => {
                if session.mechanism().mechanism.as_str() == "PLAIN" {
                    context
                        .get_ref::<Password>()
                        .and_then(|p| std::str::from_utf8(p).ok())
                        .is_some_and(|p| creds.verify_plain(p))
                } else {
                    // SCRAM only validates after the client proof checked out.
                    true
                }
            }
            _ => false,
        };
        validate.with::<Authenticated, _>(|| Ok(ok))?;
        Ok(())
    }
}

/// What to send after one step.
pub enum Step {
    Challenge(Vec<u8>),
    Success(Vec<u8>),
    Failure(SaslFailure),
}

/// One exchange with its keys loaded.
pub struct Exchange {
    /// None: decided before it started (a web visitor's login), and only
    /// its success is left to send.
    session: Option<Session<Authenticated>>,
}

impl Exchange {
    /// Starts `mech` for `username`; `creds` is `None` for an unknown
    /// account, which fails exactly like a wrong password.
    pub fn start(mech: Mech, creds: Option<Credentials>) -> Result<Exchange, SaslFailure> {
        let config = SASLConfig::builder()
            .with_defaults()
            .with_callback(Keys { creds })
            .map_err(|_| SaslFailure::TemporaryAuthFailure)?;
        let server = SASLServer::<Authenticated>::new(config as Arc<SASLConfig>);
        let name =
            Mechname::parse(mech.name().as_bytes()).map_err(|_| SaslFailure::InvalidMechanism)?;
        let session = server
            .start_suggested(name)
            .map_err(|_| SaslFailure::InvalidMechanism)?;
        Ok(Exchange {
            session: Some(session),
        })
    }

    /// An exchange already won: web logins are checked in one step, by
    /// [`crate::stream::web_login`], without rsasl.
    pub fn decided() -> Exchange {
        Exchange { session: None }
    }

    pub fn step(&mut self, input: &[u8]) -> Step {
        let mut out = Vec::new();
        let Some(session) = self.session.as_mut() else {
            return Step::Success(Vec::new());
        };
        // rsasl 2.3's SCRAM parsers slice short attributes without
        // checking their length: a panic there is a malformed message.
        let stepped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            session.step(Some(input), &mut out)
        }));
        let Ok(stepped) = stepped else {
            tracing::debug!("SASL mechanism panicked on the client's message");
            return Step::Failure(SaslFailure::MalformedRequest);
        };
        match stepped {
            Ok(State::Running) => Step::Challenge(out),
            Ok(State::Finished(_)) => match session.validation() {
                Some(true) => Step::Success(out),
                _ => Step::Failure(SaslFailure::NotAuthorized),
            },
            Err(e) if e.is_mechanism_error() => {
                tracing::debug!(error = %e, "SASL mechanism error");
                Step::Failure(SaslFailure::NotAuthorized)
            }
            Err(e) => {
                tracing::debug!(error = %e, "SASL error");
                Step::Failure(SaslFailure::NotAuthorized)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities() {
        assert_eq!(
            first_message_identity(Mech::ScramSha256, b"n,,n=al=2Cice,r=abc").unwrap(),
            ("al,ice".to_string(), None)
        );
        assert_eq!(
            first_message_identity(Mech::ScramSha1, b"y,a=x@y,n=bob,r=abc").unwrap(),
            ("bob".to_string(), Some("x@y".to_string()))
        );
        assert_eq!(
            first_message_identity(Mech::Plain, b"\0bob\0pw").unwrap(),
            ("bob".to_string(), None)
        );
        assert!(first_message_identity(Mech::ScramSha256, b"p=tls-unique,,n=a,r=b").is_err());
        assert!(first_message_identity(Mech::Plain, b"bob\0pw").is_err());
        assert!(first_message_identity(Mech::ScramSha256, b"n,,n=a=ZZ,r=b").is_err());
    }

    #[test]
    fn malformed_scram_messages_fail_without_panicking() {
        let creds = Credentials::derive("pencil", 16);
        // rsasl slices these attributes without checking their length.
        for first in [&b"n,,n=,"[..], b"n,a,n=user,r=abc", b"n,,n="] {
            let mut ex = Exchange::start(Mech::ScramSha256, Some(creds.clone())).unwrap();
            assert!(matches!(ex.step(first), Step::Failure(_)), "{first:?}");
        }
        let mut ex = Exchange::start(Mech::ScramSha1, Some(creds)).unwrap();
        assert!(matches!(ex.step(b"n,,n=user,r=abc"), Step::Challenge(_)));
        assert!(matches!(
            ex.step(b"c=biws,,p=x"),
            Step::Failure(SaslFailure::MalformedRequest)
        ));
    }

    #[test]
    fn plain_checks_the_stored_keys() {
        let creds = Credentials::derive("pencil", 4096);
        let mut ok = Exchange::start(Mech::Plain, Some(creds.clone())).unwrap();
        assert!(matches!(ok.step(b"\0user\0pencil"), Step::Success(_)));
        let mut bad = Exchange::start(Mech::Plain, Some(creds)).unwrap();
        assert!(matches!(
            bad.step(b"\0user\0wrong"),
            Step::Failure(SaslFailure::NotAuthorized)
        ));
        let mut none = Exchange::start(Mech::Plain, None).unwrap();
        assert!(matches!(
            none.step(b"\0user\0pencil"),
            Step::Failure(SaslFailure::NotAuthorized)
        ));
    }
}
