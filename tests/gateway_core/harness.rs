//! The gateway alone, in-process: its actor driven by the stanzas and
//! presence changes the router would hand it, with a recording outbox in
//! place of the router, an in-memory SQLite store and a manual clock. A
//! test reads what the gateway sent after [`Harness::settle`], which
//! returns once everything handed over before is handled, so nothing here
//! sleeps or polls; time-outs happen when the test moves the clock.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jid::{BareJid, FullJid, Jid};
use switchboard::config::GatewayConfig;
use switchboard::gateway::directory::Directory;
use switchboard::gateway::ports::{Clock, Outbox, Resource, Sending};
use switchboard::gateway::{self, Env, Event, Gateway, UploadService};
use switchboard::router::{DomainHandler, Handed};
use switchboard::store::{RosterItem, SessionRecord, Store};
use switchboard::xml::{ns, Condition, Kind, Stanza};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub const SUPPORT: &str = "support.test";
pub const AGENTS_DOMAIN: &str = "agents.support.test";
pub const HELP: &str = "help@support.test";
pub const ALICE: &str = "alice@agents.support.test";
pub const BOB: &str = "bob@agents.support.test";
pub const ROMEO: &str = "romeo@customer.test/phone";
pub const JULIET: &str = "juliet@customer.test/laptop";
/// The customers' bare JIDs, where the gateway writes to them.
pub const ROMEO_BARE: &str = "romeo@customer.test";
pub const JULIET_BARE: &str = "juliet@customer.test";
pub const MERCUTIO: &str = "mercutio@customer.test/tablet";
/// The agents' resources in [`Harness::agents_online`].
pub const ALICE_DESK: &str = "alice@agents.support.test/desk";
pub const BOB_DESK: &str = "bob@agents.support.test/desk";

/// When the manual clock starts: 2026-12-01 10:00 UTC, a Tuesday.
const START_MS: i64 = 1_796_119_200_000;

/// Something the gateway sent.
#[derive(Debug, Clone)]
pub enum Out {
    Stanza(Stanza),
    RosterSet { owner: String, item: RosterItem },
    RosterRemove { owner: String, contact: String },
}

/// A connected resource and its presence (None: not available).
type Connected = Vec<(FullJid, Option<Stanza>)>;

#[derive(Default)]
struct Recorder {
    sent: Mutex<Vec<Out>>,
    /// Connected resources of local accounts and their presence.
    resources: Mutex<HashMap<BareJid, Connected>>,
    /// Deliveries not given: as if every client took its stanzas and the
    /// process died before any acknowledgement came back.
    unacknowledged: std::sync::atomic::AtomicBool,
}

impl Outbox for Recorder {
    fn route(&self, s: Stanza) -> Sending<'_> {
        if !self
            .unacknowledged
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            // The router's sessions give it when the client has it.
            s.delivered();
        }
        self.sent.lock().unwrap().push(Out::Stanza(s));
        Box::pin(async {})
    }

    fn roster_set<'a>(&'a self, owner: &'a BareJid, item: &'a RosterItem) -> Sending<'a> {
        self.sent.lock().unwrap().push(Out::RosterSet {
            owner: owner.to_string(),
            item: item.clone(),
        });
        Box::pin(async {})
    }

    fn roster_remove<'a>(&'a self, owner: &'a BareJid, contact: &'a str) -> Sending<'a> {
        self.sent.lock().unwrap().push(Out::RosterRemove {
            owner: owner.to_string(),
            contact: contact.to_string(),
        });
        Box::pin(async {})
    }

    fn resources(&self, bare: &BareJid) -> Vec<Resource> {
        let map = self.resources.lock().unwrap();
        map.get(bare)
            .into_iter()
            .flatten()
            .map(|(jid, presence)| Resource {
                jid: jid.clone(),
                available: presence.is_some(),
                presence: presence.clone(),
            })
            .collect()
    }
}

pub struct Harness {
    pub gateway: Gateway,
    pub clock: Clock,
    pub store: Store,
    handler: DomainHandler,
    out: Arc<Recorder>,
    shutdown: CancellationToken,
    task: Option<JoinHandle<()>>,
    /// What was sent and not yet taken by a test.
    log: Vec<Out>,
    /// Numbers the IQs a test sends.
    iq_seq: u64,
    /// dialogs.toml, if the test has one: kept over a restart.
    dialogs: Option<String>,
    /// categories.toml, likewise.
    categories: Option<String>,
}

