//! What Switchboard itself says to customers (their place in the queue,
//! who answers, the farewell, the entry's status), in the customer's
//! language. English and French are built in (`texts/en.toml`,
//! `texts/fr.toml`); `[texts.LANG]` tables in routing.toml override any of
//! them or add a language, and are validated with the rest of the file:
//! an unknown text or a placeholder the text is not given is a problem at
//! its line. A text a language lacks falls back to the default language's.

use std::collections::BTreeMap;

use serde_spanned::Spanned;

use super::parse::placeholder_names;
use super::problem::{LineIndex, Problem};

/// One of the texts, with the placeholders it is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Text {
    Position,
    Unservable,
    NowChatting,
    Closed,
    AgentLeft,
    Transferred,
    EntryBusy,
    EntryUnstaffed,
    EntryClosed,
    Pushed,
    Reask,
    ReaskChoice,
    TooLong,
    SkipHint,
    KbIntro,
    KbHelpful,
    KbRelated,
    KbSuggest,
    KbNoMatch,
    KbGlad,
    KbSorry,
    KbInvite,
    KbConnect,
    KbStay,
    Escalated,
    SupervisorJoined,
    CallbackOffer,
    CallbackOfferClosed,
    CallbackAsk,
    CallbackUnreadable,
    CallbackPast,
    CallbackBeyond,
    CallbackOffHours,
    CallbackFull,
    CallbackNobody,
    CallbackChoose,
    CallbackUnknownAgent,
    CallbackBooked,
    CallbackList,
    CallbackNone,
    CallbackCancelled,
    CallbackOpening,
    CallbackReplaced,
    CallbackNewTime,
    CallbackFailed,
    CallbackZone,
    CallbackKeepWaiting,
    CallbackNotStored,
}

