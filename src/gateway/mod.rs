//! The contact-center gateway: customers write to entry JIDs on the
//! support domain; each conversation is a session with a stable id, queued,
//! assigned to a capable agent, and bridged through a proxy JID
//! (`s-xxxxxxx@support.example`) that the agent sees in their roster.
//!
//! One actor task owns all gateway state, so decisions need no locks and
//! happen in the order events arrive; the router hands it every stanza for
//! the support domain and every presence change of a local account. Every
//! message a customer writes is stored before anything else is done with it.

mod actor;
mod adapt;
mod adhoc;
mod agents;
mod answers;
pub mod assign;
mod bridge;
mod callbacks;
mod canned;
mod commands;
pub mod context;
mod dialog;
pub mod directory;
pub mod discover;
mod domain;
mod entry;
mod escalate;
mod identify;
mod journal;
mod links;
mod moods;
mod moves;
mod overview;
pub mod ports;
mod push;
mod queue;
mod remote;
mod resends;
mod route;
mod selfservice;
mod sessions;
mod state;
mod supervise;
pub mod transcript;
mod upload;
mod worklist;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use jid::{BareJid, Jid};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info};

use crate::router::{DomainHandler, Handed};
use crate::store::{SessionState, Store};
use crate::xml::{Condition, Stanza};
use actor::{Core, Timers};
use directory::Directory;
use ports::{Clock, Outbox};

pub use actor::Event;
pub use upload::UploadService;

/// What the gateway is given to work with.
pub struct Env {
    /// Where its stanzas go: the router, or a test's recorder.
    pub out: Arc<dyn Outbox>,
    pub store: Store,
    pub clock: Clock,
    pub support_domain: String,
    /// The server's own accounts' domain: agents there get roster pushes.
    pub agent_domain: String,
    /// The web chat visitors' domain, if any: their channel is `web`.
    pub web_domain: Option<String>,
    /// The gateway's helper tasks (the journal) are tracked with these.
    pub tasks: TaskTracker,
    /// XEP-0363 file upload on the support domain, if any.
    pub upload: Option<UploadService>,
}

/// The handle on the gateway: events for the actor, and the support
/// domain's handler for the router.
#[derive(Clone)]
pub struct Gateway {
    tx: mpsc::Sender<Event>,
    handed: mpsc::Sender<Handed>,
    customers: domain::Customers,
}

/// What the actor reads: its own events and what the router hands it.
pub struct Inbox {
    events: mpsc::Receiver<Event>,
    handed: mpsc::Receiver<Handed>,
}

impl Gateway {
    pub fn new(capacity: usize) -> (Gateway, Inbox) {
        let (tx, events) = mpsc::channel(capacity);
        let (handed_tx, handed) = mpsc::channel(capacity);
        (
            Gateway {
                tx,
                handed: handed_tx,
                customers: Arc::default(),
            },
            Inbox { events, handed },
        )
    }

    pub async fn send(&self, event: Event) {
        // Only fails after shutdown, when nothing is listening any more.
        let _ = self.tx.send(event).await;
    }

    /// The router's handler of the support domain; `upload`: the upload
    /// service it announces, if any (the same as [`Env::upload`]).
    pub fn domain_handler(
        &self,
        support_domain: &str,
        upload: Option<&crate::config::Upload>,
    ) -> DomainHandler {
        DomainHandler {
            domain: support_domain.to_string(),
            tx: self.handed.clone(),
            policy: Box::new(domain::SupportPolicy {
                customers: Arc::clone(&self.customers),
                info: domain::info(upload.map(|u| u.max_file_bytes)),
            }),
        }
    }
}

