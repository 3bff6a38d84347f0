//! What the chaos tests share: a contact center whose customers are on a
//! real Prosody (with `mod_smacks`: XEP-0198 on s2s), loads written in
//! bursts, and the accounting of every message a customer wrote.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::common::{
    loopback_ips, Client, ClientOpts, Prosody, ProsodyOpts, ServerOpts, TestServer,
};
use serde_json::json;

pub const ALICE: &str = "alice@agents.support.test";
pub const BOB: &str = "bob@agents.support.test";
pub const HELP: &str = "help@support.test";
pub const PW: &str = "pw";

pub struct Center {
    pub sb: TestServer,
    pub prosody: Prosody,
}

pub fn customer_jid(i: usize) -> String {
    format!("c{i}@customer.test")
}

/// Two agents, one queue behind help@, `customers` accounts on Prosody.
/// `opts` adds to Switchboard's options (its store); `prosody_lua`: more
/// of Prosody's global configuration.
pub fn center(customers: usize, opts: ServerOpts, prosody_lua: &str) -> Center {
    let ips = loopback_ips(2);
    let (sb_ip, p_ip) = (&ips[0], &ips[1]);
    let agent = |jid: &str, name: &str| {
        format!(
            "[[agent]]\njid = \"{jid}\"\nname = \"{name}\"\ntier = 1\nskills = []\n\
             protocols = [\"xmpp\"]\nmax_live = {customers}\nmax_async = 5\n\n"
        )
    };
    let routing = format!(
        "[defaults]\nassign = \"direct\"\noffer_timeout_secs = 5\n\n\
         [[queue]]\nname = \"general\"\nentry = [\"{HELP}\"]\nskills = []\n\
         strategy = \"least-busy\"\n"
    );
    let sb = TestServer::start(
        opts.account(ALICE, PW)
            .account(BOB, PW)
            .agents_toml(&(agent(ALICE, "Alice") + &agent(BOB, "Bob")))
            .routing_toml(&routing)
            .ca_file("certs/ca.crt")
            .s2s_listen(&format!("{sb_ip}:5269"))
            .s2s_host("customer.test", &format!("{p_ip}:5269")),
    );
    let certs = sb.path().join("certs");
    let mut opts = ProsodyOpts::default()
        .federated(p_ip, sb_ip, &certs)
        .arg("--extra-config")
        .arg(prosody_lua);
    for i in 0..customers {
        opts = opts.user(&customer_jid(i), PW);
    }
    let prosody = Prosody::start(opts);
    Center { sb, prosody }
}

/// The agents logged in, and every customer with a session at an agent.
pub async fn open_sessions(c: &Center, customers: usize) -> (Vec<Client>, Vec<Client>) {
    let mut agents = vec![
        Client::login(&c.sb, ALICE, PW, ClientOpts::default()).await,
        Client::login(&c.sb, BOB, PW, ClientOpts::default()).await,
    ];
    let mut cs = Vec::new();
    for i in 0..customers {
        let mut cu = Client::login(&c.prosody, &customer_jid(i), PW, ClientOpts::default()).await;
        cu.message(HELP, &format!("c{i}-hello")).await;
        cs.push(cu);
    }
    let hello: Vec<String> = (0..customers).map(|i| format!("c{i}-hello")).collect();
    wait_delivered(&mut agents, &hello, Duration::from_secs(20)).await;
    (agents, cs)
}

/// Starts `each` messages per customer at `rate` each per second.
pub fn start_bursts(customers: &mut [Client], each: usize, rate: usize) {
    for (i, cu) in customers.iter_mut().enumerate() {
        cu.send(
            json!({"cmd": "burst", "to": HELP, "prefix": format!("c{i}"),
            "count": each, "rate": rate, "tag": format!("burst{i}")}),
        );
    }
}

pub async fn bursts_done(customers: &mut [Client]) {
    for (i, cu) in customers.iter_mut().enumerate() {
        let tag = format!("burst{i}");
        cu.expect_what(
            "the end of the burst",
            |e| e["tag"] == tag.as_str(),
            Duration::from_secs(60),
        )
        .await;
    }
}

/// Pulls whatever `c` received into its `seen()`.
pub async fn collect(c: &mut Client) {
    c.expect_none(|_| false, Duration::from_millis(20)).await;
}

/// What the agents received from customers: body → times.
pub fn delivered(agents: &[Client]) -> BTreeMap<String, usize> {
    let mut got = BTreeMap::new();
    for a in agents {
        for e in a.seen() {
            let from_proxy = e["from"]
                .as_str()
                .is_some_and(|f| f.starts_with("s-") && f.contains("@support.test"));
            if e["event"] == "message" && from_proxy && e["type"] != "error" {
                if let Some(b) = e["body"].as_str().filter(|b| b.starts_with('c')) {
                    *got.entry(b.to_string()).or_insert(0) += 1;
                }
            }
        }
    }
    got
}

