//! Self-service: the knowledge base answers the customer before a person
//! does. Each message is ranked against the articles of the customer's
//! language (their `xml:lang`, or their answer to a `language` question);
//! a confident match is answered with its related questions as a numbered
//! menu, a weaker one offers the best suggestions, and the customer's
//! "no" counts as an answer that did not help. After each message the
//! handoff rules of dialogs.toml decide whether the customer is put
//! through to routing, invited to it, or kept here with a message. Every
//! step is recorded in the session's path, which the agent sees first.

use tracing::info;

use super::actor::Core;
use super::context::Step;
use crate::config::{HandoffFacts, Text, Then};
use crate::kb::{Article, Verdict};

/// What the customer's message says of the last answer.
#[derive(Debug, PartialEq, Eq)]
enum Feedback {
    Helped,
    DidNotHelp,
    Neither,
}

fn feedback(text: &str) -> Feedback {
    let t = text.trim().to_lowercase();
    let first = t
        .split(|c: char| !c.is_alphanumeric() && c != '\'')
        .find(|w| !w.is_empty())
        .unwrap_or("");
    const NO: &[&str] = &["no", "nope", "nah", "non", "pas"];
    const YES: &[&str] = &[
        "yes", "yeah", "yep", "y", "ok", "okay", "thanks", "oui", "merci", "parfait", "super",
    ];
    const DID_NOT: &[&str] = &[
        "didn't help",
        "did not help",
        "not helpful",
        "doesn't help",
        "n'aide pas",
        "pas aidé",
        "ne m'aide pas",
    ];
    if NO.contains(&first) || DID_NOT.iter().any(|p| t.contains(p)) {
        Feedback::DidNotHelp
    } else if YES.contains(&first) {
        Feedback::Helped
    } else {
        Feedback::Neither
    }
}

impl Core {
    /// Self-service begins: the assistant says who it is and takes the
    /// customer's first message as their question.
    pub(super) async fn start_self_service(&mut self, id: &str) {
        let Some(ss) = self.dir.dialogs().self_service().cloned() else {
            return self.end_dialog(id, "no knowledge base is configured").await;
        };
        let greeting = match &ss.greeting {
            Some(g) => self.in_lang(id, g),
            None => self.say(id, Text::KbIntro),
        };
        self.to_customer_text(id, &greeting).await;
        let first = self
            .state
            .session(id)
            .map(|s| s.first_text.clone())
            .unwrap_or_default();
        // A customer whose domain or words call for a person at once.
        if self.handoff(id, &first, false).await {
            return;
        }
        let lang = self.kb_lang(id, &ss.language);
        if let Some(lang) = lang {
            // A first message that is a question is answered; a greeting
            // ("hi") is not a question the assistant failed.
            if !matches!(ss.kb.ask(&lang, &first, &ss.tuning()), Verdict::NoMatch) {
                self.kb_reply(id, &first).await;
            }
        }
    }

    /// A customer's message during self-service (or an invitation).
    pub(super) async fn self_service_input(&mut self, id: &str, text: &str) {
        let Some(p) = self.progress(id).cloned() else {
            return;
        };
        let now = self.clock.now_ms();
        if p.step == Step::Invited {
            match feedback(text) {
                Feedback::Helped => {
                    return self.end_dialog(id, "accepted to chat with an agent").await
                }
                Feedback::DidNotHelp => {
                    self.update(id, |p| {
                        p.declined = true;
                        p.step = Step::SelfService;
                        p.record(now, text, "declined an agent".into());
                    })
                    .await;
                    let line = self.say(id, Text::KbStay);
                    return self.to_customer_text(id, &line).await;
                }
                Feedback::Neither => {
                    self.update(id, |p| p.step = Step::SelfService).await;
                }
            }
        }
        if p.answered.is_some() {
            match feedback(text) {
                Feedback::Helped => {
                    self.update(id, |p| {
                        let what = p.answered.take().unwrap_or_default();
                        p.record(now, text, format!("{what} helped"));
                    })
                    .await;
                    let line = self.say(id, Text::KbGlad);
                    return self.to_customer_text(id, &line).await;
                }
                Feedback::DidNotHelp => {
                    self.update(id, |p| {
                        let what = p.answered.take().unwrap_or_default();
                        p.unhelpful += 1;
                        p.declined = false;
                        p.record(now, text, format!("{what} did not help"));
                    })
                    .await;
                    if self.handoff(id, text, false).await {
                        return;
                    }
                    let line = self.say(id, Text::KbSorry);
                    return self.to_customer_text(id, &line).await;
                }
                Feedback::Neither => self.update(id, |p| p.answered = None).await,
            }
        }
        let asks = self
            .dir
            .dialogs()
            .self_service()
            .is_some_and(|ss| ss.asks_for_agent(text));
        if asks {
            self.update(id, |p| p.record(now, text, "asked for an agent".into()))
                .await;
            if self.handoff(id, text, true).await {
                return;
            }
        }
        // A number from the menu last shown picks that article.
        let picked = text
            .trim()
            .trim_end_matches(['.', ')'])
            .parse::<usize>()
            .ok()
            .and_then(|n| p.menu.get(n.wrapping_sub(1)).cloned());
        match picked {
            Some(article) => self.give_article(id, text, &article).await,
            None => self.kb_reply(id, text).await,
        }
    }

