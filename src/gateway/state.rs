//! The gateway's state: open sessions, which customer holds which, and
//! what the actor knows of each agent. The stored facts of a session (its
//! record and routing context) change only through the methods here, and
//! always in the same order: the store first, then memory, from what the
//! store returned. A write that fails changes nothing in memory, so the
//! actor never acts on a state the database does not have; the caller
//! logs it and the session stays as it was.
//!
//! Each successful change comes back as a [`Change`], which the actor
//! hands to every feature that reacts to it (`Core::react` in `mod.rs`).
//! What only matters while the process runs (where the customer writes
//! from, the offer's sequence number, the place last told...) is on
//! [`Sess`] in plain fields, which the features set directly.

use std::collections::{HashMap, HashSet};

use super::assign::Availability;
use super::context::Context;
use super::domain::Customers;
use crate::config::{QueueDef, Text};
use crate::store::{NewSession, SessionRecord, SessionState, Store, StoreError};

/// A session as the actor keeps it.
pub(super) struct Sess {
    /// As stored; see [`Sess::rec`].
    rec: SessionRecord,
    /// Who the customer is and what routing decided (stored as JSON).
    ctx: Context,
    /// Rules have been applied; until then the session waits unoffered.
    routed: bool,
    /// Offers are numbered so a stale timer cannot withdraw a new offer.
    offer_seq: u64,
    /// The resource the customer last wrote from, where replies go.
    pub customer_full: Option<String>,
    /// Agents whose offer lapsed, skipped when offering again.
    pub lapsed: Vec<String>,
    /// The position last told to the customer, and when.
    pub told_position: Option<usize>,
    pub told_at_ms: Option<i64>,
    /// The customer was told that nobody on duty can serve them.
    pub told_unservable: bool,
    /// When someone last wrote in the session (ms), for the idle close.
    pub last_activity_ms: i64,
    /// Identification queries still unanswered.
    pub pending: HashSet<String>,
    /// The language of the first message (`xml:lang`), for routing.
    pub lang: Option<String>,
    /// The nick (XEP-0172) on the first message, if any.
    pub nick: Option<String>,
    /// The first message's body, which keyword and regex rules read.
    pub first_text: String,
    /// The agent the customer spoke with last, once looked up (the lookup
    /// is a query; assignment attempts are many).
    pub sticky: Option<Option<String>>,
    /// Numbers the dialog's questions, so that a stale time-out does not
    /// skip a question asked since.
    pub dialog_seq: u64,
    /// Supervisors watching the session, in the order they began.
    pub monitors: Vec<Monitor>,
    /// The customer's frustration, read from what they wrote.
    pub mood: crate::mood::SessionMood,
    /// When a person last answered the customer (ms): the wait the mood
    /// counts.
    pub last_reply_ms: i64,
    /// Rules on the mood that applied already, each once per session.
    pub mood_rules: Vec<String>,
    /// The customer's latest message, for a supervisor's alert.
    pub last_said: String,
}

/// A supervisor watching a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Monitor {
    /// Their bare JID.
    pub jid: String,
    /// Barged in: what they write goes to the customer, not the agent.
    pub barged: bool,
}

impl Sess {
    fn new(rec: SessionRecord, routed: bool, now: i64) -> Sess {
        // Loaded after a restart (now = 0): the wait counts from the
        // session's last change, not from 1970.
        let since = now.max(rec.updated_at);
        Sess {
            ctx: Context::from_json(rec.context.as_deref()),
            rec,
            routed,
            offer_seq: 0,
            customer_full: None,
            lapsed: Vec::new(),
            told_position: None,
            told_at_ms: None,
            told_unservable: false,
            last_activity_ms: now,
            pending: HashSet::new(),
            lang: None,
            nick: None,
            first_text: String::new(),
            sticky: None,
            dialog_seq: 0,
            monitors: Vec::new(),
            mood: Default::default(),
            last_reply_ms: since,
            mood_rules: Vec::new(),
            last_said: String::new(),
        }
    }

    /// The stored record: state, agent, queue, priority, times.
    pub fn rec(&self) -> &SessionRecord {
        &self.rec
    }

    pub fn ctx(&self) -> &Context {
        &self.ctx
    }

    pub fn routed(&self) -> bool {
        self.routed
    }

    pub fn offer_seq(&self) -> u64 {
        self.offer_seq
    }

    pub fn id(&self) -> &str {
        &self.rec.id
    }

    pub fn agent(&self) -> Option<&str> {
        self.rec.agent.as_deref()
    }

    pub fn state(&self) -> SessionState {
        self.rec.state
    }

    /// The language to speak to the customer in: the one a rule chose,
    /// else theirs, as identification found it or, before routing, as
    /// their first message said.
    pub fn lang(&self) -> Option<&str> {
        self.ctx
            .needs
            .language
            .as_deref()
            .or(self.ctx.ident.lang.as_deref())
            .or(self.lang.as_deref())
    }
}

