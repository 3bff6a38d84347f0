//! Canned answers: snippets from dialogs.toml that an agent sends into a
//! session as their own message (`/c NAME`, `/canned` to list them, or the
//! ad-hoc command "canned"), with the customer's name, the agent's, the
//! session id and the dialog's answers filled in, in the customer's
//! language. The agent is shown what went out, since their client did not
//! write it.

use std::collections::BTreeMap;

use jid::Jid;

use super::actor::Core;

impl Core {
    /// `/canned`: the names, with their descriptions.
    pub(super) fn canned_list(&self) -> String {
        let all = self.dir.dialogs().canned();
        if all.is_empty() {
            return "No canned answers: add [[canned]] tables to dialogs.toml.".to_string();
        }
        let mut lines = vec!["Canned answers (send one with /c NAME):".to_string()];
        for c in all {
            match &c.description {
                Some(d) => lines.push(format!("{} — {d}", c.name)),
                None => lines.push(c.name.clone()),
            }
        }
        lines.join("\n")
    }

    /// `/c NAME`: sends the snippet to the session's customer as `agent`.
    pub(super) async fn send_canned(&mut self, agent: &str, id: &str, name: &str) -> String {
        let name = name.trim();
        if name.is_empty() {
            return self.canned_list();
        }
        let Some(c) = self.dir.dialogs().canned_answer(name).cloned() else {
            let names: Vec<&str> = self
                .dir
                .dialogs()
                .canned()
                .iter()
                .map(|c| c.name.as_str())
                .collect();
            return if names.is_empty() {
                format!("No canned answer '{name}': dialogs.toml has none.")
            } else {
                format!(
                    "No canned answer '{name}'; there are: {}.",
                    names.join(", ")
                )
            };
        };
        let Some(sess) = self.state.session(id) else {
            return format!("No open session {id}.");
        };
        let mut values: BTreeMap<String, String> = BTreeMap::new();
        let customer = sess
            .ctx()
            .ident
            .name
            .clone()
            .unwrap_or_else(|| sess.rec().customer_jid.clone());
        values.insert("customer".into(), customer);
        let agent_name = self
            .dir
            .agent(agent)
            .map_or(agent.to_string(), |a| a.name.clone());
        values.insert("agent".into(), agent_name);
        values.insert("session".into(), id.to_string());
        for (k, v) in &sess.ctx().ident.answers {
            values.insert(format!("answers.{k}"), v.clone());
        }
        let text = c.render(sess.lang(), self.dir.texts().default_language(), &values);
        let Ok(from) = Jid::new(agent) else {
            return "Not sent: your address is not valid.".to_string();
        };
        let s = super::bridge::chat(agent, &self.proxy_jid(id), &text);
        if self.send_as_agent(&from, id, s, text.clone()).await {
            format!("Sent: {text}")
        } else {
            "Not sent: take the session first (write take).".to_string()
        }
    }
}