/// Runs the gateway until shutdown. Open sessions are loaded from the store
/// first: a restart loses neither sessions nor queue order.
pub async fn run(
    env: Env,
    gateway: Gateway,
    mut inbox: Inbox,
    dir: Arc<Directory>,
    shutdown: CancellationToken,
) {
    let journal = journal::Journal::start(
        env.store.clone(),
        Arc::clone(&env.out),
        env.clock.clone(),
        &env.tasks,
    );
    let mut core = Core {
        support: env.support_domain,
        agent_domain: env.agent_domain,
        web_domain: env.web_domain,
        out: env.out,
        clock: env.clock,
        timers: Timers::default(),
        state: state::State::new(env.store, Arc::clone(&gateway.customers)),
        dir,
        cursors: HashMap::new(),
        entry_status: HashMap::new(),
        remote_presence: HashMap::new(),
        ident: answers::Cache::default(),
        journal,
        agent_feats: HashMap::new(),
        upload: env.upload,
        callbacks: Default::default(),
        receipt: Default::default(),
        resends: Default::default(),
    };
    if let Err(e) = core.load().await {
        error!(error = %e, "loading open sessions failed");
    }
    core.resends = resends::Resends::load(core.state.store(), core.clock.now_ms()).await;
    core.later(core.sweep_every(), Event::Sweep);
    loop {
        let next_due = core.timers.next_due();
        let event = tokio::select! {
            h = inbox.handed.recv() => match h {
                Some(h) => {
                    core.handed(h).await;
                    continue;
                }
                None => break,
            },
            e = inbox.events.recv() => match e {
                Some(e) => e,
                None => break,
            },
            _ = core.clock.until(next_due.unwrap_or(i64::MAX)), if next_due.is_some() => {
                let now = core.clock.now_ms();
                match core.timers.pop_due(now) {
                    Some(e) => e,
                    None => continue,
                }
            }
            _ = shutdown.cancelled() => break,
        };
        if let Event::Settled(done) = event {
            // What the router handed over before this was sent is in the
            // other channel, which `select!` may not have read yet.
            while let Ok(h) = inbox.handed.try_recv() {
                core.handed(h).await;
            }
            core.event(Event::Settled(done)).await;
            continue;
        }
        core.event(event).await;
    }
    // What the bridge accepted is stored before the process goes.
    core.journal.flush().await;
}

impl Core {
    async fn handed(&mut self, h: Handed) {
        match h {
            Handed::Stanza {
                stanza,
                from,
                to,
                receipt,
            } => {
                self.receipt = receipt;
                self.stanza(stanza, &from, &to).await;
                std::mem::take(&mut self.receipt).done();
            }
            Handed::AccountPresence(bare) => self.agent_presence(&bare).await,
        }
    }

    async fn event(&mut self, event: Event) {
        match event {
            Event::OfferExpired { session, seq } => self.offer_expired(&session, seq).await,
            Event::GraceExpired { agent, seq } => self.grace_expired(&agent, seq).await,
            Event::IdentifyTimeout { session } => self.identify_timeout(&session).await,
            Event::DialogTimeout { session, seq } => self.dialog_timeout(&session, seq).await,
            Event::CallbackLead { id, seq } => self.callback_lead(&id, seq).await,
            Event::CallbackDue { id, seq } => self.callback_due(&id, seq).await,
            Event::Sweep => {
                self.close_idle().await;
                self.route_stalled().await;
                // Place updates held back by `queue_update_secs`.
                self.tell_positions().await;
                self.probe_silent_agents().await;
                // Business hours open and close with time alone.
                self.broadcast_status().await;
                self.later(self.sweep_every(), Event::Sweep);
            }
            Event::Settled(done) => {
                // Timers due by now count as sent before: the clock may have
                // moved just before this event came.
                while let Some(e) = self.timers.pop_due(self.clock.now_ms()) {
                    Box::pin(self.event(e)).await;
                }
                self.journal.flush().await;
                let _ = done.send(());
            }
            Event::Reload(dir) => {
                self.dir = dir;
                info!("gateway configuration reloaded");
                self.subscribe_remote_agents().await;
                self.refresh_all().await;
            }
        }
    }

