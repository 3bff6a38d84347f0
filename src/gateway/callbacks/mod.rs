//! Callbacks booked in the chat: a waiting customer is offered to be
//! written to later (a long wait, a closed queue, a rule's action), says
//! when and by whom in their own words (`booking.rs`), and the booking is
//! checked against the capable agents' schedules and what is booked
//! already (`slots.rs`). The agent gets the session `lead` before the
//! time, which holds one of their live places so routing does not fill
//! it; at the time the chat opens to the customer from the entry JID with
//! the agent's name (`due.rs`). Agents list theirs and supervisors
//! reassign (`commands.rs`).
//!
//! The feature's state is its own: the open bookings (stored first, in
//! `callbacks`, and reloaded at start) and the conversations of customers
//! booking (run-time only: a restart mid-booking asks again).

mod booking;
mod commands;
mod due;
mod mine;
pub(crate) mod slots;
mod who;

use std::collections::{BTreeMap, HashMap, HashSet};

use jiff::tz::TimeZone;
use tracing::error;

use super::actor::{Core, Event};
use super::state::Change;
use crate::config::{CallbacksConfig, QueueDef};
use crate::store::{Callback, CallbackState};
use slots::{Book, Capable, Slot};

/// A stored callback with the number of its timers, so that a moved or
/// reassigned one's stale timer does nothing.
pub(super) struct Booked {
    pub cb: Callback,
    pub seq: u64,
    /// The agent booked, when another one is making it instead.
    pub replaced: Option<String>,
}

/// A customer choosing a time (and an agent).
pub(super) struct Flow {
    /// The waiting session it runs in; None: a booked one being moved.
    pub session: Option<String>,
    pub customer_id: Option<String>,
    pub entry: String,
    pub queue: String,
    pub lang: Option<String>,
    pub zone: (String, TimeZone),
    pub who: Who,
    /// The times last proposed, numbered from 1.
    pub menu: Vec<Slot>,
    /// The booking being moved.
    pub moving: Option<String>,
}

/// Whom the customer asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Who {
    Anyone,
    Named(String),
    /// The agent they spoke with last.
    Same(String),
}

impl Who {
    fn jid(&self) -> Option<&str> {
        match self {
            Who::Anyone => None,
            Who::Named(j) | Who::Same(j) => Some(j),
        }
    }

    fn chosen(&self) -> crate::store::Chosen {
        match self {
            Who::Anyone => crate::store::Chosen::Anyone,
            Who::Named(_) => crate::store::Chosen::Named,
            Who::Same(_) => crate::store::Chosen::Same,
        }
    }
}

#[derive(Default)]
pub(super) struct Callbacks {
    pub open: BTreeMap<String, Booked>,
    /// Customer bare JID → their booking conversation.
    pub flows: HashMap<String, Flow>,
    /// Waiting sessions already offered a callback: offered once.
    pub offered: HashSet<String>,
    seq: u64,
}

impl Callbacks {
    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }
}

/// A session taken by an agent no longer books: the customer is served.
pub(super) async fn on_change(core: &mut Core, change: &Change) {
    match change {
        Change::Assigned { id, .. } => {
            if let Some(c) = core.state.session(id).map(|s| s.rec().customer_jid.clone()) {
                if core
                    .callbacks
                    .flows
                    .get(&c)
                    .is_some_and(|f| f.session.as_deref() == Some(id))
                {
                    core.callbacks.flows.remove(&c);
                }
            }
            core.callbacks.offered.remove(id);
        }
        Change::Closed { sess, .. } => {
            let c = &sess.rec().customer_jid;
            if core
                .callbacks
                .flows
                .get(c)
                .is_some_and(|f| f.session.as_deref() == Some(sess.id()))
            {
                core.callbacks.flows.remove(c);
            }
            core.callbacks.offered.remove(sess.id());
        }
        _ => {}
    }
}

impl Core {
    fn callbacks_cfg(&self) -> &CallbacksConfig {
        &self.dir.routing().callbacks
    }

    /// The open bookings of the last run, with their timers again.
    pub(super) async fn load_callbacks(&mut self) {
        let open = match self.state.store().callbacks_open().await {
            Ok(o) => o,
            Err(e) => return error!(error = %e, "loading callbacks failed"),
        };
        for cb in open {
            self.keep_booking(cb, None);
        }
    }

    /// Remembers a stored booking and sets its next timer.
    fn keep_booking(&mut self, cb: Callback, replaced: Option<String>) {
        let seq = self.callbacks.next_seq();
        let id = cb.id.clone();
        let now = self.clock.now_ms();
        let (due, event) = match cb.state {
            CallbackState::Booked => {
                let lead = self.callbacks_cfg().lead.as_millis() as i64;
                (
                    cb.due_at - lead,
                    Event::CallbackLead {
                        id: id.clone(),
                        seq,
                    },
                )
            }
            _ => (
                cb.due_at,
                Event::CallbackDue {
                    id: id.clone(),
                    seq,
                },
            ),
        };
        let after = std::time::Duration::from_millis((due - now).max(0) as u64);
        self.later(after, event);
        self.callbacks.open.insert(id, Booked { cb, seq, replaced });
    }

