//! How web chat visitors log in on the web domain (`[web]`): SASL ANONYMOUS
//! gives a fresh JID each time; SASL PLAIN carries a signed token (a JWT,
//! HS256) in place of a password, and a token gives the same JID each
//! time, so a visitor who reloads the page, or comes back, is the same
//! customer to the gateway (their session, their agent, their history).
//!
//! Two issuers sign tokens, each with its own key and its own part of the
//! domain, so neither can speak for the other's visitors:
//! - the company's web site, for its logged-in users (`token_secret`):
//!   `sub` is the site's user id, `name` the display name; their JIDs are
//!   `u.<id>@web-domain`;
//! - Switchboard's chat page, for a visitor it has not seen (`POST
//!   /web/visitor`), with a key of its own: `v.<random>@web-domain`.
//!
//! Anonymous JIDs are `a.<random>@web-domain`.

use jid::BareJid;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::sasl::SaslFailure;
use crate::config::Web;

/// Who a token says the visitor is.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Claims {
    sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    exp: u64,
    /// Who signed: "switchboard" for the chat page's own tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iss: Option<String>,
}

const OWN_ISSUER: &str = "switchboard";

/// The web domain's keys: the site's secret and the chat page's own.
pub struct WebKeys {
    pub web: Web,
    visitor: Vec<u8>,
}

/// A visitor the chat page just made up, with the token that logs them in.
#[derive(Debug, Serialize)]
pub struct Visitor {
    pub jid: String,
    pub token: String,
    pub expires: u64,
}

/// A web login that succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebIdentity {
    pub jid: BareJid,
    /// The display name the site's token carried.
    pub name: Option<String>,
}

impl WebKeys {
    /// `visitor_key` signs the chat page's tokens: keep it across restarts
    /// or every visitor's token dies with the process.
    pub fn new(web: Web, visitor_key: Vec<u8>) -> WebKeys {
        WebKeys {
            web,
            visitor: visitor_key,
        }
    }

    /// A fresh anonymous JID.
    pub fn anonymous(&self) -> Result<BareJid, SaslFailure> {
        if !self.web.anonymous {
            return Err(SaslFailure::InvalidMechanism);
        }
        let local = format!("a.{}", crate::util::random_id(16).to_ascii_lowercase());
        BareJid::new(&format!("{local}@{}", self.web.domain))
            .map_err(|_| SaslFailure::TemporaryAuthFailure)
    }

    /// A visitor of the chat page: a new JID and its token.
    pub fn mint_visitor(&self, now: u64) -> Visitor {
        let id = crate::util::random_id(20).to_ascii_lowercase();
        let exp = now + self.web.visitor_token.as_secs();
        let claims = Claims {
            sub: id.clone(),
            name: None,
            exp,
            iss: Some(OWN_ISSUER.into()),
        };
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(&self.visitor),
        )
        .unwrap_or_default();
        Visitor {
            jid: format!("v.{id}@{}", self.web.domain),
            token,
            expires: exp,
        }
    }

    /// Checks a SASL PLAIN message whose password is a token. The authcid
    /// may be empty or the JID's local part; the token decides the JID.
    pub fn plain(&self, msg: &[u8]) -> Result<WebIdentity, SaslFailure> {
        let text = std::str::from_utf8(msg).map_err(|_| SaslFailure::MalformedRequest)?;
        let mut parts = text.split('\0');
        let (Some(_authz), Some(authc), Some(token), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(SaslFailure::MalformedRequest);
        };
        let id = self.verify(token)?;
        let local = id.jid.node().map(|n| n.as_str()).unwrap_or("");
        if !authc.is_empty() && !authc.eq_ignore_ascii_case(local) {
            return Err(SaslFailure::NotAuthorized);
        }
        Ok(id)
    }

    /// Who a token names, if one of the two keys signed it and it has not
    /// expired.
    pub fn verify(&self, token: &str) -> Result<WebIdentity, SaslFailure> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 30;
        validation.set_required_spec_claims(&["exp", "sub"]);
        // The chat page's own key first: its tokens say who issued them.
        let own = jsonwebtoken::decode::<Claims>(
            token,
            &DecodingKey::from_secret(&self.visitor),
            &validation,
        );
        let (prefix, claims) = match own {
            Ok(t) if t.claims.iss.as_deref() == Some(OWN_ISSUER) => ("v", t.claims),
            _ => {
                let secret = self.web.token_secret.as_ref().ok_or_else(|| {
                    tracing::info!("web login with a token no key of ours signed");
                    SaslFailure::NotAuthorized
                })?;
                let site = jsonwebtoken::decode::<Claims>(
                    token,
                    &DecodingKey::from_secret(secret.as_bytes()),
                    &validation,
                )
                .map_err(|e| {
                    tracing::info!(error = %e, "web login with a bad or expired token");
                    SaslFailure::NotAuthorized
                })?;
                ("u", site.claims)
            }
        };
        let jid = BareJid::new(&format!(
            "{prefix}.{}@{}",
            local_part(&claims.sub).ok_or(SaslFailure::NotAuthorized)?,
            self.web.domain
        ))
        .map_err(|_| SaslFailure::NotAuthorized)?;
        Ok(WebIdentity {
            jid,
            name: claims.name.filter(|n| !n.trim().is_empty()),
        })
    }
}