    /// Ranks `text` and answers, suggests, or says nothing matched.
    async fn kb_reply(&mut self, id: &str, text: &str) {
        let Some(ss) = self.dir.dialogs().self_service().cloned() else {
            return;
        };
        let Some(lang) = self.kb_lang(id, &ss.language) else {
            return self.end_dialog(id, "the knowledge base is empty").await;
        };
        let now = self.clock.now_ms();
        match ss.kb.ask(&lang, text, &ss.tuning()) {
            Verdict::Answer(a) => {
                let aid = a.id.clone();
                if self.handoff(id, text, false).await {
                    return;
                }
                self.give_article(id, text, &aid).await;
            }
            Verdict::Suggest(list) => {
                let ids: Vec<String> = list.iter().map(|a| a.id.clone()).collect();
                let mut line = self.say(id, Text::KbSuggest);
                for (i, a) in list.iter().enumerate() {
                    line.push_str(&format!("\n{}. {}", i + 1, a.title));
                }
                let did = format!("suggested {}", ids.join(", "));
                self.update(id, |p| {
                    p.record(now, text, did);
                    p.menu = ids;
                })
                .await;
                if self.handoff(id, text, false).await {
                    return;
                }
                self.to_customer_text(id, &line).await;
            }
            Verdict::NoMatch => {
                self.update(id, |p| {
                    p.no_match += 1;
                    p.declined = false;
                    p.menu.clear();
                    p.record(now, text, "no article matched".into());
                })
                .await;
                if self.handoff(id, text, false).await {
                    return;
                }
                let line = self.say(id, Text::KbNoMatch);
                self.to_customer_text(id, &line).await;
            }
        }
    }

    /// Sends article `aid`: its answer, links, the "did it help?" and its
    /// related questions as the new menu.
    async fn give_article(&mut self, id: &str, said: &str, aid: &str) {
        let Some(ss) = self.dir.dialogs().self_service().cloned() else {
            return;
        };
        let Some(lang) = self.kb_lang(id, &ss.language) else {
            return;
        };
        let Some(a) = ss.kb.article(&lang, aid) else {
            // Gone with a reload of the knowledge base since the menu.
            let line = self.say(id, Text::KbNoMatch);
            return self.to_customer_text(id, &line).await;
        };
        let related: Vec<&Article> = ss.kb.related(a);
        let mut line = format!("{}\n{}", a.title, a.answer);
        for l in &a.links {
            line.push_str(&format!("\n{}: {}", l.title, l.url));
        }
        line.push_str("\n\n");
        line.push_str(&self.say(id, Text::KbHelpful));
        if !related.is_empty() {
            line.push_str("\n\n");
            line.push_str(&self.say(id, Text::KbRelated));
            for (i, r) in related.iter().enumerate() {
                line.push_str(&format!("\n{}. {}", i + 1, r.title));
            }
        }
        let menu: Vec<String> = related.iter().map(|r| r.id.clone()).collect();
        let now = self.clock.now_ms();
        let title = a.title.clone();
        let aid = aid.to_string();
        self.update(id, |p| {
            p.record(now, said, format!("answered with \"{title}\" ({aid})"));
            p.answered = Some(aid);
            p.menu = menu;
        })
        .await;
        self.to_customer_text(id, &line).await;
    }