impl Text {
    pub const ALL: [Text; 48] = [
        Text::Position,
        Text::Unservable,
        Text::NowChatting,
        Text::Closed,
        Text::AgentLeft,
        Text::Transferred,
        Text::EntryBusy,
        Text::EntryUnstaffed,
        Text::EntryClosed,
        Text::Pushed,
        Text::Reask,
        Text::ReaskChoice,
        Text::TooLong,
        Text::SkipHint,
        Text::KbIntro,
        Text::KbHelpful,
        Text::KbRelated,
        Text::KbSuggest,
        Text::KbNoMatch,
        Text::KbGlad,
        Text::KbSorry,
        Text::KbInvite,
        Text::KbConnect,
        Text::KbStay,
        Text::Escalated,
        Text::SupervisorJoined,
        Text::CallbackOffer,
        Text::CallbackOfferClosed,
        Text::CallbackAsk,
        Text::CallbackUnreadable,
        Text::CallbackPast,
        Text::CallbackBeyond,
        Text::CallbackOffHours,
        Text::CallbackFull,
        Text::CallbackNobody,
        Text::CallbackChoose,
        Text::CallbackUnknownAgent,
        Text::CallbackBooked,
        Text::CallbackList,
        Text::CallbackNone,
        Text::CallbackCancelled,
        Text::CallbackOpening,
        Text::CallbackReplaced,
        Text::CallbackNewTime,
        Text::CallbackFailed,
        Text::CallbackZone,
        Text::CallbackKeepWaiting,
        Text::CallbackNotStored,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Text::Position => "position",
            Text::Unservable => "unservable",
            Text::NowChatting => "now_chatting",
            Text::Closed => "closed",
            Text::AgentLeft => "agent_left",
            Text::Transferred => "transferred",
            Text::EntryBusy => "entry_busy",
            Text::EntryUnstaffed => "entry_unstaffed",
            Text::EntryClosed => "entry_closed",
            Text::Pushed => "pushed",
            Text::Reask => "reask",
            Text::ReaskChoice => "reask_choice",
            Text::TooLong => "too_long",
            Text::SkipHint => "skip_hint",
            Text::KbIntro => "kb_intro",
            Text::KbHelpful => "kb_helpful",
            Text::KbRelated => "kb_related",
            Text::KbSuggest => "kb_suggest",
            Text::KbNoMatch => "kb_no_match",
            Text::KbGlad => "kb_glad",
            Text::KbSorry => "kb_sorry",
            Text::KbInvite => "kb_invite",
            Text::KbConnect => "kb_connect",
            Text::KbStay => "kb_stay",
            Text::Escalated => "escalated",
            Text::SupervisorJoined => "supervisor_joined",
            Text::CallbackOffer => "callback_offer",
            Text::CallbackOfferClosed => "callback_offer_closed",
            Text::CallbackAsk => "callback_ask",
            Text::CallbackUnreadable => "callback_unreadable",
            Text::CallbackPast => "callback_past",
            Text::CallbackBeyond => "callback_beyond",
            Text::CallbackOffHours => "callback_off_hours",
            Text::CallbackFull => "callback_full",
            Text::CallbackNobody => "callback_nobody",
            Text::CallbackChoose => "callback_choose",
            Text::CallbackUnknownAgent => "callback_unknown_agent",
            Text::CallbackBooked => "callback_booked",
            Text::CallbackList => "callback_list",
            Text::CallbackNone => "callback_none",
            Text::CallbackCancelled => "callback_cancelled",
            Text::CallbackOpening => "callback_opening",
            Text::CallbackReplaced => "callback_replaced",
            Text::CallbackNewTime => "callback_new_time",
            Text::CallbackFailed => "callback_failed",
            Text::CallbackZone => "callback_zone",
            Text::CallbackKeepWaiting => "callback_keep_waiting",
            Text::CallbackNotStored => "callback_not_stored",
        }
    }

    /// The `{placeholders}` the text may use.
    pub fn params(self) -> &'static [&'static str] {
        match self {
            Text::Position => &["position", "minutes"],
            Text::NowChatting | Text::SupervisorJoined => &["name"],
            Text::EntryBusy => &["minutes"],
            Text::Pushed => &["name", "title", "url"],
            Text::Reask => &["example"],
            Text::ReaskChoice => &["count"],
            Text::TooLong => &["max"],
            Text::CallbackOffer => &["minutes"],
            Text::CallbackAsk => &["zone", "examples", "agents"],
            Text::CallbackUnreadable => &["examples"],
            Text::CallbackPast | Text::CallbackNobody | Text::CallbackCancelled => &["when"],
            Text::CallbackBeyond => &["when", "days"],
            Text::CallbackOffHours | Text::CallbackFull | Text::CallbackBooked => &["name", "when"],
            Text::CallbackChoose => &["menu"],
            Text::CallbackUnknownAgent => &["name", "agents"],
            Text::CallbackList => &["list"],
            Text::CallbackOpening | Text::CallbackNewTime => &["name"],
            Text::CallbackReplaced => &["was", "name"],
            Text::CallbackZone => &["zone"],
            _ => &[],
        }
    }

    fn from_key(key: &str) -> Option<Text> {
        Text::ALL.into_iter().find(|t| t.key() == key)
    }
}

/// `[texts.LANG]` as written: text name → template.
pub(super) type RawTexts = BTreeMap<String, BTreeMap<Spanned<String>, Spanned<String>>>;

/// The texts of every language, built in and overridden.
#[derive(Debug, Clone, PartialEq)]
pub struct Texts {
    /// Lowercase language tag → text → template.
    by_lang: BTreeMap<String, BTreeMap<Text, String>>,
    default: String,
}

const BUILT_IN: &[(&str, &str)] = &[
    ("en", include_str!("texts/en.toml")),
    ("fr", include_str!("texts/fr.toml")),
];

impl Texts {
    /// The built-in languages only, `default` the fallback.
    pub fn built_in(default: &str) -> Texts {
        let mut by_lang = BTreeMap::new();
        for (lang, text) in BUILT_IN {
            // Checked by a test: every built-in file parses and is complete.
            let table: BTreeMap<String, String> = toml::from_str(text).unwrap_or_default();
            let texts = table
                .iter()
                .filter_map(|(k, v)| Some((Text::from_key(k)?, v.clone())))
                .collect();
            by_lang.insert(lang.to_string(), texts);
        }
        Texts {
            by_lang,
            default: default.to_ascii_lowercase(),
        }
    }

