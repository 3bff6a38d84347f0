//! Entry JIDs (`help@support.example`): customers subscribe to them, see
//! from their presence whether anyone is there, query them, and write to
//! them to open a session.

use jid::Jid;

use super::actor::{bare, Core, EntryStatus as Status};
use super::assign::{Availability, Mode};
use super::context::Needs;
use super::state::Change;
use crate::config::Text;
use crate::store::{RosterItem, Subscription};
use crate::xml::build::{el, stanza, BuilderExt};
use crate::xml::Condition;
use crate::xml::{ns, Kind, Stanza};

/// An assignment can change what an entry's presence says (its agents
/// may now be full).
pub(super) async fn on_change(core: &mut Core, change: &Change) {
    if let Change::Assigned { .. } = change {
        core.broadcast_status().await;
    }
}

impl Core {
    pub(super) async fn at_entry(&mut self, from: &Jid, entry: &str, s: Stanza) {
        match s.kind() {
            Kind::Message => self.customer_message(from, entry, s).await,
            Kind::Presence => self.entry_presence(from, entry, &s).await,
            Kind::Iq => self.entry_iq(entry, &s).await,
            Kind::Other => {}
        }
    }

    async fn entry_presence(&mut self, from: &Jid, entry: &str, s: &Stanza) {
        let customer = bare(from).to_string();
        match s.type_() {
            Some("subscribe") => {
                // Approved at once, and remembered so status changes reach them.
                let item = RosterItem {
                    contact: customer.clone(),
                    name: None,
                    subscription: Subscription::From,
                    ask: false,
                    groups: Vec::new(),
                };
                let known = self.state.store().roster_item(entry, &customer).await;
                let mutual = matches!(&known, Ok(Some(i)) if i.subscription == Subscription::Both);
                let item = RosterItem {
                    subscription: if mutual {
                        Subscription::Both
                    } else {
                        Subscription::From
                    },
                    ask: !mutual,
                    ..item
                };
                if let Err(e) = self.state.store().roster_upsert(entry, &item).await {
                    tracing::error!(error = %e, "storing an entry subscription failed");
                }
                self.route(presence(entry, &customer, Some("subscribed"), None))
                    .await;
                if !mutual {
                    // Asked back, so the customer's presence (with the caps
                    // that identify their client) and whether they are
                    // online reach the entry. Declining costs nothing.
                    self.route(presence(entry, &customer, Some("subscribe"), None))
                        .await;
                }
                self.send_status(entry, &customer).await;
            }
            Some(t @ ("subscribed" | "unsubscribed")) => {
                if let Ok(Some(mut item)) = self.state.store().roster_item(entry, &customer).await {
                    item.subscription = if t == "subscribed" {
                        Subscription::Both
                    } else {
                        Subscription::From
                    };
                    item.ask = false;
                    if let Err(e) = self.state.store().roster_upsert(entry, &item).await {
                        tracing::error!(error = %e, "storing an entry subscription failed");
                    }
                }
            }
            Some("unsubscribe") => {
                let _ = self.state.store().roster_remove(entry, &customer).await;
                self.route(presence(entry, &customer, Some("unsubscribed"), None))
                    .await;
            }
            Some("probe") => self.send_status(entry, from.as_str()).await,
            None | Some("unavailable") => {
                if let Ok(el) = s.element() {
                    self.note_presence(from, &el).await;
                }
                self.customer_online(from, s.type_().is_none()).await
            }
            _ => {}
        }
    }

    async fn entry_iq(&mut self, entry: &str, s: &Stanza) {
        let Ok(tree) = s.element() else { return };
        if s.type_() != Some("get") {
            if matches!(s.type_(), Some("set")) {
                self.bounce(s, Condition::ServiceUnavailable, None).await;
            }
            return;
        }
        let Some(q) = tree.get_child("query", ns::DISCO_INFO) else {
            return self.bounce(s, Condition::ServiceUnavailable, None).await;
        };
        if q.attr("node").is_some() {
            return self.bounce(s, Condition::ItemNotFound, None).await;
        }
        let queue = self
            .dir
            .queue_of_entry(entry)
            .map(|q| q.name.clone())
            .unwrap_or_default();
        let mut info = el_disco_info(&format!("Support · {queue}"));
        for f in [
            ns::DISCO_INFO,
            ns::RECEIPTS,
            ns::CHATSTATES,
            ns::NICK,
            ns::CORRECTION,
            ns::OOB,
        ] {
            info = info.append(el("feature", ns::DISCO_INFO).a("var", f));
        }
        let reply = stanza(
            el("iq", ns::CLIENT)
                .a("type", "result")
                .a("id", s.id().unwrap_or(""))
                .a("from", entry)
                .a("to", s.from().unwrap_or(""))
                .append(info.build()),
        );
        self.route(reply).await;
    }

