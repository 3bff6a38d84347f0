//! XEP-0050 ad-hoc commands on the support domain: the same actions as the
//! text commands, for clients that show commands as dialogs (Gajim,
//! Conversations, Profanity's /cmd). Each command is one form and one
//! submit; the form carries all state, so nothing is kept between. Clients
//! look for commands on their own server, so the router hands over those
//! sent to the agent domain too (see `domain.rs`); they are answered from
//! the JID they were sent to, which is where the client sends the next
//! step.

use jid::Jid;
use minidom::Element;

use super::actor::{bare, Core};
use crate::xml::build::{el, stanza, BuilderExt};
use crate::xml::Condition;
use crate::xml::{ns, Stanza};

const DATA: &str = "jabber:x:data";

/// Each command's node, in the order clients list them.
pub(super) const NODES: &[&str] = &[
    "list",
    "info",
    "take",
    "close",
    "note",
    "transfer",
    "push",
    "canned",
    "duty",
    "link",
    "unlink",
    "history",
    "escalate",
    "category",
    "callbacks",
];

/// Listed for supervisors only, and `forbidden` to anyone else.
const SUPERVISOR_NODES: &[&str] = &["queues", "monitor"];

/// What a client shows for a command.
fn title(node: &str) -> &'static str {
    match node {
        "list" => "My work list",
        "info" => "Session info",
        "take" => "Accept an offered session",
        "close" => "Close a session",
        "note" => "Add a note to a session",
        "transfer" => "Transfer a session",
        "push" => "Show the customer a web page",
        "canned" => "Send a canned answer",
        "duty" => "Go on or off duty",
        "link" => "Link the customer to another identity",
        "unlink" => "Unlink an identity from the customer",
        "history" => "The customer's earlier sessions",
        "escalate" => "Escalate a session to the second level",
        "category" => "Correct an escalated session's category",
        "callbacks" => "My callbacks",
        "queues" => "Queue status",
        "monitor" => "Monitor a session",
        _ => "",
    }
}

impl Core {
    /// A command or the command list, sent to the support domain or (`to`)
    /// the agent domain.
    pub(super) async fn adhoc(&mut self, from: &Jid, to: &Jid, s: &Stanza) {
        let agent = bare(from).to_string();
        let Ok(tree) = s.element() else { return };
        let listing = tree.has_child("query", ns::DISCO_ITEMS);
        let mut items = el("query", ns::DISCO_ITEMS).a("node", ns::COMMANDS);
        if !self.is_agent(&agent) {
            // The agent domain is every local account's server and
            // announces commands to all; XEP-0050 lets a responder list
            // only what the requester may run: nothing, for a non-agent.
            if listing && to.domain().as_str() == self.agent_domain {
                return self.result(s, Some(items.build())).await;
            }
            return self
                .bounce(s, Condition::Forbidden, Some("for agents only"))
                .await;
        }
        let supervisor = self.is_supervisor(&agent);
        if listing {
            let extra = if supervisor { SUPERVISOR_NODES } else { &[] };
            for node in NODES.iter().chain(extra) {
                items = items.append(
                    el("item", ns::DISCO_ITEMS)
                        // Where they were asked for: clients run a command
                        // at its item's JID.
                        .a("jid", to.as_str())
                        .a("node", *node)
                        .a("name", title(node))
                        .build(),
                );
            }
            return self.result(s, Some(items.build())).await;
        }
        let Some(cmd) = tree.get_child("command", ns::COMMANDS) else {
            return;
        };
        let node = cmd.attr("node").unwrap_or("").to_string();
        if SUPERVISOR_NODES.contains(&node.as_str()) && !supervisor {
            return self
                .bounce(s, Condition::Forbidden, Some("for supervisors only"))
                .await;
        }
        if !NODES.contains(&node.as_str()) && !SUPERVISOR_NODES.contains(&node.as_str()) {
            return self.bounce(s, Condition::ItemNotFound, None).await;
        }
        if cmd.attr("action") == Some("cancel") {
            return self
                .result(s, Some(done(&node, cmd, "canceled", None)))
                .await;
        }
        let submitted = cmd
            .get_child("x", DATA)
            .filter(|x| x.attr("type") == Some("submit"));
        let reply = match (node.as_str(), submitted) {
            ("list", _) => done(&node, cmd, "completed", Some(&self.work_of(&agent))),
            ("callbacks", _) => done(&node, cmd, "completed", Some(&self.callbacks_list(&agent))),
            ("queues", _) => {
                let text = format!("{}\n\n{}", self.queues_report(), self.agents_report());
                done(&node, cmd, "completed", Some(&text))
            }
            ("monitor", Some(x)) => {
                let id = value(x, "session").unwrap_or_default();
                let text = self
                    .supervise(&agent, "monitor", &id, None)
                    .await
                    .unwrap_or_default();
                done(&node, cmd, "completed", Some(&text))
            }
            (_, None) => self.form(&agent, &node, cmd),
            ("duty", Some(x)) => {
                let on = value(x, "duty").as_deref() != Some("off");
                let text = self.duty(&agent, on).await;
                done(&node, cmd, "completed", Some(&text))
            }
            (_, Some(x)) => {
                let id = value(x, "session").unwrap_or_default();
                let mut arg = value(x, "text").unwrap_or_default();
                if let Some(title) = value(x, "title").filter(|t| !t.is_empty()) {
                    arg = format!("{arg} {title}");
                }
                let text = self.action(&agent, &id, &node, &arg).await;
                done(&node, cmd, "completed", Some(&text))
            }
        };
        self.result(s, Some(reply)).await;
    }

