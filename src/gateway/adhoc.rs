//! XEP-0050 ad-hoc commands on the support domain: the same actions as the
//! text commands, for clients that show commands as dialogs (Gajim,
//! Conversations, Dino, Profanity's /cmd). Each command is one form and
//! one submit; the form carries all state, so nothing is kept between.

use jid::Jid;
use minidom::Element;

use super::actor::{bare, Core};
use crate::xml::build::{el, stanza, BuilderExt};
use crate::xml::Condition;
use crate::xml::{ns, Stanza};

const DATA: &str = "jabber:x:data";

/// (node, name) of each command.
const COMMANDS: &[(&str, &str)] = &[
    ("list", "My work list"),
    ("info", "Session info"),
    ("take", "Accept an offered session"),
    ("close", "Close a session"),
    ("note", "Add a note to a session"),
    ("transfer", "Transfer a session"),
    ("duty", "Go on or off duty"),
];

impl Core {
    pub(super) async fn adhoc(&mut self, from: &Jid, s: &Stanza) {
        let agent = bare(from).to_string();
        let Ok(tree) = s.element() else { return };
        if !self.is_agent(&agent) {
            return self
                .bounce(s, Condition::Forbidden, Some("for agents only"))
                .await;
        }
        if tree.has_child("query", ns::DISCO_ITEMS) {
            let mut items = el("query", ns::DISCO_ITEMS).a("node", ns::COMMANDS);
            for (node, name) in COMMANDS {
                items = items.append(
                    el("item", ns::DISCO_ITEMS)
                        .a("jid", self.support.as_str())
                        .a("node", *node)
                        .a("name", *name)
                        .build(),
                );
            }
            return self.result(s, Some(items.build())).await;
        }
        let Some(cmd) = tree.get_child("command", ns::COMMANDS) else {
            return;
        };
        let node = cmd.attr("node").unwrap_or("").to_string();
        if !COMMANDS.iter().any(|(n, _)| *n == node) {
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
            (_, None) => self.form(&agent, &node, cmd),
            ("duty", Some(x)) => {
                let on = value(x, "duty").as_deref() != Some("off");
                let text = self.duty(&agent, on).await;
                done(&node, cmd, "completed", Some(&text))
            }
            (_, Some(x)) => {
                let id = value(x, "session").unwrap_or_default();
                let arg = value(x, "text").unwrap_or_default();
                let text = self.action(&agent, &id, &node, &arg).await;
                done(&node, cmd, "completed", Some(&text))
            }
        };
        self.result(s, Some(reply)).await;
    }

    /// The form of a command: which session (of this agent's), and text
    /// where the action takes some.
    fn form(&self, agent: &str, node: &str, cmd: &Element) -> Element {
        let mut x = el("x", DATA).a("type", "form").append(
            el("title", DATA)
                .append(
                    COMMANDS
                        .iter()
                        .find(|(n, _)| *n == node)
                        .map_or("", |c| c.1),
                )
                .build(),
        );
        if node == "duty" {
            x = x.append(list_single(
                "duty",
                "Duty",
                &[("on", "On duty"), ("off", "Off duty")],
            ));
        } else {
            let mut mine: Vec<(String, String)> = self
                .state
                .sessions()
                .filter(|s| s.rec().agent.as_deref() == Some(agent))
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
            let label = match node {
                "note" => Some("Note"),
                "transfer" => Some("Agent or queue"),
                _ => None,
            };
            if let Some(label) = label {
                x = x.append(
                    el("field", DATA)
                        .a("var", "text")
                        .a("type", "text-single")
                        .a("label", label)
                        .append(el("required", DATA).build())
                        .build(),
                );
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