/// Whether a web visitor's JID is one a token gives again (site users and
/// chat page visitors), so that what is sent to it while they are away is
/// kept for them, as for an account.
pub fn returns(local: &str) -> bool {
    local.starts_with("u.") || local.starts_with("v.")
}

/// A site's user id as a JID local part: lowercase letters, digits and
/// `-_.` kept, anything else hex-escaped, so distinct ids stay distinct.
fn local_part(sub: &str) -> Option<String> {
    if sub.is_empty() || sub.len() > 256 {
        return None;
    }
    let mut out = String::with_capacity(sub.len());
    for b in sub.bytes() {
        match b {
            b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => out.push(b as char),
            _ => out += &format!("={b:02x}"),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn keys(site: Option<&str>) -> WebKeys {
        WebKeys::new(
            Web {
                domain: "web.test".into(),
                anonymous: true,
                token_secret: site.map(str::to_string),
                visitor_token: Duration::from_secs(3600),
            },
            b"0123456789abcdef0123456789abcdef".to_vec(),
        )
    }

    fn now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    fn site_token(secret: &str, sub: &str, exp: u64) -> String {
        let claims = Claims {
            sub: sub.into(),
            name: Some("Dana Scully".into()),
            exp,
            iss: None,
        };
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    }

    const SITE: &str = "the company's site secret, 32+ characters long";

    #[test]
    fn a_minted_visitor_logs_in_as_the_same_jid_each_time() {
        let k = keys(None);
        let v = k.mint_visitor(now());
        let msg = format!("\0\0{}", v.token);
        let a = k.plain(msg.as_bytes()).unwrap();
        assert_eq!(a.jid.as_str(), v.jid);
        assert_eq!(k.plain(msg.as_bytes()).unwrap(), a);
        assert!(returns(a.jid.node().unwrap().as_str()));
    }

    #[test]
    fn a_site_token_names_its_user() {
        let k = keys(Some(SITE));
        let t = site_token(SITE, "User 42", now() + 600);
        let id = k.plain(format!("\0\0{t}").as_bytes()).unwrap();
        assert_eq!(id.jid.as_str(), "u.=55ser=2042@web.test");
        assert_eq!(id.name.as_deref(), Some("Dana Scully"));
    }

    #[test]
    fn forged_expired_and_foreign_tokens_are_refused() {
        let k = keys(Some(SITE));
        let expired = site_token(SITE, "42", now() - 3600);
        let forged = site_token("another secret, of another site!!", "42", now() + 600);
        for t in [expired, forged, "not.a.token".into(), String::new()] {
            assert_eq!(
                k.plain(format!("\0\0{t}").as_bytes()),
                Err(SaslFailure::NotAuthorized),
                "{t}"
            );
        }
        // A site token made with the page's own key cannot claim a visitor.
        let v = keys(None).mint_visitor(now());
        assert!(keys(None).verify(&v.token).is_ok());
        let other = WebKeys::new(keys(None).web, b"another key".to_vec());
        assert_eq!(other.verify(&v.token), Err(SaslFailure::NotAuthorized));
        // The authcid, when given, must be the token's own.
        let t = site_token(SITE, "42", now() + 600);
        assert!(k.plain(format!("\0u.42\0{t}").as_bytes()).is_ok());
        assert_eq!(
            k.plain(format!("\0u.43\0{t}").as_bytes()),
            Err(SaslFailure::NotAuthorized)
        );
        assert_eq!(k.plain(b"\0only-two"), Err(SaslFailure::MalformedRequest));
    }

    #[test]
    fn anonymous_jids_are_fresh_and_never_kept() {
        let k = keys(None);
        let (a, b) = (k.anonymous().unwrap(), k.anonymous().unwrap());
        assert_ne!(a, b);
        assert!(!returns(a.node().unwrap().as_str()));
        let mut off = keys(None);
        off.web.anonymous = false;
        assert_eq!(off.anonymous(), Err(SaslFailure::InvalidMechanism));
    }
}