    /// The built-in texts with routing.toml's `[texts.LANG]` over them.
    pub(super) fn parse(
        lines: &LineIndex,
        raw: &RawTexts,
        default: &Spanned<String>,
        problems: &mut Vec<Problem>,
    ) -> Texts {
        let mut texts = Texts::built_in(default.get_ref());
        for (lang, table) in raw {
            let tag = lang.to_ascii_lowercase();
            let lang_ok = !tag.is_empty()
                && tag.split('-').all(|p| {
                    (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric())
                });
            for (key, template) in table {
                if !lang_ok {
                    problems.push(lines.problem(
                        key,
                        &format!("[texts.{lang}]: not a language tag such as en, fr or pt-BR"),
                    ));
                    break;
                }
                let Some(text) = Text::from_key(key.get_ref()) else {
                    let known: Vec<&str> = Text::ALL.iter().map(|t| t.key()).collect();
                    problems.push(lines.problem(
                        key,
                        &format!(
                            "[texts.{lang}]: no text is called '{}' (there are: {})",
                            key.get_ref(),
                            known.join(", ")
                        ),
                    ));
                    continue;
                };
                if let Err(m) = check_placeholders(text, template.get_ref()) {
                    problems.push(
                        lines.problem(template, &format!("[texts.{lang}] {}: {m}", text.key())),
                    );
                    continue;
                }
                texts
                    .by_lang
                    .entry(tag.clone())
                    .or_default()
                    .insert(text, template.get_ref().clone());
            }
        }
        if !texts.by_lang.contains_key(&texts.default) {
            problems.push(lines.problem(
                default,
                &format!(
                    "language '{}' has no texts: the built-in ones are en and fr, or add [texts.{}]",
                    default.get_ref(),
                    default.get_ref()
                ),
            ));
        }
        texts
    }

    /// The languages with texts (built in or from `[texts.LANG]`).
    pub fn languages(&self) -> impl Iterator<Item = &str> {
        self.by_lang.keys().map(String::as_str)
    }

    /// The language texts are in by default (routing.toml `language`).
    pub fn default_language(&self) -> &str {
        &self.default
    }

    /// `text` in `lang` (a tag as the customer's client sent it: "fr-CA"
    /// falls back to "fr", then to the default language), with `args`
    /// put in for its placeholders.
    pub fn render(&self, lang: Option<&str>, text: Text, args: &[(&str, &str)]) -> String {
        let mut candidates: Vec<String> = Vec::new();
        if let Some(l) = lang {
            let l = l.to_ascii_lowercase();
            let mut tag = l.as_str();
            loop {
                candidates.push(tag.to_string());
                match tag.rfind('-') {
                    Some(i) => tag = &tag[..i],
                    None => break,
                }
            }
        }
        candidates.push(self.default.clone());
        candidates.push("en".into());
        let template = candidates
            .iter()
            .find_map(|l| self.by_lang.get(l)?.get(&text))
            .map(String::as_str)
            .unwrap_or_default();
        let mut out = template.to_string();
        for (name, value) in args {
            out = out.replace(&format!("{{{name}}}"), value);
        }
        out
    }
}

/// Every `{name}` in `template` is one the text is given.
fn check_placeholders(text: Text, template: &str) -> Result<(), String> {
    for name in placeholder_names(template)? {
        if !text.params().contains(&name) {
            let given = if text.params().is_empty() {
                "none".to_string()
            } else {
                text.params().join(", ")
            };
            return Err(format!(
                "{{{name}}} is not given to this text (it has: {given})"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_language_has_every_text_with_known_placeholders() {
        for (lang, text) in BUILT_IN {
            let table: BTreeMap<String, String> = toml::from_str(text).unwrap();
            for t in Text::ALL {
                let template = table
                    .get(t.key())
                    .unwrap_or_else(|| panic!("{lang} lacks {}", t.key()));
                check_placeholders(t, template)
                    .unwrap_or_else(|e| panic!("{lang} {}: {e}", t.key()));
            }
            assert_eq!(table.len(), Text::ALL.len(), "{lang} has unknown texts");
        }
    }

    #[test]
    fn a_regional_tag_falls_back_to_its_language_then_to_the_default() {
        let t = Texts::built_in("en");
        let args = [("name", "Alice")];
        assert_eq!(
            t.render(Some("fr-CA"), Text::NowChatting, &args),
            "Vous discutez maintenant avec Alice."
        );
        assert_eq!(
            t.render(Some("de"), Text::NowChatting, &args),
            "You are now chatting with Alice."
        );
        assert_eq!(
            t.render(None, Text::NowChatting, &args),
            "You are now chatting with Alice."
        );
        let fr = Texts::built_in("fr");
        assert_eq!(
            fr.render(None, Text::Closed, &[]),
            "Cette conversation est terminée. Écrivez-nous quand vous voulez."
        );
    }
}