/// One `[[agent]]` table: tier 1, skill `billing`.
pub fn agent_toml(
    jid: &str,
    name: &str,
    protocols: &[&str],
    max_live: u32,
    max_async: u32,
) -> String {
    let protocols = protocols
        .iter()
        .map(|p| format!("\"{p}\""))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "[[agent]]\njid = \"{jid}\"\nname = \"{name}\"\ntier = 1\nskills = [\"billing\"]\n\
         protocols = [{protocols}]\nmax_live = {max_live}\nmax_async = {max_async}\n\n"
    )
}

/// Two agents, Alice and Bob, on the local agent domain, serving XMPP
/// customers, with `max_live` each and room for 5 async sessions.
pub fn agents_toml(max_live: u32) -> String {
    agent_toml(ALICE, "Alice", &["xmpp"], max_live, 5)
        + &agent_toml(BOB, "Bob", &["xmpp"], max_live, 5)
}

/// One queue `general` behind help@, with `defaults` lines for
/// `[defaults]` and `more` appended (queues, rules).
pub fn routing_toml(assign: &str, defaults: &str, more: &str) -> String {
    format!(
        "[defaults]\nassign = \"{assign}\"\noffer_timeout_secs = 5\n{defaults}\n\
         [[queue]]\nname = \"general\"\nentry = [\"{HELP}\"]\nskills = []\n\
         strategy = \"longest-idle\"\n{more}"
    )
}

/// Uploads of up to 1000 bytes of images and PDFs, at http://files.test.
pub fn upload_service() -> UploadService {
    UploadService {
        config: switchboard::config::Upload {
            directory: "/nonexistent".into(),
            max_file_bytes: 1000,
            allowed_types: vec!["image/*".into(), "application/pdf".into()],
            expire: Duration::from_secs(86_400),
            slot: Duration::from_secs(300),
        },
        key: switchboard::slot::SlotKey::new(b"the harness's upload key, 32 bytes"),
        base_url: "http://files.test".into(),
    }
}

pub fn directory(agents: &str, routing: &str) -> Arc<Directory> {
    directory_with(agents, routing, None)
}

/// With a dialogs.toml; a knowledge base it names is best given as an
/// absolute path (see [`KB`]).
pub fn directory_with(agents: &str, routing: &str, dialogs: Option<&str>) -> Arc<Directory> {
    directory_full(agents, routing, dialogs, None)
}

/// With a dialogs.toml or a categories.toml (not both: no test needs it).
pub fn directory_full(
    agents: &str,
    routing: &str,
    dialogs: Option<&str>,
    categories: Option<&str>,
) -> Arc<Directory> {
    let (a, r) = (Path::new("agents.toml"), Path::new("routing.toml"));
    let cfg = match (dialogs, categories) {
        (None, None) => GatewayConfig::from_strs(SUPPORT, (a, agents), (r, routing)),
        (Some(d), _) => GatewayConfig::from_strs_with_dialogs(
            SUPPORT,
            (a, agents),
            (r, routing),
            (Path::new("dialogs.toml"), d),
        ),
        (None, Some(c)) => GatewayConfig::from_strs_with_categories(
            SUPPORT,
            (a, agents),
            (r, routing),
            (Path::new("categories.toml"), c),
        ),
    }
    .unwrap_or_else(|e| panic!("test configuration: {e}"));
    Arc::new(Directory::from_config(Arc::new(cfg)))
}

/// The shipped knowledge base, for `knowledge_base = KB` in a test's
/// dialogs.toml.
pub const KB: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/conf/kb");

impl Harness {
    pub async fn start(agents: &str, routing: &str) -> Harness {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        Harness::on_store(store, Clock::manual(START_MS), agents, routing).await
    }

    /// A gateway on an existing store and clock: a restart.
    pub async fn on_store(store: Store, clock: Clock, agents: &str, routing: &str) -> Harness {
        Harness::with(store, clock, agents, routing, None, None, None).await
    }

    /// A gateway with a categories.toml.
    pub async fn with_categories(agents: &str, routing: &str, categories: &str) -> Harness {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        let clock = Clock::manual(START_MS);
        Harness::with(store, clock, agents, routing, None, None, Some(categories)).await
    }

    /// A gateway with a dialogs.toml.
    pub async fn with_dialogs(agents: &str, routing: &str, dialogs: &str) -> Harness {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        let clock = Clock::manual(START_MS);
        Harness::with(store, clock, agents, routing, None, Some(dialogs), None).await
    }

    /// A gateway with XEP-0363 file upload (see [`upload_service`]).
    pub async fn with_upload(agents: &str, routing: &str, upload: UploadService) -> Harness {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        let clock = Clock::manual(START_MS);
        Harness::with(store, clock, agents, routing, Some(upload), None, None).await
    }