/// What the actor knows of an agent while the process runs.
#[derive(Default)]
pub(super) struct AgentRt {
    pub availability: Option<Availability>,
    pub idle_since_ms: i64,
    /// Numbers the grace periods, so a return cancels the pending one.
    pub grace_seq: u64,
    /// `/off`: no new sessions whatever the presence says.
    pub off_duty: bool,
    /// Some resource of the agent is available (whatever its `<show/>`):
    /// the bridge relays to them only then, and otherwise leaves what the
    /// customer writes undelivered in the transcript until they are back.
    pub online: bool,
    /// Resources (full JIDs) welcomed since they logged in.
    pub welcomed: HashSet<String>,
}

/// A change the state made, for the features to react to.
pub(super) enum Change {
    /// Offered to `agent`, who may take it until the offer's time-out.
    Offered { id: String, agent: String, seq: u64 },
    /// `agent` holds the session now, live or async.
    Assigned { id: String, agent: String },
    /// Same agent, from live to async or back.
    StateChanged { id: String },
    /// Back to waiting, without an agent; `was` is what it had been.
    Requeued {
        id: String,
        was: SessionState,
        agent: Option<String>,
    },
    /// Gone from the state; `farewell` is what the customer is told.
    Closed {
        sess: Box<Sess>,
        farewell: Option<Text>,
    },
}

pub(super) struct State {
    store: Store,
    sessions: HashMap<String, Sess>,
    /// Customer bare JID → their open session.
    by_customer: HashMap<String, String>,
    /// Shared with the router's policy for the support domain.
    customers: Customers,
    agents: HashMap<String, AgentRt>,
}

impl State {
    pub fn new(store: Store, customers: Customers) -> State {
        State {
            store,
            sessions: HashMap::new(),
            by_customer: HashMap::new(),
            customers,
            agents: HashMap::new(),
        }
    }

    /// For reads, and for writes that are not the session's state
    /// (transcript, rosters, customers' history).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Loads the sessions open at the last stop; they were routed then.
    pub async fn load(&mut self) -> Result<(), StoreError> {
        for rec in self.store.sessions_open().await? {
            self.customers
                .write()
                .expect("customer set")
                .insert(rec.customer_jid.clone());
            self.by_customer
                .insert(rec.customer_jid.clone(), rec.id.clone());
            // Routed before the stop, unless a dialog was still under way:
            // it resumes where it was.
            let in_dialog = Context::from_json(rec.context.as_deref())
                .dialog
                .is_some_and(|d| !d.done());
            self.sessions
                .insert(rec.id.clone(), Sess::new(rec, !in_dialog, 0));
        }
        Ok(())
    }

    pub fn session(&self, id: &str) -> Option<&Sess> {
        self.sessions.get(id)
    }

    pub fn session_mut(&mut self, id: &str) -> Option<&mut Sess> {
        self.sessions.get_mut(id)
    }

    pub fn sessions(&self) -> impl Iterator<Item = &Sess> {
        self.sessions.values()
    }

