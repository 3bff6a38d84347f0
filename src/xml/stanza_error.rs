//! Stanza errors (RFC 6120 §8.3): the conditions this server answers with,
//! each with its default error type, and the error reply to a stanza.

use super::{escape_attr, ns, Kind, Stanza};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    BadRequest,
    Conflict,
    FeatureNotImplemented,
    Forbidden,
    InternalServerError,
    ItemNotFound,
    JidMalformed,
    NotAcceptable,
    NotAllowed,
    RemoteServerNotFound,
    RemoteServerTimeout,
    ResourceConstraint,
    ServiceUnavailable,
    UnexpectedRequest,
}

impl Condition {
    pub fn name(self) -> &'static str {
        use Condition::*;
        match self {
            BadRequest => "bad-request",
            Conflict => "conflict",
            FeatureNotImplemented => "feature-not-implemented",
            Forbidden => "forbidden",
            InternalServerError => "internal-server-error",
            ItemNotFound => "item-not-found",
            JidMalformed => "jid-malformed",
            NotAcceptable => "not-acceptable",
            NotAllowed => "not-allowed",
            RemoteServerNotFound => "remote-server-not-found",
            RemoteServerTimeout => "remote-server-timeout",
            ResourceConstraint => "resource-constraint",
            ServiceUnavailable => "service-unavailable",
            UnexpectedRequest => "unexpected-request",
        }
    }

    /// RFC 6120 §8.3.3's suggested type for each condition.
    pub fn error_type(self) -> &'static str {
        use Condition::*;
        match self {
            BadRequest | JidMalformed | NotAcceptable => "modify",
            Forbidden => "auth",
            ResourceConstraint | RemoteServerTimeout | UnexpectedRequest => "wait",
            _ => "cancel",
        }
    }
}

/// The error reply to `orig`, addressed back to its sender; `None` where
/// RFC 6120 forbids one (errors and IQ results are never answered).
pub fn error_reply(
    orig: &Stanza,
    cond: Condition,
    text: Option<&str>,
    server: &str,
) -> Option<Stanza> {
    let t = orig.type_();
    if t == Some("error") || (orig.kind() == Kind::Iq && t == Some("result")) {
        return None;
    }
    let name = match orig.kind() {
        Kind::Message => "message",
        Kind::Presence => "presence",
        Kind::Iq => "iq",
        Kind::Other => return None,
    };
    let sender = orig.from()?;
    let from = orig.to().unwrap_or(server);
    let id = orig
        .id()
        .map(|i| format!(" id=\"{}\"", escape_attr(i)))
        .unwrap_or_default();
    let text = text
        .map(|t| {
            format!(
                "<text xmlns='{}'>{}</text>",
                ns::STANZA_ERRORS,
                escape_attr(t)
            )
        })
        .unwrap_or_default();
    let xml = format!(
        "<{name} xmlns='jabber:client' from=\"{}\" to=\"{}\"{id} type=\"error\"><error type=\"{}\"><{} xmlns='{}'/>{text}</error></{name}>",
        escape_attr(from),
        escape_attr(sender),
        cond.error_type(),
        cond.name(),
        ns::STANZA_ERRORS,
    );
    Stanza::parse(xml.into()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_swap_addresses_and_keep_the_id() {
        let orig = Stanza::parse(
            "<iq from='a@x/r' to='b@x' id='q&lt;1' type='get'><q xmlns='urn:x'/></iq>".into(),
        )
        .unwrap();
        let r = error_reply(&orig, Condition::ServiceUnavailable, Some("no"), "x").unwrap();
        assert_eq!(r.to(), Some("a@x/r"));
        assert_eq!(r.from(), Some("b@x"));
        assert_eq!(r.id(), Some("q<1"));
        assert_eq!(r.type_(), Some("error"));
        let el = r.element().unwrap();
        let err = el.get_child("error", ns::CLIENT).unwrap();
        assert_eq!(err.attr("type"), Some("cancel"));
        assert!(err.has_child("service-unavailable", ns::STANZA_ERRORS));
    }

    #[test]
    fn errors_and_results_get_no_reply() {
        let e = Stanza::parse("<message from='a@x' type='error'/>".into()).unwrap();
        assert!(error_reply(&e, Condition::ServiceUnavailable, None, "x").is_none());
        let r = Stanza::parse("<iq from='a@x' type='result' id='1'/>".into()).unwrap();
        assert!(error_reply(&r, Condition::ServiceUnavailable, None, "x").is_none());
    }
}
