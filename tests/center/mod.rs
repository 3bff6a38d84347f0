//! A contact center for the identification and rules tests: Switchboard
//! with agents Alice (XMPP only) and Bob (XMPP and SMS), accepting an SMS
//! transport as a component, optionally federated with a Prosody that hosts
//! the customers. `mod center;` next to `mod common;` in a test file.
#![allow(dead_code)]

use super::common::{
    loopback_ips, Client, ClientOpts, Db, Prosody, ProsodyOpts, ServerOpts, TestServer, TIMEOUT,
};
use serde_json::Value;

pub const ALICE: &str = "alice@agents.support.test";
pub const BOB: &str = "bob@agents.support.test";
pub const JULIET: &str = "juliet@customer.test";
pub const ROMEO: &str = "romeo@customer.test";
pub const MERCUTIO: &str = "mercutio@customer.test";
pub const HELP: &str = "help@support.test";
pub const SMS: &str = "sms.support.test";
pub const SECRET: &str = "s3cret-sms-transport";
pub const PW: &str = "pw";

/// Alice serves XMPP customers only; Bob serves SMS too.
pub const AGENTS: &str = "[[agent]]\njid = \"alice@agents.support.test\"\nname = \"Alice\"\n\
     protocols = [\"xmpp\"]\nmax_live = 3\n\n\
     [[agent]]\njid = \"bob@agents.support.test\"\nname = \"Bob\"\n\
     protocols = [\"xmpp\", \"sms\"]\nmax_live = 3\n";

pub const ROUTING: &str = "[defaults]\nassign = \"direct\"\n\n[[queue]]\nname = \"general\"\n\
     entry = [\"help@support.test\"]\n";

pub struct Center {
    pub sb: TestServer,
    pub prosody: Option<Prosody>,
}

/// Switchboard accepting the SMS transport, optionally federated with a
/// Prosody hosting customer.test.
pub fn center(db: Db, routing: &str, with_prosody: bool) -> Center {
    center_with(db, AGENTS, routing, with_prosody)
}

/// [`center`] with other agents.
pub fn center_with(db: Db, agents: &str, routing: &str, with_prosody: bool) -> Center {
    center_full(db, agents, routing, None, with_prosody)
}

/// [`center_with`] and a dialogs.toml.
pub fn center_full(
    db: Db,
    agents: &str,
    routing: &str,
    dialogs: Option<&str>,
    with_prosody: bool,
) -> Center {
    let mut opts = ServerOpts::default();
    if let Some(d) = dialogs {
        opts = opts.dialogs_toml(d);
    }
    center_from(db, opts, agents, routing, with_prosody)
}

/// [`center_full`] from options a test made (more accounts, more files).
pub fn center_from(
    db: Db,
    opts: ServerOpts,
    agents: &str,
    routing: &str,
    with_prosody: bool,
) -> Center {
    let ips = loopback_ips(2);
    let (sb_ip, p_ip) = (&ips[0], &ips[1]);
    let sb = TestServer::start(
        opts.db(db)
            .account(ALICE, PW)
            .account(BOB, PW)
            .agents_toml(agents)
            .routing_toml(routing)
            .ca_file("certs/ca.crt")
            .s2s_listen(&format!("{sb_ip}:5269"))
            .s2s_host("customer.test", &format!("{p_ip}:5269"))
            .extra_toml(&format!(
                "[component]\nlisten = [\"127.0.0.1:0\"]\n\n\
                 [[component.accept]]\ndomain = \"{SMS}\"\nsecret = \"{SECRET}\"\n"
            )),
    );
    let prosody = with_prosody.then(|| {
        let certs = sb.path().join("certs");
        Prosody::start(
            ProsodyOpts::default()
                .user(JULIET, PW)
                .user(ROMEO, PW)
                .user(MERCUTIO, PW)
                .federated(p_ip, sb_ip, &certs),
        )
    });
    Center { sb, prosody }
}

pub async fn agent(c: &Center, jid: &str) -> Client {
    Client::login(&c.sb, jid, PW, ClientOpts::default()).await
}

/// A customer on the federated Prosody.
pub async fn customer(c: &Center, jid: &str) -> Client {
    let prosody = c.prosody.as_ref().expect("a center with Prosody");
    Client::login(prosody, jid, PW, ClientOpts::default()).await
}

pub async fn transport(c: &Center, args: &[&str]) -> Client {
    Client::transport(c.sb.addr("component"), SMS, SECRET, args).await
}

/// The next message whose body contains `text`.
pub async fn line_containing(c: &mut Client, text: &str) -> Value {
    c.expect_what(
        &format!("a message containing {text:?}"),
        |e| e["event"] == "message" && e["body"].as_str().is_some_and(|b| b.contains(text)),
        TIMEOUT,
    )
    .await
}

pub fn body(e: &Value) -> &str {
    e["body"].as_str().unwrap_or_default()
}