    async fn with(
        store: Store,
        clock: Clock,
        agents: &str,
        routing: &str,
        upload: Option<UploadService>,
        dialogs: Option<&str>,
        categories: Option<&str>,
    ) -> Harness {
        let out = Arc::new(Recorder::default());
        let (gw, inbox) = Gateway::new(1024);
        let shutdown = CancellationToken::new();
        let env = Env {
            out: out.clone(),
            store: store.clone(),
            clock: clock.clone(),
            support_domain: SUPPORT.into(),
            agent_domain: AGENTS_DOMAIN.into(),
            web_domain: Some("web.support.test".into()),
            tasks: TaskTracker::new(),
            upload: upload.clone(),
        };
        let task = tokio::spawn(gateway::run(
            env,
            gw.clone(),
            inbox,
            directory_full(agents, routing, dialogs, categories),
            shutdown.clone(),
        ));
        let mut h = Harness {
            handler: gw.domain_handler(SUPPORT, upload.as_ref().map(|u| &u.config)),
            gateway: gw,
            clock,
            store,
            out,
            shutdown,
            task: Some(task),
            log: Vec::new(),
            iq_seq: 0,
            dialogs: dialogs.map(str::to_string),
            categories: categories.map(str::to_string),
        };
        h.settle().await;
        h
    }

    /// Stops the gateway as a shutdown would; the store stays.
    pub async fn stop(mut self) -> (Store, Clock) {
        self.shutdown.cancel();
        if let Some(t) = self.task.take() {
            t.await.unwrap();
        }
        (self.store.clone(), self.clock.clone())
    }