    /// Their run-time parts only: the stored ones are private to this module.
    pub fn sessions_mut(&mut self) -> impl Iterator<Item = &mut Sess> {
        self.sessions.values_mut()
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Ids of the sessions for which `pred` holds.
    pub fn ids_where(&self, pred: impl Fn(&Sess) -> bool) -> Vec<String> {
        self.sessions
            .values()
            .filter(|s| pred(s))
            .map(|s| s.rec.id.clone())
            .collect()
    }

    pub fn session_of(&self, customer: &str) -> Option<&str> {
        self.by_customer.get(customer).map(String::as_str)
    }

    pub fn agent(&self, jid: &str) -> Option<&AgentRt> {
        self.agents.get(jid)
    }

    pub fn agent_mut(&mut self, jid: &str) -> &mut AgentRt {
        self.agents.entry(jid.to_string()).or_default()
    }

    /// A customer's first message: the customer and a waiting session in
    /// the entry's queue, both stored before the session exists here.
    pub async fn open(
        &mut self,
        id: String,
        customer: &str,
        entry: &str,
        queue: &QueueDef,
        now: i64,
    ) -> Result<(), StoreError> {
        let c = self
            .store
            .customer_upsert(customer, now, &crate::util::random_id(12))
            .await?;
        let rec = self
            .store
            .session_create(
                &NewSession {
                    id: &id,
                    customer_id: &c.id,
                    entry_jid: entry,
                    queue: &queue.name,
                    state: SessionState::Waiting,
                    agent: None,
                    priority: i64::from(queue.priority),
                    context: None,
                },
                now,
            )
            .await?;
        self.customers
            .write()
            .expect("customer set")
            .insert(customer.to_string());
        self.by_customer.insert(customer.to_string(), id.clone());
        self.sessions.insert(id, Sess::new(rec, false, now));
        Ok(())
    }

    /// What the rules decided: the context, and the queue and priority
    /// where they differ from the entry's.
    pub async fn route(
        &mut self,
        id: &str,
        ctx: Context,
        queue: &str,
        priority: i64,
    ) -> Result<(), StoreError> {
        let Some(sess) = self.sessions.get(id) else {
            return Ok(());
        };
        let (queue_changed, priority_changed) =
            (sess.rec.queue != queue, sess.rec.priority != priority);
        self.store.session_set_context(id, &ctx.to_json()).await?;
        if queue_changed {
            self.store.session_set_queue(id, queue).await?;
        }
        if priority_changed {
            self.store.session_set_priority(id, priority).await?;
        }
        if let Some(sess) = self.sessions.get_mut(id) {
            sess.ctx = ctx;
            sess.rec.queue = queue.to_string();
            sess.rec.priority = priority;
            sess.routed = true;
        }
        Ok(())
    }

    /// The context as a dialog left it (answers, progress), before
    /// routing; routing stores the rest with [`State::route`].
    pub async fn set_context(&mut self, id: &str, ctx: Context) -> Result<(), StoreError> {
        if !self.sessions.contains_key(id) {
            return Ok(());
        }
        self.store.session_set_context(id, &ctx.to_json()).await?;
        if let Some(sess) = self.sessions.get_mut(id) {
            sess.ctx = ctx;
        }
        Ok(())
    }

    pub async fn offer(&mut self, id: &str, agent: &str, now: i64) -> Result<Change, StoreError> {
        let rec = self
            .store
            .session_set_state(id, SessionState::Offered, Some(agent), now)
            .await?;
        let seq = match self.sessions.get_mut(id) {
            Some(sess) => {
                sess.rec = rec;
                sess.offer_seq += 1;
                sess.offer_seq
            }
            None => 0,
        };
        Ok(Change::Offered {
            id: id.to_string(),
            agent: agent.to_string(),
            seq,
        })
    }

    /// `agent` takes the session in `state` (live or async).
    pub async fn assign(
        &mut self,
        id: &str,
        agent: &str,
        state: SessionState,
        now: i64,
    ) -> Result<Change, StoreError> {
        let rec = self
            .store
            .session_set_state(id, state, Some(agent), now)
            .await?;
        if let Some(sess) = self.sessions.get_mut(id) {
            sess.rec = rec;
            sess.told_position = None;
            // The customer has now spoken with this agent: look it up afresh.
            sess.sticky = None;
        }
        self.agent_mut(agent).idle_since_ms = now;
        Ok(Change::Assigned {
            id: id.to_string(),
            agent: agent.to_string(),
        })
    }

    /// Live to async or back, with the same agent.
    pub async fn set_state(
        &mut self,
        id: &str,
        state: SessionState,
        now: i64,
    ) -> Result<Change, StoreError> {
        let agent = self.sessions.get(id).and_then(|s| s.rec.agent.clone());
        let rec = self
            .store
            .session_set_state(id, state, agent.as_deref(), now)
            .await?;
        if let Some(sess) = self.sessions.get_mut(id) {
            sess.rec = rec;
        }
        Ok(Change::StateChanged { id: id.to_string() })
    }

    /// Back to waiting (at the front of the line when `front`), no agent.
    pub async fn requeue(&mut self, id: &str, front: bool, now: i64) -> Result<Change, StoreError> {
        let rec = self.store.session_requeue(id, front, now).await?;
        let (was, agent) = match self.sessions.get_mut(id) {
            Some(sess) => {
                let before = (sess.rec.state, sess.rec.agent.clone());
                sess.rec = rec;
                before
            }
            None => (SessionState::Waiting, None),
        };
        Ok(Change::Requeued {
            id: id.to_string(),
            was,
            agent,
        })
    }

    /// Into another queue (a transfer), still holding its state.
    pub async fn set_queue(&mut self, id: &str, queue: &str) -> Result<(), StoreError> {
        self.store.session_set_queue(id, queue).await?;
        if let Some(sess) = self.sessions.get_mut(id) {
            sess.rec.queue = queue.to_string();
        }
        Ok(())
    }

    /// Closes the session (the transcript stays); its agent becomes idle.
    pub async fn close(
        &mut self,
        id: &str,
        reason: &str,
        farewell: Option<Text>,
        now: i64,
    ) -> Result<Option<Change>, StoreError> {
        self.store.session_close(id, reason, now).await?;
        let Some(sess) = self.sessions.remove(id) else {
            return Ok(None);
        };
        self.by_customer.remove(&sess.rec.customer_jid);
        if let Some(agent) = &sess.rec.agent {
            self.agent_mut(agent).idle_since_ms = now;
        }
        Ok(Some(Change::Closed {
            sess: Box::new(sess),
            farewell,
        }))
    }
}
