//! What the web channel's tests ask of an agent's client: one that shows
//! chat states, receipts and links, the contact of each new session, and
//! the lines it is sent.

use super::{Client, ClientOpts, TIMEOUT};
use serde_json::Value;

/// An agent's client that shows chat states, receipts and links, as Gajim
/// or Conversations do: the bridge passes those on to it.
pub fn rich_agent() -> ClientOpts {
    let mut opts = ClientOpts::default();
    for f in [
        "http://jabber.org/protocol/chatstates",
        "urn:xmpp:receipts",
        "jabber:x:oob",
    ] {
        opts.args.extend(["--feature".to_string(), f.to_string()]);
    }
    opts
}

/// The next work-list push that adds a session: its proxy JID.
pub async fn new_session(agent: &mut Client) -> String {
    let e = agent
        .expect_what(
            "a work list push",
            |e| {
                e["event"] == "roster_push"
                    && e["items"][0]["jid"]
                        .as_str()
                        .is_some_and(|j| j.starts_with("s-"))
                    && e["items"][0]["subscription"] != "remove"
            },
            TIMEOUT,
        )
        .await;
    e["items"][0]["jid"].as_str().unwrap().to_string()
}

/// The next message whose body contains `text`.
pub async fn line_with(c: &mut Client, text: &str) -> Value {
    c.expect_what(
        &format!("a message containing {text:?}"),
        |e| e["event"] == "message" && e["body"].as_str().is_some_and(|b| b.contains(text)),
        TIMEOUT,
    )
    .await
}