    /// From now on no client acknowledges what it receives (see
    /// `Recorder::unacknowledged`).
    pub fn acknowledgements_lost(&self) {
        self.out
            .unacknowledged
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Waits until the gateway has handled everything handed to it so far
    /// (timers that fell due included), then collects what it sent.
    pub async fn settle(&mut self) {
        let (tx, rx) = oneshot::channel();
        self.gateway.send(Event::Settled(tx)).await;
        rx.await.expect("the gateway stopped");
        let sent = std::mem::take(&mut *self.out.sent.lock().unwrap());
        self.log.extend(sent);
    }

    /// Moves the clock on and lets what fell due happen.
    pub async fn advance(&mut self, by: Duration) {
        self.clock.advance(by);
        self.settle().await;
    }

    /// Hands the gateway a stanza as the router would, and settles.
    pub async fn stanza(&mut self, xml: &str) {
        let stanza = Stanza::parse(bytes::Bytes::from(xml.to_string()))
            .unwrap_or_else(|e| panic!("test stanza {xml}: {e:?}"));
        // Parsed as the router does before handing a stanza over.
        let from = Jid::new(stanza.from().expect("a from")).unwrap();
        let to = Jid::new(stanza.to().expect("a to")).unwrap();
        self.handler.hand(Handed::stanza(stanza, from, to)).await;
        self.settle().await;
    }

    /// A chat message from `from` to `to`.
    pub async fn message(&mut self, from: &str, to: &str, body: &str) {
        let body = escape(body);
        self.stanza(&format!(
            "<message type='chat' from='{from}' to='{to}' id='m{}'>\
             <body>{body}</body></message>",
            self.clock.now_ms()
        ))
        .await;
    }

    /// A local agent's resource comes online with `show` (None: plain
    /// available), or goes offline (`online` false).
    pub async fn agent_presence(&mut self, full: &str, online: bool, show: Option<&str>) {
        let full = FullJid::new(full).unwrap();
        let bare = full.to_bare();
        {
            let mut map = self.out.resources.lock().unwrap();
            let list = map.entry(bare.clone()).or_default();
            list.retain(|(j, _)| *j != full);
            if online {
                let show = show
                    .map(|s| format!("<show>{s}</show>"))
                    .unwrap_or_default();
                let p = Stanza::parse(bytes::Bytes::from(format!(
                    "<presence from='{full}'>{show}</presence>"
                )))
                .unwrap();
                list.push((full.clone(), Some(p)));
            }
        }
        self.handler.hand(Handed::AccountPresence(bare)).await;
        self.settle().await;
    }

    /// Alice and Bob online, on their `desk` resources.
    pub async fn agents_online(&mut self) {
        self.agent_presence(&format!("{ALICE}/desk"), true, None)
            .await;
        self.agent_presence(&format!("{BOB}/desk"), true, None)
            .await;
    }

    /// A customer's first message, and identification given up on (their
    /// server does not answer in this harness), so the session is routed.
    pub async fn customer_opens(&mut self, customer: &str, body: &str) {
        self.message(customer, HELP, body).await;
        self.advance(Duration::from_secs(3)).await;
    }

    /// The messages sent to `to` (a bare or full JID) so far and not yet
    /// taken, with their bodies; takes them.
    pub fn messages_to(&mut self, to: &str) -> Vec<(Stanza, String)> {
        let mut taken = Vec::new();
        self.log.retain(|o| match o {
            Out::Stanza(s) if s.kind() == Kind::Message && addressed(s, to) => {
                taken.push((s.clone(), s.body().unwrap_or_default()));
                false
            }
            _ => true,
        });
        taken
    }

    /// Takes the first message to `to` whose body contains `text`; panics
    /// with everything sent when there is none.
    pub fn line_to(&mut self, to: &str, text: &str) -> Stanza {
        let i = self.log.iter().position(|o| match o {
            Out::Stanza(s) => addressed(s, to) && s.body().is_some_and(|b| b.contains(text)),
            _ => false,
        });
        match i {
            Some(i) => match self.log.remove(i) {
                Out::Stanza(s) => s,
                _ => unreachable!(),
            },
            None => panic!(
                "no message to {to} containing {text:?}; sent:\n{}",
                self.dump()
            ),
        }
    }

    /// Whether some message to `to` contains `text` (not taken).
    pub fn has_line_to(&self, to: &str, text: &str) -> bool {
        self.log.iter().any(|o| match o {
            Out::Stanza(s) => addressed(s, to) && s.body().is_some_and(|b| b.contains(text)),
            _ => false,
        })
    }

    /// Takes every stanza sent so far for which `pred` holds.
    pub fn take(&mut self, pred: impl Fn(&Out) -> bool) -> Vec<Out> {
        self.take_some(|o| pred(o).then(|| o.clone()))
    }

    /// Drops everything sent so far.
    pub fn clear(&mut self) {
        self.log.clear();
    }

    pub fn dump(&self) -> String {
        self.log
            .iter()
            .map(|o| match o {
                Out::Stanza(s) => String::from_utf8_lossy(s.bytes()).into_owned(),
                other => format!("{other:?}"),
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The proxy JID of the session offered or assigned to `agent` last.
    pub fn proxy_of(&self, agent: &str) -> Option<String> {
        self.log.iter().rev().find_map(|o| match o {
            Out::Stanza(s) if addressed(s, agent) => s
                .from()
                .filter(|f| f.starts_with("s-"))
                .map(|f| f.split('/').next().unwrap().to_string()),
            _ => None,
        })
    }

    /// A query of the store, for what the gateway kept there.
    pub async fn session_states(&self) -> Vec<(String, String, Option<String>)> {
        self.store
            .sessions_open()
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.customer_jid, r.state.as_str().to_string(), r.agent))
            .collect()
    }
    /// A restart: this gateway stops as at shutdown and another starts on
    /// the same store and clock. Connected resources are not kept over:
    /// agents come back with [`Harness::agent_presence`].
    pub async fn restart(self, agents: &str, routing: &str) -> Harness {
        let (dialogs, categories) = (self.dialogs.clone(), self.categories.clone());
        let (store, clock) = self.stop().await;
        Harness::with(
            store,
            clock,
            agents,
            routing,
            None,
            dialogs.as_deref(),
            categories.as_deref(),
        )
        .await
    }

    /// Text to the support domain itself, the control JID.
    pub async fn control(&mut self, from: &str, body: &str) {
        self.message(from, SUPPORT, body).await;
    }

    /// A presence from `from` to `to` (`type_` None: available).
    pub async fn presence(&mut self, from: &str, to: &str, type_: Option<&str>) {
        let t = type_.map(|t| format!(" type='{t}'")).unwrap_or_default();
        self.stanza(&format!("<presence from='{from}' to='{to}'{t}/>"))
            .await;
    }

    /// An IQ of `type_` with `payload` from `from` to `to`; takes and
    /// returns the gateway's answer (a result or an error).
    pub async fn iq(&mut self, from: &str, to: &str, type_: &str, payload: &str) -> Stanza {
        self.iq_seq += 1;
        let id = format!("t{}", self.iq_seq);
        self.stanza(&format!(
            "<iq type='{type_}' id='{id}' from='{from}' to='{to}'>{payload}</iq>"
        ))
        .await;
        let taken = self.take(|o| {
            matches!(o, Out::Stanza(s) if s.kind() == Kind::Iq && s.id() == Some(id.as_str()) && s.to() == Some(from))
        });
        match taken.into_iter().next() {
            Some(Out::Stanza(s)) => s,
            _ => panic!("no answer to iq {id}; sent:\n{}", self.dump()),
        }
    }

    /// Takes the first error stanza sent to `to`: its condition and itself.
    pub fn error_to(&mut self, to: &str) -> (String, Stanza) {
        let i = self.log.iter().position(
            |o| matches!(o, Out::Stanza(s) if s.type_() == Some("error") && addressed(s, to)),
        );
        match i.map(|i| self.log.remove(i)) {
            Some(Out::Stanza(s)) => (condition(&s).unwrap_or_default(), s),
            _ => panic!("no error to {to}; sent:\n{}", self.dump()),
        }
    }

    /// Takes what `pick` recognises among what was sent, oldest first.
    pub fn take_some<T>(&mut self, pick: impl Fn(&Out) -> Option<T>) -> Vec<T> {
        let mut taken = Vec::new();
        self.log
            .retain(|o| pick(o).map(|t| taken.push(t)).is_none());
        taken
    }

    /// Takes the presences sent to `to`.
    pub fn presences_to(&mut self, to: &str) -> Vec<Stanza> {
        self.take_some(|o| match o {
            Out::Stanza(s) if s.kind() == Kind::Presence && addressed(s, to) => Some(s.clone()),
            _ => None,
        })
    }

    /// Takes the work-list items pushed into `owner`'s roster (added or
    /// moved).
    pub fn roster_sets(&mut self, owner: &str) -> Vec<RosterItem> {
        self.take_some(|o| match o {
            Out::RosterSet { owner: w, item } if w == owner => Some(item.clone()),
            _ => None,
        })
    }

    /// Takes the first work-list item pushed to `owner`; panics when none.
    pub fn work_item(&mut self, owner: &str) -> RosterItem {
        let i = self
            .log
            .iter()
            .position(|o| matches!(o, Out::RosterSet { owner: w, .. } if w == owner));
        match i.map(|i| self.log.remove(i)) {
            Some(Out::RosterSet { item, .. }) => item,
            _ => panic!("no work item for {owner}; sent:\n{}", self.dump()),
        }
    }

    /// Takes the contacts removed from `owner`'s roster.
    pub fn roster_removes(&mut self, owner: &str) -> Vec<String> {
        self.take_some(|o| match o {
            Out::RosterRemove { owner: w, contact } if w == owner => Some(contact.clone()),
            _ => None,
        })
    }

    /// What the router would do with a stanza from `from_bare` to a local
    /// account (an agent): `Some(condition)` refuses it.
    pub fn screen_to_account(&self, from_bare: &str) -> Option<Condition> {
        self.handler.policy.screen_to_account(from_bare)
    }

    /// The support domain's disco#info as the router shows it (its policy).
    pub fn domain_info(&self) -> &switchboard::router::DomainInfo {
        self.handler.policy.info()
    }

    /// Whether the router hands this stanza to the domain itself over to
    /// the gateway (the support domain's policy).
    pub fn claims(&self, xml: &str) -> bool {
        let s = Stanza::parse(bytes::Bytes::from(xml.to_string())).unwrap();
        self.handler.policy.claims(&s)
    }

    /// The command nodes the router hands over when sent to the agent
    /// domain (the support domain's policy).
    pub fn agent_domain_commands(&self) -> &'static [&'static str] {
        self.handler.policy.info().agent_domain_commands
    }

    /// The open session of `customer` (bare JID) as stored.
    pub async fn stored_session(&self, customer: &str) -> Option<SessionRecord> {
        self.store
            .sessions_open()
            .await
            .unwrap()
            .into_iter()
            .find(|r| r.customer_jid == customer)
    }
}

/// The defined condition of an error stanza (`forbidden`...).
pub fn condition(s: &Stanza) -> Option<String> {
    let e = s.element().ok()?;
    let error = e.children().find(|c| c.name() == "error")?;
    error
        .children()
        .find(|c| c.ns() == ns::STANZA_ERRORS && c.name() != "text")
        .map(|c| c.name().to_string())
}

/// The bare JID (a proxy's `s-...@support.test`) in a full or bare JID.
pub fn bare(jid: &str) -> &str {
    jid.split('/').next().unwrap_or(jid)
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// `to` is the stanza's `to`, or its bare part.
fn addressed(s: &Stanza, to: &str) -> bool {
    s.to()
        .is_some_and(|t| t == to || (!to.contains('/') && t.split('/').next() == Some(to)))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