    /// Agents who could make a callback in `queue` for a customer on
    /// `channel`, in file order.
    fn capable<'a>(&'a self, queue: &QueueDef, channel: &str) -> Vec<Capable<'a>> {
        self.dir
            .agents()
            // A supervisor who takes no chats makes no callbacks either.
            .filter(|a| a.enabled && a.max_live > 0 && queue.accepts(a) && a.serves(channel))
            .map(|a| Capable {
                jid: a.jid.as_str(),
                schedule: &a.schedule,
            })
            .collect()
    }

    /// What is booked, but for `except`.
    fn booked_but(&self, except: Option<&str>) -> Vec<(&str, i64)> {
        self.callbacks
            .open
            .values()
            .filter(|b| Some(b.cb.id.as_str()) != except)
            .map(|b| (b.cb.agent.as_str(), b.cb.due_at))
            .collect()
    }

    /// Runs `f` over the bookable state of `queue`.
    fn with_book<T>(
        &self,
        queue: &str,
        channel: &str,
        except: Option<&str>,
        f: impl FnOnce(&Book<'_>) -> T,
    ) -> Option<T> {
        let q = self.dir.queue(queue)?;
        let agents = self.capable(q, channel);
        let booked = self.booked_but(except);
        let hours = q
            .calendar
            .as_deref()
            .and_then(|c| self.dir.routing().calendar(c));
        Some(f(&Book {
            cfg: self.callbacks_cfg(),
            queue_hours: hours,
            agents: &agents,
            booked: &booked,
            now_ms: self.clock.now_ms(),
        }))
    }

    fn agent_name(&self, jid: &str) -> String {
        self.dir
            .agent(jid)
            .map(|a| a.name.clone())
            .unwrap_or_else(|| jid.to_string())
    }

    /// The channel of a customer known only by JID: the web chat's domain
    /// is `web`; otherwise XMPP (a transport's customers come through a
    /// session, which knows better).
    fn channel_of(&self, customer: &str) -> String {
        let domain = customer.rsplit_once('@').map_or(customer, |(_, d)| d);
        match &self.web_domain {
            Some(w) if w == domain => "web".into(),
            _ => "xmpp".into(),
        }
    }

    /// A line from an entry JID to a customer outside any session (their
    /// bookings).
    async fn to_jid(&self, entry: &str, customer: &str, line: &str) {
        self.route(super::bridge::chat(entry, customer, line)).await;
    }

    /// A line to the session's customer from the entry JID with `name` as
    /// its nick: the agent writing first. Stored before it is sent.
    async fn to_customer_as(&self, id: &str, name: &str, line: &str) {
        let Some(sess) = self.state.session(id) else {
            return;
        };
        let m = super::bridge::with_nick(
            super::bridge::chat(&sess.rec().entry_jid, &sess.rec().customer_jid, line),
            Some(name),
        );
        let row = crate::store::NewMessage {
            session_id: id.to_string(),
            direction: crate::store::Direction::Out,
            sender: sess.agent().unwrap_or_default().to_string(),
            body: Some(line.to_string()),
            stanza: String::from_utf8_lossy(m.bytes()).into_owned(),
            created_at: self.clock.now_ms(),
            delivered: true,
        };
        self.journal
            .append(super::journal::Entry {
                row: Some(row),
                then: vec![m],
                tracked: 0,
                writer: None,
                receipt: Default::default(),
            })
            .await;
    }

    /// Tells the supervisors online, and the log, of a callback in trouble.
    async fn report_callback(&self, cb: &Callback, what: &str) {
        tracing::warn!(callback = %cb.id, customer = %cb.customer_jid, agent = %cb.agent, "{what}");
        let line = format!(
            "Callback {} for {} ({} at {}): {what}",
            cb.id,
            cb.customer_jid,
            self.agent_name(&cb.agent),
            when_text(cb.due_at, &cb.timezone, None),
        );
        for a in self.dir.agents().filter(|a| a.supervisor && a.enabled) {
            let jid = a.jid.to_string();
            if self.state.agent(&jid).is_some_and(|r| r.online) {
                self.route(super::bridge::chat(&self.support, &jid, &line))
                    .await;
            }
        }
    }
}

/// "Friday 4 December at 09:30 (Europe/Paris)", in `lang`.
pub(super) fn when_text(ms: i64, zone: &str, lang: Option<&str>) -> String {
    let tz = TimeZone::get(zone).unwrap_or(TimeZone::UTC);
    let Ok(t) = jiff::Timestamp::from_millisecond(ms) else {
        return ms.to_string();
    };
    let d = tz.to_datetime(t);
    let fr = lang.is_some_and(|l| l.starts_with("fr"));
    let (days, months): (&[&str; 7], &[&str; 12]) = if fr {
        (
            &[
                "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche",
            ],
            &[
                "janvier",
                "février",
                "mars",
                "avril",
                "mai",
                "juin",
                "juillet",
                "août",
                "septembre",
                "octobre",
                "novembre",
                "décembre",
            ],
        )
    } else {
        (
            &[
                "Monday",
                "Tuesday",
                "Wednesday",
                "Thursday",
                "Friday",
                "Saturday",
                "Sunday",
            ],
            &[
                "January",
                "February",
                "March",
                "April",
                "May",
                "June",
                "July",
                "August",
                "September",
                "October",
                "November",
                "December",
            ],
        )
    };
    let day = days[d.weekday().to_monday_zero_offset() as usize];
    let month = months[(d.month() - 1) as usize];
    let at = if fr { "à" } else { "at" };
    format!(
        "{day} {} {month} {at} {:02}:{:02} ({zone})",
        d.day(),
        d.hour(),
        d.minute()
    )
}