    async fn load(&mut self) -> Result<(), crate::store::StoreError> {
        // Routed before the restart: their contexts hold the decisions.
        self.state.load().await?;
        // An offer does not survive a restart: its timer is gone.
        let offered = self.state.ids_where(|s| s.state() == SessionState::Offered);
        for id in offered {
            self.requeue(&id, true).await;
        }
        self.resume_dialogs().await;
        self.subscribe_remote_agents().await;
        // After the sessions: an opened callback's session is one of them.
        self.load_callbacks().await;
        let known: Vec<String> = self.dir.agents().map(|a| a.jid.to_string()).collect();
        for jid in known {
            if let Ok(bare) = BareJid::new(&jid) {
                self.agent_presence(&bare).await;
            }
        }
        info!(open = self.state.len(), "gateway ready");
        Ok(())
    }

    /// Dispatch by the addressed JID: an entry JID, a session's proxy, or
    /// the support domain itself.
    async fn stanza(&mut self, s: Stanza, from: &Jid, to: &Jid) {
        if s.kind() == crate::xml::Kind::Iq
            && matches!(s.type_(), Some("result" | "error"))
            && to.node().is_none()
        {
            // Answers to identification queries, which go out from the
            // support domain.
            self.identify_answer(&s).await;
            return;
        }
        let Some(node) = to.node().map(|n| n.as_str().to_string()) else {
            // The support domain itself: the control JID and its commands;
            // or the agent domain, whose command IQs the router hands over.
            return match s.kind() {
                crate::xml::Kind::Message if s.type_() != Some("error") => {
                    self.control(from, &s).await
                }
                crate::xml::Kind::Iq if upload::is_request(&s) => {
                    self.upload_request(from, &s).await
                }
                crate::xml::Kind::Iq => self.adhoc(from, to, &s).await,
                crate::xml::Kind::Presence => self.remote_agent_presence(from, &s).await,
                _ => {}
            };
        };
        let bare_to = format!("{node}@{}", self.support);
        if self.dir.is_entry(&bare_to) {
            return self.at_entry(from, &bare_to, s).await;
        }
        if self.state.session(&node).is_some() {
            return self.at_proxy(from, &node, s).await;
        }
        if s.kind() == crate::xml::Kind::Message && s.body().is_none() {
            // A chat state or receipt to a session that just closed: an
            // error for it would only show the agent a red line.
            return;
        }
        self.bounce(&s, Condition::ItemNotFound, None).await;
    }

    /// Idle sessions are looked for a few times per idle period.
    fn sweep_every(&self) -> Duration {
        (self.dir.session_idle() / 4).clamp(Duration::from_secs(1), Duration::from_secs(60))
    }

    /// Closes sessions nobody wrote in for `session_idle_secs`; the
    /// transcript stays.
    async fn close_idle(&mut self) {
        let cutoff = self.clock.now_ms() - self.dir.session_idle().as_millis() as i64;
        let idle: Vec<String> = self
            .state
            .sessions()
            .filter(|s| s.rec().updated_at.max(s.last_activity_ms) < cutoff)
            .map(|s| s.rec().id.clone())
            .collect();
        for id in idle {
            self.close(&id, "idle").await;
        }
    }

    /// Hands a change the state made to each feature that reacts to
    /// changes, in this order; a feature that must hear of them adds its
    /// line here (see ARCHITECTURE.md, "How to add a gateway feature").
    ///
    /// Boxed: a reaction may change the state again (a close lets the next
    /// waiting session be assigned), so this future contains itself.
    fn react(&mut self, change: state::Change) -> ports::Sending<'_> {
        Box::pin(async move {
            worklist::on_change(self, &change).await;
            sessions::on_change(self, &change).await;
            bridge::on_change(self, &change).await;
            queue::on_change(self, &change).await;
            entry::on_change(self, &change).await;
            supervise::on_change(self, &change).await;
            callbacks::on_change(self, &change).await;
        })
    }
}
