//! The support domain as the router sees it: what the gateway takes of the
//! stanzas addressed to the domain itself, how it shows in disco (with the
//! upload service, when there is one), the ad-hoc commands it runs for
//! the agent domain, and who may not write to local accounts. Answered on
//! the router's side, at once, from what the actor shares with it.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};

use crate::router::{DomainInfo, DomainPolicy, DomainService};
use crate::xml::{ns, Condition, Kind, Stanza};

/// Customers (bare JIDs) who ever wrote to an entry JID; the actor adds
/// them, the router reads.
pub(super) type Customers = Arc<RwLock<HashSet<String>>>;

pub(super) struct SupportPolicy {
    pub customers: Customers,
    pub info: DomainInfo,
}

/// The support domain's disco#info; with XEP-0363 file upload when
/// `max_file_bytes` says there is an upload service (§3: an identity
/// `store/file`, the feature, and the largest file in a form).
pub(super) fn info(max_file_bytes: Option<u64>) -> DomainInfo {
    DomainInfo {
        category: "gateway",
        kind: "xmpp",
        name: "Switchboard support",
        features: &[
            ns::DISCO_INFO,
            ns::DISCO_ITEMS,
            ns::PING,
            ns::VERSION,
            ns::COMMANDS,
        ],
        agent_domain_commands: super::adhoc::NODES,
        services: max_file_bytes
            .map(|max| DomainService {
                category: "store",
                kind: "file",
                name: "HTTP File Upload",
                feature: ns::HTTP_UPLOAD,
                fields: vec![("max-file-size", max.to_string())],
            })
            .into_iter()
            .collect(),
    }
}

impl DomainPolicy for SupportPolicy {
    fn info(&self) -> &DomainInfo {
        &self.info
    }

    /// The support domain is also the agents' control JID: text commands,
    /// XEP-0050 ad-hoc commands, remote agents' presence and the answers to
    /// identification queries (sent from the domain) are the gateway's, and
    /// so are XEP-0363 slot requests when there is an upload service.
    fn claims(&self, stanza: &Stanza) -> bool {
        match stanza.kind() {
            Kind::Message => stanza.type_() != Some("error"),
            Kind::Presence => true,
            Kind::Iq if matches!(stanza.type_(), Some("result" | "error")) => true,
            Kind::Iq if matches!(stanza.type_(), Some("get" | "set")) => {
                stanza.element().is_ok_and(|el| {
                    el.has_child("command", ns::COMMANDS)
                        || (!self.info.services.is_empty()
                            && el.has_child("request", ns::HTTP_UPLOAD))
                        || el
                            .get_child("query", ns::DISCO_ITEMS)
                            .is_some_and(|q| q.attr("node") == Some(ns::COMMANDS))
                })
            }
            _ => false,
        }
    }

    /// Customers talk to the entry JIDs, never to agents directly.
    fn screen_to_account(&self, from_bare: &str) -> Option<Condition> {
        self.customers
            .read()
            .expect("customer set")
            .contains(from_bare)
            .then_some(Condition::ServiceUnavailable)
    }
}
