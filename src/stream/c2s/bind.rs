//! After SASL: XEP-0198 resumption of a hibernating session, or resource
//! binding (RFC 6120 §7) for a new one.

use jid::{BareJid, FullJid};

use super::header::Phase;
use super::{Done, Failure, Negotiation, Stream};
use crate::session;
use crate::xml::{ns, Kind, Stanza, StreamError, StreamErrorCondition as Cond};

/// Authenticated as `account`, not yet bound.
pub(super) struct Authenticated {
    pub(super) account: BareJid,
}

impl Phase for Authenticated {
    fn features(&self, _: &Negotiation) -> String {
        format!(
            "<bind xmlns='{}'/><session xmlns='{}'><optional/></session>\
             <sm xmlns='{}'/><ver xmlns='{}'/>",
            ns::BIND,
            ns::SESSION,
            ns::SM,
            ns::ROSTER_VER
        )
    }
}

impl Stream<'_, Authenticated> {
    /// Reads until a session is resumed or a resource bound.
    pub(super) async fn bind(mut self) -> Result<Done, Failure> {
        loop {
            let el = match self.element().await {
                Ok(el) => el,
                Err(e) => return Err(self.fail(e)),
            };
            if el.is("resume", ns::SM) {
                let Stream { neg, xio, phase } = self;
                match session::resume(&*neg.table, xio, &phase.account, &el).await {
                    Ok(resumed) => return Ok(Done::Resumed(resumed)),
                    Err(xio) => {
                        self = Stream { neg, xio, phase };
                        continue;
                    }
                }
            }
            if el.is("enable", ns::SM) {
                let failed = format!(
                    "<failed xmlns='{}'><unexpected-request xmlns='{}'/></failed>",
                    ns::SM,
                    ns::STANZA_ERRORS
                );
                self.xio
                    .send(failed.as_bytes())
                    .await
                    .map_err(Failure::lost)?;
                continue;
            }
            if el.kind() == Kind::Iq {
                match self.iq(&el).await {
                    Ok(Some((jid, iq_id))) => {
                        return Ok(Done::Bound {
                            xio: self.xio,
                            jid,
                            iq_id,
                        })
                    }
                    Ok(None) => continue,
                    Err(e) => return Err(self.fail(e)),
                }
            }
            return Err(self.fail(StreamError::protocol(
                Cond::NotAuthorized,
                "bind a resource first",
            )));
        }
    }

    /// Resource binding and the legacy session IQ; the bound JID and the
    /// IQ's id, for the session to answer, once bound.
    async fn iq(&mut self, el: &Stanza) -> Result<Option<(FullJid, String)>, StreamError> {
        let tree = el
            .element()
            .map_err(|e| StreamError::protocol(Cond::NotWellFormed, e.to_string()))?;
        let id = tree.attr("id").unwrap_or("").to_string();
        let reply = |body: String| {
            format!(
                "<iq type='{}' id='{}'>{}</iq>",
                if body.starts_with("<error") {
                    "error"
                } else {
                    "result"
                },
                crate::xml::escape_attr(&id),
                body
            )
        };
        if tree.attr("type") == Some("set") {
            if let Some(bind) = tree.get_child("bind", ns::BIND) {
                let wanted = bind
                    .get_child("resource", ns::BIND)
                    .map(|r| r.text().trim().to_string())
                    .filter(|r| !r.is_empty())
                    .unwrap_or_else(|| crate::util::random_id(12));
                match FullJid::new(&format!("{}/{wanted}", self.phase.account)) {
                    // RFC 6120 §7.6.2.1. Replacing one's own resource is a
                    // conflict handled at insert, not a new session. Two
                    // binds at the same instant may both pass: the cap is
                    // on resources, and the door bounds how many race.
                    Ok(jid)
                        if self.neg.table.others(&jid)
                            >= self.neg.ctx.settings.limits.sessions_per_account =>
                    {
                        tracing::info!(target: super::LOG, %jid, "too many sessions for this account");
                        let err = format!(
                            "<error type='wait'><resource-constraint xmlns='{}'/></error>",
                            ns::STANZA_ERRORS
                        );
                        self.xio.send(reply(err).as_bytes()).await?;
                        return Ok(None);
                    }
                    Ok(jid) => return Ok(Some((jid, id))),
                    Err(_) => {
                        let err = format!(
                            "<error type='modify'><bad-request xmlns='{}'/></error>",
                            ns::STANZA_ERRORS
                        );
                        self.xio.send(reply(err).as_bytes()).await?;
                        return Ok(None);
                    }
                }
            }
            if tree.has_child("session", ns::SESSION) {
                self.xio.send(reply(String::new()).as_bytes()).await?;
                return Ok(None);
            }
        }
        Err(StreamError::protocol(
            Cond::NotAuthorized,
            "bind a resource first",
        ))
    }
}