    /// Applies the first handoff rule that holds now; true when it said or
    /// did something, and the message needs no other reply.
    async fn handoff(&mut self, id: &str, text: &str, asks_for_agent: bool) -> bool {
        let Some(sess) = self.state.session(id) else {
            return false;
        };
        let Some(p) = sess.ctx().dialog.clone() else {
            return false;
        };
        let customer = sess.rec().customer_jid.clone();
        let domain = bare_domain(&customer);
        let facts = HandoffFacts {
            text,
            asks_for_agent,
            unhelpful: p.unhelpful,
            no_match: p.no_match,
            domain,
            frustration: f64::from(sess.mood.frustration),
            now: self.clock.timestamp(),
        };
        let Some(h) = self
            .dir
            .dialogs()
            .handoff(&facts, self.dir.routing().calendars())
            .cloned()
        else {
            return false;
        };
        let message = h.message.as_ref().map(|m| self.in_lang(id, m));
        let now = self.clock.now_ms();
        match h.then {
            Then::Connect => {
                let line = message.unwrap_or_else(|| self.say(id, Text::KbConnect));
                self.to_customer_text(id, &line).await;
                info!(session = %id, handoff = %h.name, "self-service hands over to an agent");
                self.end_dialog(id, &format!("handed over by {}", h.name))
                    .await;
            }
            Then::Invite => {
                if p.declined || p.step == Step::Invited {
                    return false;
                }
                let line = message.unwrap_or_else(|| self.say(id, Text::KbInvite));
                self.update(id, |p| {
                    p.step = Step::Invited;
                    p.record(now, "", format!("invited to an agent by {}", h.name));
                })
                .await;
                self.to_customer_text(id, &line).await;
            }
            Then::Stay => {
                let line = message.unwrap_or_default();
                self.update(id, |p| {
                    p.record(now, "", format!("kept in self-service by {}", h.name))
                })
                .await;
                self.to_customer_text(id, &line).await;
            }
        }
        true
    }

    /// Changes the session's progress and stores it.
    async fn update(&mut self, id: &str, f: impl FnOnce(&mut super::context::Progress)) {
        let Some(mut ctx) = self.state.session(id).map(|s| s.ctx().clone()) else {
            return;
        };
        if let Some(p) = ctx.dialog.as_mut() {
            f(p);
        }
        self.store_ctx(id, ctx).await;
    }

    /// The knowledge base's language for this customer: a `language`
    /// answer, else their own, else the base's default.
    fn kb_lang(&self, id: &str, default: &str) -> Option<String> {
        let ss = self.dir.dialogs().self_service()?;
        let sess = self.state.session(id)?;
        let lang = sess
            .ctx()
            .ident
            .answers
            .get("language")
            .map(String::as_str)
            .or(sess.lang());
        ss.kb.pick_language(lang, default).map(str::to_string)
    }

    fn say(&self, id: &str, text: Text) -> String {
        let lang = self.state.session(id).and_then(|s| s.lang());
        self.dir.texts().render(lang, text, &[])
    }
}

fn bare_domain(jid: &str) -> &str {
    let b = jid.split('/').next().unwrap_or(jid);
    b.rsplit_once('@').map_or(b, |(_, d)| d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_feedback_in_both_languages() {
        assert_eq!(feedback("no"), Feedback::DidNotHelp);
        assert_eq!(feedback("No, that didn't help"), Feedback::DidNotHelp);
        assert_eq!(feedback("non merci"), Feedback::DidNotHelp);
        assert_eq!(feedback("ça ne m'aide pas"), Feedback::DidNotHelp);
        assert_eq!(feedback("yes thanks"), Feedback::Helped);
        assert_eq!(feedback("Oui !"), Feedback::Helped);
        assert_eq!(feedback("how do I return a parcel"), Feedback::Neither);
        assert_eq!(feedback("nothing arrived"), Feedback::Neither);
    }
}
