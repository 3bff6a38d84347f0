//! Whom a customer's words name for their callback: an agent by first
//! name or JID, "the same person as last time", "anyone"; and a
//! capitalised word that is nobody's name, so that they are told who can.

use super::booking::fold;
use super::{Flow, Who};
use crate::gateway::actor::Core;

/// Words that are neither a time nor an agent's name.
pub(super) const FILLER: &[&str] = &[
    "callback",
    "call",
    "me",
    "back",
    "please",
    "pls",
    "with",
    "by",
    "the",
    "a",
    "an",
    "i",
    "want",
    "would",
    "like",
    "to",
    "be",
    "at",
    "on",
    "in",
    "ok",
    "okay",
    "yes",
    "thanks",
    "thank",
    "you",
    "rappel",
    "rappelez-moi",
    "rappeler",
    "avec",
    "par",
    "svp",
    "merci",
    "oui",
    "je",
    "veux",
    "voudrais",
    "un",
    "une",
    "le",
    "la",
    "de",
    "move",
    "deplacer",
    "to",
    "a",
    "pour",
];

impl Core {
    /// Who the customer's words name: Ok(None) if nobody, Err(name) for a
    /// capitalised word that is no capable agent's name.
    pub(super) async fn who_in(&self, customer: &str, words: &str) -> Result<Option<Who>, String> {
        let Some(flow) = self.callbacks.flows.get(customer) else {
            return Ok(None);
        };
        let t = fold(words);
        if [
            "anyone",
            "anybody",
            "whoever",
            "n'importe qui",
            "peu importe",
            "quiconque",
        ]
        .iter()
        .any(|w| t.contains(w))
        {
            return Ok(Some(Who::Anyone));
        }
        if ["same", "last time", "meme", "derniere fois"]
            .iter()
            .any(|w| t.contains(w))
        {
            let last = match &flow.customer_id {
                Some(c) => self
                    .state
                    .store()
                    .last_agent_of_customer(c)
                    .await
                    .ok()
                    .flatten(),
                None => None,
            };
            return Ok(last.map(Who::Same));
        }
        let channel = self.flow_channel(flow);
        let capable: Vec<(String, String)> = self
            .dir
            .queue(&flow.queue)
            .map(|q| {
                self.capable(q, &channel)
                    .iter()
                    .map(|a| (a.jid.to_string(), self.agent_name(a.jid)))
                    .collect()
            })
            .unwrap_or_default();
        for w in words.split_whitespace() {
            let wf = fold(w.trim_matches(|c: char| !c.is_alphanumeric()));
            if wf.is_empty() || FILLER.contains(&wf.as_str()) {
                continue;
            }
            let hit = capable.iter().find(|(jid, name)| {
                fold(name).split_whitespace().next() == Some(wf.as_str())
                    || fold(name) == wf
                    || jid.split('@').next() == Some(wf.as_str())
            });
            match hit {
                Some((jid, _)) => return Ok(Some(Who::Named(jid.clone()))),
                None if w.chars().next().is_some_and(char::is_uppercase) => {
                    return Err(w.trim_matches(|c: char| !c.is_alphanumeric()).to_string())
                }
                None => {}
            }
        }
        Ok(None)
    }

    /// "Alice, Bob": who could take the customer's callback.
    pub(super) fn capable_names(&self, customer: &str) -> String {
        let Some(flow) = self.callbacks.flows.get(customer) else {
            return String::new();
        };
        let channel = self.flow_channel(flow);
        self.dir
            .queue(&flow.queue)
            .map(|q| {
                self.capable(q, &channel)
                    .iter()
                    .map(|a| self.agent_name(a.jid))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    }

    pub(super) fn flow_channel(&self, flow: &Flow) -> String {
        let customer = flow
            .session
            .as_deref()
            .and_then(|id| self.state.session(id));
        match customer
            .map(|s| s.ctx().ident.channel.clone())
            .filter(|c| !c.is_empty())
        {
            Some(c) => c,
            None => self.channel_of(customer.map_or("", |s| s.rec().customer_jid.as_str())),
        }
    }
}
