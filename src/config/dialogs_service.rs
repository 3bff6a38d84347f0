//! `[self_service]` and the `[[handoff]]` rules of `dialogs.toml`: the
//! knowledge base loaded from its folder (its articles' problems at their
//! own files and lines), how sure its answers must be, and when a customer
//! in self-service is put through to an agent.

use std::ops::RangeInclusive;
use std::path::Path;

use serde_spanned::Spanned;

use super::dialogs::{HandoffDef, SelfService, Then};
use super::dialogs_file::{RawHandoff, RawSelfService};
use super::dialogs_syntax::Reader;
use super::parse::ranged;
use super::routing::RoutingConfig;
use super::rule_syntax::domain_pattern;
use super::rules::words;
use crate::kb::KnowledgeBase;

const COUNT: RangeInclusive<i64> = 1..=100;

/// Phrases that ask for a person, when the file names none.
const AGENT_WORDS: &[&str] = &[
    "agent",
    "human",
    "person",
    "operator",
    "representative",
    "real person",
    "talk to someone",
    "conseiller",
    "conseillère",
    "humain",
    "une personne",
    "opérateur",
];

impl Reader<'_> {
    pub(super) fn self_service(
        &mut self,
        path: &Path,
        raw: &Spanned<RawSelfService>,
    ) -> Option<SelfService> {
        let s = raw.get_ref();
        let base = path.parent().unwrap_or(Path::new("."));
        let dir = base.join(s.knowledge_base.get_ref());
        let kb = if !dir.is_dir() {
            self.at(
                &s.knowledge_base,
                &format!("knowledge_base: {} is not a folder", dir.display()),
            );
            KnowledgeBase::empty()
        } else {
            match KnowledgeBase::load(&dir) {
                Ok(kb) => kb,
                Err(mut p) => {
                    self.problems.append(&mut p);
                    KnowledgeBase::empty()
                }
            }
        };
        let unit = |r: &mut Reader, v: &Option<Spanned<f64>>, key: &str, default: f32| match v {
            Some(x) if (0.0..=1.0).contains(x.get_ref()) => *x.get_ref() as f32,
            Some(x) => {
                r.at(x, &format!("{key} must be between 0 and 1"));
                default
            }
            None => default,
        };
        let confident = unit(self, &s.confident, "confident", 0.55);
        let relevant = unit(self, &s.relevant, "relevant", 0.2);
        if relevant > confident {
            self.at(
                raw,
                "relevant must not be above confident: a suggestion is less sure than an answer",
            );
        }
        let suggestions = match &s.suggestions {
            Some(n) => ranged(&self.lines, n, 1..=9, "suggestions", &mut self.problems) as usize,
            None => 3,
        };
        let language = match &s.language {
            Some(l) => {
                if !kb.is_empty() && !kb.languages().contains(&l.get_ref().as_str()) {
                    self.at(
                        l,
                        &format!(
                            "language '{}': the knowledge base has no folder for it",
                            l.get_ref()
                        ),
                    );
                }
                l.get_ref().clone()
            }
            None => kb
                .languages()
                .first()
                .map_or("en".to_string(), |l| l.to_string()),
        };
        let agent_words = match &s.agent_words {
            Some(w) => w
                .get_ref()
                .items(w.span())
                .iter()
                .map(|i| words(i.get_ref()))
                .filter(|w| !w.is_empty())
                .collect(),
            None => AGENT_WORDS.iter().map(|w| words(w)).collect(),
        };
        let greeting = s.greeting.as_ref().map(|g| self.text(g, "greeting"));
        Some(SelfService {
            dir,
            kb,
            language,
            confident,
            relevant,
            suggestions,
            greeting,
            agent_words,
        })
    }

    pub(super) fn handoff(
        &mut self,
        raw: &Spanned<RawHandoff>,
        routing: Option<&RoutingConfig>,
    ) -> Option<HandoffDef> {
        let line = self.lines.line_of(raw.span().start);
        let h = raw.get_ref();
        let name = h
            .name
            .as_ref()
            .map_or(format!("handoff at line {line}"), |n| n.get_ref().clone());
        let count = |r: &mut Reader, v: &Option<Spanned<i64>>, key: &str| {
            v.as_ref()
                .map(|n| ranged(&r.lines, n, COUNT, key, &mut r.problems) as u32)
        };
        let unhelpful = count(self, &h.unhelpful, "unhelpful");
        let no_match = count(self, &h.no_match, "no_match");
        let list = |r: &mut Reader, v: &Option<Spanned<super::routing_file::OneOrMany>>| {
            v.as_ref().map(|v| {
                let items = v.get_ref().items(v.span());
                if items.is_empty() {
                    r.at(v, "an empty list: the handoff could never apply");
                }
                items
            })
        };
        let keywords = list(self, &h.keywords).map(|items| {
            items
                .iter()
                .map(|i| words(i.get_ref()))
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
        });
        let domain = list(self, &h.domain).map(|items| {
            items
                .iter()
                .filter_map(|i| match domain_pattern(i.get_ref()) {
                    Ok(p) => Some(p),
                    Err(m) => {
                        self.at(i, &m);
                        None
                    }
                })
                .collect::<Vec<_>>()
        });
        for cal in [&h.open, &h.closed].into_iter().flatten() {
            if routing.is_some_and(|r| r.calendar(cal.get_ref()).is_none()) {
                self.at(cal, &super::rule_syntax::unknown_calendar(cal.get_ref()));
            }
        }
        let frustration_above = h.frustration_above.as_ref().and_then(|f| {
            let v = *f.get_ref();
            if (0.0..1.0).contains(&v) {
                Some(v)
            } else {
                self.at(
                    f,
                    &format!("frustration_above = {v}: give a score from 0 to 1 (0.5 reads as frustrated)"),
                );
                None
            }
        });
        if !h.asks_for_agent
            && unhelpful.is_none()
            && no_match.is_none()
            && keywords.is_none()
            && domain.is_none()
            && h.frustration_above.is_none()
        {
            self.at(raw, &format!("{name}: no trigger: give asks_for_agent, unhelpful, no_match, keywords, domain or frustration_above"));
        }
        let then = match h.then.as_ref().map(|t| t.get_ref().as_str()) {
            None | Some("connect") => Then::Connect,
            Some("invite") => Then::Invite,
            Some("stay") => Then::Stay,
            Some(other) => {
                self.at(
                    h.then.as_ref().expect("some"),
                    &format!("unknown then '{other}': use connect, invite, stay"),
                );
                Then::Connect
            }
        };
        let message = h.message.as_ref().map(|m| self.text(m, "message"));
        if then == Then::Stay && message.is_none() {
            self.at(
                raw,
                &format!("{name}: then = \"stay\" needs a message telling the customer why"),
            );
        }
        Some(HandoffDef {
            name,
            line,
            asks_for_agent: h.asks_for_agent,
            unhelpful,
            no_match,
            keywords,
            domain,
            open: h.open.as_ref().map(|o| o.get_ref().clone()),
            closed: h.closed.as_ref().map(|c| c.get_ref().clone()),
            frustration_above,
            then,
            message,
        })
    }
}

/// What applies when the file has `[self_service]` but no `[[handoff]]`.
pub(super) fn default_handoff() -> Vec<HandoffDef> {
    let base = |name: &str| HandoffDef {
        name: name.to_string(),
        line: 0,
        asks_for_agent: false,
        unhelpful: None,
        no_match: None,
        keywords: None,
        domain: None,
        open: None,
        closed: None,
        frustration_above: None,
        then: Then::Connect,
        message: None,
    };
    vec![
        HandoffDef {
            asks_for_agent: true,
            ..base("asks-for-agent")
        },
        HandoffDef {
            unhelpful: Some(2),
            then: Then::Invite,
            ..base("unhelpful")
        },
        HandoffDef {
            no_match: Some(2),
            then: Then::Invite,
            ..base("no-match")
        },
    ]
}