/// Waits until the agents have every one of `bodies`.
pub async fn wait_delivered(agents: &mut [Client], bodies: &[String], within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        for a in agents.iter_mut() {
            collect(a).await;
        }
        let got = delivered(agents);
        let missing: Vec<&String> = bodies.iter().filter(|b| !got.contains_key(*b)).collect();
        if missing.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "never reached an agent: {missing:?}"
        );
    }
}

/// Each customer's last line: once the agents have it, everything stored
/// before it has been relayed (a session's lines keep their order).
pub async fn last_lines(customers: &mut [Client], agents: &mut [Client]) {
    let mut ends = Vec::new();
    for (i, cu) in customers.iter_mut().enumerate() {
        cu.message(HELP, &format!("c{i}-end")).await;
        ends.push(format!("c{i}-end"));
    }
    wait_delivered(agents, &ends, Duration::from_secs(30)).await;
    for cu in customers.iter_mut() {
        collect(cu).await;
    }
}

/// The ids of a client's messages that came back as errors, with the
/// error's condition.
pub fn bounced(c: &Client) -> BTreeMap<String, String> {
    c.seen()
        .iter()
        .filter(|e| e["event"] == "message" && e["type"] == "error")
        .filter_map(|e| {
            let id = e["id"].as_str()?.to_string();
            Some((id, e["condition"].as_str().unwrap_or("?").to_string()))
        })
        .collect()
}

/// Where each of the `each` messages of every customer went.
#[derive(Debug, Default)]
pub struct Tally {
    pub once: usize,
    pub bounced: BTreeMap<String, usize>,
    pub twice: Vec<String>,
    pub lost: Vec<String>,
}

impl Tally {
    pub fn of(customers: &[Client], agents: &[Client], each: usize) -> Tally {
        let got = delivered(agents);
        let mut t = Tally::default();
        for (i, cu) in customers.iter().enumerate() {
            let errors = bounced(cu);
            for k in 0..each {
                let body = format!("c{i}-{k}");
                match (got.get(&body), errors.get(&body)) {
                    (Some(1), _) => t.once += 1,
                    (Some(_), _) => t.twice.push(body),
                    (None, Some(why)) => *t.bounced.entry(why.clone()).or_insert(0) += 1,
                    (None, None) => t.lost.push(body),
                }
            }
        }
        t
    }

    pub fn bounced(&self) -> usize {
        self.bounced.values().sum()
    }

    /// Nothing lost silently, nothing twice.
    pub fn assert_sound(&self, what: &str) {
        self.assert_none_lost(what);
        assert!(
            self.twice.is_empty(),
            "{what}: delivered twice: {:?}",
            self.twice
        );
    }

    /// How each of `bodies` reached the agents: the delay stamp of each
    /// copy (`None`: relayed live, not from the transcript).
    pub fn copies(agents: &[Client], bodies: &[String]) -> Vec<(String, Vec<Option<String>>)> {
        bodies
            .iter()
            .map(|b| {
                let stamps = agents
                    .iter()
                    .flat_map(|a| a.seen())
                    .filter(|e| e["event"] == "message" && e["body"] == b.as_str())
                    .map(|e| e["delay"].as_str().map(str::to_string))
                    .collect();
                (b.clone(), stamps)
            })
            .collect()
    }

    /// Each message that reached an agent more than once arrived every
    /// time under its one id, from the same proxy JID: what a client that
    /// keeps the ids it showed (XEP-0359's reason for stable ids) shows
    /// once. And it was stored once: one copy relayed live, the others
    /// from the transcript after the crash, with their delay stamps.
    pub fn assert_copies_share_their_id(&self, agents: &[Client]) {
        for b in &self.twice {
            let copies: Vec<(Option<&str>, Option<&str>)> = agents
                .iter()
                .flat_map(|a| a.seen())
                .filter(|e| e["event"] == "message" && e["body"] == b.as_str())
                .map(|e| (e["id"].as_str(), e["from"].as_str()))
                .collect();
            assert!(
                copies[0].0.is_some() && copies.iter().all(|c| *c == copies[0]),
                "{b} reached the agents as different messages: {copies:?}"
            );
            let live = Tally::copies(agents, std::slice::from_ref(b))[0]
                .1
                .iter()
                .filter(|stamp| stamp.is_none())
                .count();
            assert!(live <= 1, "{b} was stored more than once: {copies:?}");
        }
    }

    /// Nothing lost silently.
    pub fn assert_none_lost(&self, what: &str) {
        eprintln!(
            "{what}: {} delivered once, {} bounced to their senders {:?}, {} twice, {} lost",
            self.once,
            self.bounced(),
            self.bounced,
            self.twice.len(),
            self.lost.len()
        );
        assert!(
            self.lost.is_empty(),
            "{what}: lost silently: {:?}",
            self.lost
        );
    }
}
