//! Domains the router hands to a handler rather than routing itself, as
//! Prosody hands a component's domain to the component: today the support
//! domain, whose JIDs (entry points, session proxies) only the gateway
//! knows. The router learns nothing of what a handler does with them; a
//! handler's policy answers the few questions the router must ask on the
//! spot, without a round trip to the handler's task.

use jid::{BareJid, Jid};
use tokio::sync::mpsc;

use crate::receipt::Receipt;
use crate::xml::{Condition, Stanza};

/// What the router hands a domain's handler, in the order it happened.
pub enum Handed {
    /// A stanza addressed to a JID on the domain, or one to the domain
    /// itself that the policy claimed, with its addresses as the router
    /// parsed them (parsing a JID validates it, which is not cheap: once
    /// per stanza is enough).
    ///
    /// `receipt` is dropped once the stanza is stored, relayed or answered:
    /// the stream it came on acknowledges it then (XEP-0198).
    Stanza {
        stanza: Stanza,
        from: Jid,
        to: Jid,
        receipt: Receipt,
    },
    /// A local account's presence changed (its resources' states are in
    /// the router's table).
    AccountPresence(BareJid),
}

impl Handed {
    /// A stanza no stream waits to acknowledge.
    pub fn stanza(stanza: Stanza, from: Jid, to: Jid) -> Handed {
        Handed::Stanza {
            stanza,
            from,
            to,
            receipt: Receipt::none(),
        }
    }
}

/// How the domain presents itself in disco#info (XEP-0030), which the
/// router answers for it, with ping and version.
pub struct DomainInfo {
    pub category: &'static str,
    pub kind: &'static str,
    pub name: &'static str,
    pub features: &'static [&'static str],
    /// The XEP-0050 command nodes the handler also runs when they are sent
    /// to the agent domain. Clients look for commands on their own server
    /// (Profanity's `/cmd list` and `/cmd exec` without a JID, Gajim's
    /// commands of the account's server), so the agent domain announces
    /// commands, hands over the command list and these nodes' requests,
    /// and the handler answers from the agent domain.
    pub agent_domain_commands: &'static [&'static str],
    /// Services the domain also offers (XEP-0363 file upload): each shows
    /// in its disco#info as one more identity, a feature and an XEP-0128
    /// form, which clients browsing their own server's items find.
    pub services: Vec<DomainService>,
}

/// A service offered at a handled domain, as disco#info shows it.
pub struct DomainService {
    pub category: &'static str,
    pub kind: &'static str,
    pub name: &'static str,
    /// Its feature, also the `FORM_TYPE` of its form.
    pub feature: &'static str,
    /// The form's fields (`max-file-size`...); none: no form.
    pub fields: Vec<(&'static str, String)>,
}

/// The handler's answers to the router, given at once.
pub trait DomainPolicy: Send + Sync {
    fn info(&self) -> &DomainInfo;

    /// Whether a stanza addressed to the domain itself (no localpart) is
    /// the handler's. Those it does not claim are answered by the router
    /// like any of our domains (disco, ping, errors).
    fn claims(&self, stanza: &Stanza) -> bool;

    /// Whether a stanza from `from_bare` to a local account may be
    /// delivered; `Some(condition)` refuses it (the router bounces it,
    /// unless it is a presence, which is dropped).
    fn screen_to_account(&self, from_bare: &str) -> Option<Condition>;
}

/// One handled domain: where its stanzas go and what it decides at once.
pub struct DomainHandler {
    pub domain: String,
    pub tx: mpsc::Sender<Handed>,
    pub policy: Box<dyn DomainPolicy>,
}

impl DomainHandler {
    pub async fn hand(&self, item: Handed) {
        // Fails only at shutdown, when the handler has stopped.
        let _ = self.tx.send(item).await;
    }
}