    /// The entry's status, from the agents its queue could use.
    pub(super) fn status(&self, entry: &str) -> Status {
        let Some(queue) = self.dir.queue_of_entry(entry) else {
            return Status::Closed;
        };
        if !self.dir.is_open(queue, self.clock.timestamp()) {
            return Status::Closed;
        }
        let mut on_duty = false;
        let views = self.agent_views();
        // Any channel: the entry's status is the same for every customer.
        let anyone = Needs::default();
        for v in &views {
            let need = self.need_for(queue, &anyone, Mode::Live, &[], None);
            if super::assign::capable(v, &need) {
                return Status::Open;
            }
            let skilled = queue.skills.is_subset(v.skills)
                && queue.tier.is_none_or(|t| t == v.tier)
                && queue
                    .only_agents()
                    .is_none_or(|o| o.iter().any(|j| j.as_str() == v.jid));
            on_duty |= skilled && v.availability != Availability::Off;
        }
        if !on_duty {
            return Status::Unstaffed;
        }
        let waiting = self
            .state
            .sessions()
            .filter(|s| s.rec().queue == queue.name && s.rec().agent.is_none())
            .count() as u64;
        let minutes = self.dir.wait_estimate().as_secs().div_ceil(60).max(1) * (waiting + 1);
        Status::Busy(minutes)
    }

    async fn send_status(&self, entry: &str, to: &str) {
        // The subscriber's language is not known here: the default one.
        let texts = self.dir.texts();
        let say = |t: Text, args: &[(&str, &str)]| texts.render(None, t, args);
        let p = match self.status(entry) {
            Status::Open => presence(entry, to, None, None),
            Status::Busy(m) => presence(
                entry,
                to,
                None,
                Some(("away", say(Text::EntryBusy, &[("minutes", &m.to_string())]))),
            ),
            Status::Unstaffed => presence(
                entry,
                to,
                None,
                Some(("xa", say(Text::EntryUnstaffed, &[]))),
            ),
            Status::Closed => presence(entry, to, None, Some(("xa", say(Text::EntryClosed, &[])))),
        };
        self.route(p).await;
    }

    /// Tells every subscriber of every entry whose status changed.
    pub(super) async fn broadcast_status(&mut self) {
        let entries: Vec<String> = self
            .dir
            .queues()
            .iter()
            .flat_map(|q| q.entry.iter().map(ToString::to_string))
            .collect();
        for entry in entries {
            let now = self.status(&entry);
            if self.entry_status.get(&entry) == Some(&now) {
                continue;
            }
            self.entry_status.insert(entry.clone(), now);
            let subscribers = self.state.store().roster(&entry).await.unwrap_or_default();
            for item in subscribers {
                self.send_status(&entry, &item.contact).await;
            }
        }
    }
}

fn el_disco_info(name: &str) -> minidom::ElementBuilder {
    el("query", ns::DISCO_INFO).append(
        el("identity", ns::DISCO_INFO)
            .a("category", "client")
            .a("type", "bot")
            .a("name", name)
            .build(),
    )
}

/// A presence from `from` to `to`, with an optional (show, status).
pub(super) fn presence(
    from: &str,
    to: &str,
    type_: Option<&str>,
    show: Option<(&str, String)>,
) -> Stanza {
    let mut b = el("presence", ns::CLIENT).a("from", from).a("to", to);
    if let Some(t) = type_ {
        b = b.a("type", t);
    }
    if let Some((show, status)) = show {
        b = b
            .append(el("show", ns::CLIENT).append(show).build())
            .append(el("status", ns::CLIENT).append(status.as_str()).build());
    }
    stanza(b)
}