    /// The form of a command: which session (of this agent's), and text
    /// where the action takes some.
    fn form(&self, agent: &str, node: &str, cmd: &Element) -> Element {
        let mut x = el("x", DATA)
            .a("type", "form")
            .append(el("title", DATA).append(title(node)).build());
        if node == "duty" {
            x = x.append(list_single(
                "duty",
                "Duty",
                &[("on", "On duty"), ("off", "Off duty")],
            ));
        } else {
            // A supervisor monitors anyone's session; the others act on theirs.
            let every = node == "monitor";
            let mut mine: Vec<(String, String)> = self
                .state
                .sessions()
                .filter(|s| every || s.rec().agent.as_deref() == Some(agent))
                .map(|s| {
                    (
                        s.rec().id.clone(),
                        format!("{} ({})", s.rec().customer_jid, s.rec().state.as_str()),
                    )
                })
                .collect();
            mine.sort();
            let opts: Vec<(&str, &str)> =
                mine.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
            x = x.append(list_single("session", "Session", &opts));
            if node == "canned" {
                let canned: Vec<(&str, String)> = self
                    .dir
                    .dialogs()
                    .canned()
                    .iter()
                    .map(|c| {
                        let label = match &c.description {
                            Some(d) => format!("{} — {d}", c.name),
                            None => c.name.clone(),
                        };
                        (c.name.as_str(), label)
                    })
                    .collect();
                let opts: Vec<(&str, &str)> =
                    canned.iter().map(|(a, b)| (*a, b.as_str())).collect();
                x = x.append(list_single("text", "Canned answer", &opts));
            }
            let fields: &[(&str, &str, bool)] = match node {
                "note" => &[("text", "Note", true)],
                "escalate" => &[("text", "Note for the second level", true)],
                "category" => &[("text", "Category", true)],
                "transfer" => &[("text", "Agent or queue", true)],
                "push" => &[
                    ("text", "Page address (https://…)", true),
                    ("title", "Title shown to the customer", false),
                ],
                "link" => &[("text", "Customer JID or session id (s-…)", true)],
                "unlink" => &[(
                    "text",
                    "JID to unlink (empty: this session's customer)",
                    false,
                )],
                _ => &[],
            };
            for (var, label, required) in fields {
                let mut f = el("field", DATA)
                    .a("var", *var)
                    .a("type", "text-single")
                    .a("label", *label);
                if *required {
                    f = f.append(el("required", DATA).build());
                }
                x = x.append(f.build());
            }
        }
        el("command", ns::COMMANDS)
            .a("node", node)
            .a("sessionid", session_of(cmd).as_str())
            .a("status", "executing")
            .append(
                el("actions", ns::COMMANDS)
                    .a("execute", "complete")
                    .append(el("complete", ns::COMMANDS).build())
                    .build(),
            )
            .append(x.build())
            .build()
    }

    async fn result(&self, s: &Stanza, payload: Option<Element>) {
        let mut b = el("iq", ns::CLIENT)
            .a("type", "result")
            .a("id", s.id().unwrap_or(""))
            .a("from", s.to().unwrap_or(&self.support))
            .a("to", s.from().unwrap_or(""));
        if let Some(p) = payload {
            b = b.append(p);
        }
        self.route(stanza(b)).await;
    }
}

fn session_of(cmd: &Element) -> String {
    cmd.attr("sessionid")
        .map(str::to_string)
        .unwrap_or_else(|| crate::util::random_id(10))
}

fn done(node: &str, cmd: &Element, status: &str, text: Option<&str>) -> Element {
    let mut b = el("command", ns::COMMANDS)
        .a("node", node)
        .a("sessionid", session_of(cmd).as_str())
        .a("status", status);
    if let Some(t) = text {
        b = b.append(el("note", ns::COMMANDS).a("type", "info").append(t).build());
    }
    b.build()
}

fn list_single(var: &str, label: &str, options: &[(&str, &str)]) -> Element {
    let mut f = el("field", DATA)
        .a("var", var)
        .a("type", "list-single")
        .a("label", label)
        .append(el("required", DATA).build());
    for (value, label) in options {
        f = f.append(
            el("option", DATA)
                .a("label", *label)
                .append(el("value", DATA).append(*value).build())
                .build(),
        );
    }
    f.build()
}

fn value(x: &Element, var: &str) -> Option<String> {
    x.children()
        .find(|f| f.is("field", DATA) && f.attr("var") == Some(var))
        .and_then(|f| f.get_child("value", DATA))
        .map(|v| v.text().trim().to_string())
}
