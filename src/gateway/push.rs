//! Page push: during a chat, an agent shows the customer a web page
//! (`/push URL [title]`, or the ad-hoc command "push"). The customer gets
//! it from the entry JID as a line of text carrying the address, with an
//! XEP-0066 link and its title, which XMPP clients show as a link; the web
//! chat opens it beside the conversation, knowing it from the
//! `urn:switchboard:push:0` mark. The line is stored in the transcript
//! before it is sent, like everything an agent writes.

use url::Url;

use super::actor::Core;
use super::adapt::adapt;
use super::journal::Entry;
use crate::config::Text;
use crate::store::{Direction, NewMessage, SessionState};
use crate::xml::build::{el, stanza, BuilderExt};
use crate::xml::ns;

/// Longer addresses are refused: no page worth pushing needs one, and a
/// customer's client may cut it.
const MAX_URL: usize = 2000;
const MAX_TITLE: usize = 200;

pub(super) const USAGE: &str = "Usage: /push URL [title], for example \
     /push https://example.com/help/reset Resetting your password";

/// Why an address cannot be pushed, as the agent is told.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(super) enum PushError {
    #[error("{USAGE}")]
    Missing,
    #[error("That is not a web address ({0}). {USAGE}")]
    Unreadable(String),
    #[error("Only http and https pages can be pushed, not {0}:.")]
    Scheme(String),
    #[error("A pushed address must not carry a user name or password.")]
    Credentials,
    #[error("The address is longer than {MAX_URL} characters.")]
    TooLong,
}

/// A page to push: the address checked, and the title to show.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Page {
    pub url: Url,
    pub title: String,
}

/// Reads `URL [title]`. Without a title, the site's name is shown.
pub(super) fn page(arg: &str) -> Result<Page, PushError> {
    let arg = arg.trim();
    let (raw, title) = arg.split_once(char::is_whitespace).unwrap_or((arg, ""));
    if raw.is_empty() {
        return Err(PushError::Missing);
    }
    if raw.len() > MAX_URL {
        return Err(PushError::TooLong);
    }
    let url = Url::parse(raw).map_err(|e| PushError::Unreadable(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(PushError::Scheme(url.scheme().to_string()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(PushError::Credentials);
    }
    let host = url.host_str().unwrap_or_default().to_string();
    let title: String = title
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_TITLE)
        .collect();
    let title = match title.trim() {
        "" => host,
        t => t.to_string(),
    };
    Ok(Page { url, title })
}

impl Core {
    /// Pushes a page to session `id`'s customer for `agent`, whose session
    /// it is (the caller checked); the reply to show the agent.
    pub(super) async fn push(&mut self, agent: &str, id: &str, arg: &str) -> String {
        let page = match page(arg) {
            Ok(p) => p,
            Err(e) => return e.to_string(),
        };
        let Some(sess) = self.state.session(id) else {
            return format!("No open session {id}.");
        };
        if !matches!(sess.rec().state, SessionState::Live | SessionState::Async) {
            return "Take the session first (write take), then push.".to_string();
        }
        let name = self
            .dir
            .agent(agent)
            .map(|a| a.name.clone())
            .unwrap_or_default();
        let url = page.url.as_str();
        let body = self.dir.texts().render(
            sess.lang(),
            Text::Pushed,
            &[("name", &name), ("title", &page.title), ("url", url)],
        );
        let (from, to) = (&sess.rec().entry_jid, &sess.rec().customer_jid);
        let mut m = el("message", ns::CLIENT)
            .a("from", from.as_str())
            .a("to", to.as_str())
            .a("type", "chat")
            .a("id", crate::util::random_id(12).as_str())
            .append(el("body", ns::CLIENT).append(body.as_str()).build())
            .append(
                el("x", ns::OOB)
                    .append(el("url", ns::OOB).append(url).build())
                    .append(el("desc", ns::OOB).append(page.title.as_str()).build())
                    .build(),
            )
            .append(el("push", ns::SB_PUSH).build());
        if !name.is_empty() {
            m = m.append(el("nick", ns::NICK).append(name.as_str()).build());
        }
        let m = stanza(m);
        let row = NewMessage {
            session_id: id.to_string(),
            direction: Direction::Out,
            sender: agent.to_string(),
            body: Some(body),
            stanza: String::from_utf8_lossy(m.bytes()).into_owned(),
            created_at: self.clock.now_ms(),
            delivered: true,
        };
        let then = adapt(&m, self.customer_target(id));
        self.journal
            .append(Entry {
                row: Some(row),
                then,
                tracked: 0,
                writer: None,
                receipt: Default::default(),
            })
            .await;
        format!("Pushed to the customer: {} ({url})", page.title)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_and_a_title() {
        let p = page("https://example.com/help?q=1  Reset your password ").unwrap();
        assert_eq!(p.url.as_str(), "https://example.com/help?q=1");
        assert_eq!(p.title, "Reset your password");
        assert_eq!(page("http://example.com").unwrap().title, "example.com");
    }

    #[test]
    fn what_cannot_be_pushed() {
        assert_eq!(page("  "), Err(PushError::Missing));
        assert!(matches!(page("example.com"), Err(PushError::Unreadable(_))));
        assert_eq!(
            page("javascript:alert(1)"),
            Err(PushError::Scheme("javascript".into()))
        );
        assert_eq!(
            page("file:///etc/passwd"),
            Err(PushError::Scheme("file".into()))
        );
        assert_eq!(
            page("https://user:pw@example.com/"),
            Err(PushError::Credentials)
        );
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL));
        assert_eq!(page(&long), Err(PushError::TooLong));
    }

    #[test]
    fn a_title_loses_control_characters_and_is_bounded() {
        let t = format!("https://e.com a\u{7}b{}", "x".repeat(500));
        let p = page(&t).unwrap();
        assert!(p.title.starts_with("ab"));
        assert_eq!(p.title.chars().count(), MAX_TITLE);
    }
}
