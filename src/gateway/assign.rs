//! Choosing an agent for a session: pure functions over a snapshot of the
//! agents, so the decision is cheap, deterministic and tested on its own.

use std::collections::BTreeSet;

use jid::BareJid;

/// What an agent's presence allows (`chat`/available → live and
/// async; `away` → async only; `xa`/`dnd`/offline → nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Availability {
    Off,
    AsyncOnly,
    Live,
}

impl Availability {
    /// From a presence `<show/>` (None: plain available) or unavailable.
    pub fn from_show(available: bool, show: Option<&str>) -> Availability {
        match (available, show) {
            (false, _) => Availability::Off,
            (true, None | Some("chat")) => Availability::Live,
            (true, Some("away")) => Availability::AsyncOnly,
            (true, _) => Availability::Off,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Live,
    Async,
}

pub use crate::config::Strategy;

/// No categories: what an agent or a session without any points at.
pub static NO_CATEGORIES: BTreeSet<String> = BTreeSet::new();

/// One agent as the decision sees it.
#[derive(Debug, Clone)]
pub struct AgentView<'a> {
    pub jid: &'a str,
    pub tier: u8,
    pub skills: &'a BTreeSet<String>,
    pub protocols: &'a BTreeSet<String>,
    /// The support categories of escalated sessions the agent handles.
    pub categories: &'a BTreeSet<String>,
    /// What the agent's client can show; None when not known yet, which
    /// counts as able (most clients are, and a silent client should not
    /// take an agent off routing).
    pub features: Option<&'a BTreeSet<String>>,
    pub max_live: u32,
    pub max_async: u32,
    pub availability: Availability,
    pub live: u32,
    pub async_: u32,
    /// When the agent last got or finished a session: longest-idle's key.
    pub idle_since_ms: i64,
}

impl AgentView<'_> {
    fn has_room(&self, mode: Mode) -> bool {
        match mode {
            Mode::Live => self.availability == Availability::Live && self.live < self.max_live,
            Mode::Async => {
                self.availability >= Availability::AsyncOnly && self.async_ < self.max_async
            }
        }
    }
}

/// What a session needs from its agent.
#[derive(Debug, Clone)]
pub struct Need<'a> {
    pub skills: &'a BTreeSet<String>,
    /// Skills a rule asked for on top of the queue's.
    pub extra_skills: &'a BTreeSet<String>,
    pub tier: Option<u8>,
    /// Only these agents (a queue's explicit list), if any.
    pub only: Option<&'a BTreeSet<BareJid>>,
    /// The customer's channel the agent must serve; None: any.
    pub protocol: Option<&'a str>,
    /// Features the agent's client must have (e.g. `oob` for files).
    pub features: &'a BTreeSet<String>,
    /// An escalated session's categories: the agent handles one of them.
    /// Empty: no requirement.
    pub categories: &'a BTreeSet<String>,
    pub mode: Mode,
    /// Agents that already let an offer for this session lapse.
    pub exclude: &'a [String],
    /// The agent the customer spoke with last.
    pub sticky: Option<&'a str>,
}

/// Whether `a` can take a session with `need` right now.
pub fn capable(a: &AgentView, need: &Need) -> bool {
    capable_ignoring_room(a, need) && a.has_room(need.mode)
}

/// Whether `a` could serve a session with `need` at all, whatever their
/// presence and load.
pub fn capable_ignoring_room(a: &AgentView, need: &Need) -> bool {
    need.skills.is_subset(a.skills)
        && need.extra_skills.is_subset(a.skills)
        && need.tier.is_none_or(|t| t == a.tier)
        && need
            .only
            .is_none_or(|o| o.iter().any(|j| j.as_str() == a.jid))
        && need.protocol.is_none_or(|p| a.protocols.contains(p))
        && a.features.is_none_or(|f| need.features.is_subset(f))
        && (need.categories.is_empty() || !need.categories.is_disjoint(a.categories))
        && !need.exclude.iter().any(|j| j == a.jid)
}

/// Picks an agent: the sticky one when it is capable, else by `strategy`
/// among the capable ones. `cursor` carries round-robin's position across
/// calls. Ties break by JID so the outcome does not depend on list order.
pub fn choose(
    agents: &[AgentView],
    need: &Need,
    strategy: Strategy,
    cursor: &mut usize,
) -> Option<usize> {
    if let Some(sticky) = need.sticky {
        if let Some(i) = agents.iter().position(|a| a.jid == sticky) {
            if capable(&agents[i], need) {
                return Some(i);
            }
        }
    }
    let candidates: Vec<usize> = (0..agents.len())
        .filter(|&i| capable(&agents[i], need))
        .collect();
    if candidates.is_empty() {
        return None;
    }
    let load = |a: &AgentView| match need.mode {
        Mode::Live => (a.live, a.async_),
        Mode::Async => (a.async_, a.live),
    };
    let pick = match strategy {
        Strategy::LongestIdle => candidates
            .iter()
            .copied()
            .min_by_key(|&i| (agents[i].idle_since_ms, agents[i].jid)),
        Strategy::LeastBusy => candidates
            .iter()
            .copied()
            .min_by_key(|&i| (load(&agents[i]), agents[i].idle_since_ms, agents[i].jid)),
        Strategy::RoundRobin => {
            let mut sorted = candidates.clone();
            sorted.sort_by_key(|&i| agents[i].jid);
            let i = sorted[*cursor % sorted.len()];
            *cursor = cursor.wrapping_add(1);
            Some(i)
        }
    };
    pick
}

#[cfg(test)]
mod tests {
    use super::*;

    struct A {
        jid: &'static str,
        skills: BTreeSet<String>,
        protocols: BTreeSet<String>,
        categories: BTreeSet<String>,
        availability: Availability,
        live: u32,
        idle: i64,
    }

    fn a(
        jid: &'static str,
        skills: &[&str],
        availability: Availability,
        live: u32,
        idle: i64,
    ) -> A {
        A {
            jid,
            skills: skills.iter().map(|s| s.to_string()).collect(),
            protocols: ["xmpp".to_string()].into(),
            categories: BTreeSet::new(),
            availability,
            live,
            idle,
        }
    }

    fn views(list: &[A]) -> Vec<AgentView<'_>> {
        list.iter()
            .map(|x| AgentView {
                jid: x.jid,
                tier: 1,
                skills: &x.skills,
                protocols: &x.protocols,
                categories: &x.categories,
                features: None,
                max_live: 2,
                max_async: 5,
                availability: x.availability,
                live: x.live,
                async_: 0,
                idle_since_ms: x.idle,
            })
            .collect()
    }

    static EMPTY: BTreeSet<String> = BTreeSet::new();

    fn need<'a>(skills: &'a BTreeSet<String>, mode: Mode, sticky: Option<&'a str>) -> Need<'a> {
        Need {
            skills,
            extra_skills: &EMPTY,
            tier: None,
            only: None,
            protocol: Some("xmpp"),
            features: &EMPTY,
            categories: &EMPTY,
            mode,
            exclude: &[],
            sticky,
        }
    }

    #[test]
    fn skills_presence_and_limits_filter() {
        let list = [
            a("a@x", &["billing"], Availability::Live, 0, 5),
            a("b@x", &[], Availability::Live, 0, 1),
            a("c@x", &["billing"], Availability::AsyncOnly, 0, 0),
            a("d@x", &["billing"], Availability::Live, 2, 0),
        ];
        let v = views(&list);
        let billing: BTreeSet<String> = ["billing".to_string()].into();
        let mut cur = 0;
        let live = choose(
            &v,
            &need(&billing, Mode::Live, None),
            Strategy::LongestIdle,
            &mut cur,
        );
        assert_eq!(
            live.map(|i| v[i].jid),
            Some("a@x"),
            "b lacks the skill, c is away, d is full"
        );
        let asy = choose(
            &v,
            &need(&billing, Mode::Async, None),
            Strategy::LongestIdle,
            &mut cur,
        );
        assert_eq!(
            asy.map(|i| v[i].jid),
            Some("c@x"),
            "away agents take async work"
        );
    }

    #[test]
    fn sticky_wins_when_capable_else_strategy() {
        let list = [
            a("a@x", &[], Availability::Live, 1, 0),
            a("b@x", &[], Availability::Live, 0, 9),
        ];
        let v = views(&list);
        let none = BTreeSet::new();
        let mut cur = 0;
        let pick = |sticky, cur: &mut usize| {
            choose(
                &v,
                &need(&none, Mode::Live, sticky),
                Strategy::LeastBusy,
                cur,
            )
            .map(|i| v[i].jid)
        };
        assert_eq!(pick(Some("a@x"), &mut cur), Some("a@x"));
        assert_eq!(pick(None, &mut cur), Some("b@x"));
        assert_eq!(pick(Some("gone@x"), &mut cur), Some("b@x"));
    }

    #[test]
    fn round_robin_rotates_and_exclusions_hold() {
        let list = [
            a("b@x", &[], Availability::Live, 0, 0),
            a("a@x", &[], Availability::Live, 0, 0),
        ];
        let v = views(&list);
        let none = BTreeSet::new();
        let mut cur = 0;
        let n = need(&none, Mode::Live, None);
        let seq: Vec<&str> = (0..4)
            .map(|_| v[choose(&v, &n, Strategy::RoundRobin, &mut cur).unwrap()].jid)
            .collect();
        assert_eq!(seq, ["a@x", "b@x", "a@x", "b@x"]);
        let excluded = ["a@x".to_string()];
        let n = Need {
            exclude: &excluded,
            ..n
        };
        assert_eq!(
            choose(&v, &n, Strategy::LongestIdle, &mut cur).map(|i| v[i].jid),
            Some("b@x")
        );
    }

    #[test]
    fn protocols_and_client_features_filter() {
        let mut list = [
            a("a@x", &[], Availability::Live, 0, 0),
            a("b@x", &[], Availability::Live, 0, 1),
        ];
        list[1].protocols.insert("sms".into());
        let oob: BTreeSet<String> = ["oob".to_string()].into();
        let plain = BTreeSet::new();
        let mut v = views(&list);
        v[1].features = Some(&plain);
        let none = BTreeSet::new();
        let mut cur = 0;
        let sms = Need {
            protocol: Some("sms"),
            ..need(&none, Mode::Live, None)
        };
        assert_eq!(
            choose(&v, &sms, Strategy::LongestIdle, &mut cur).map(|i| v[i].jid),
            Some("b@x"),
            "only b serves sms"
        );
        let files = Need {
            features: &oob,
            ..need(&none, Mode::Live, None)
        };
        assert_eq!(
            choose(&v, &files, Strategy::RoundRobin, &mut cur).map(|i| v[i].jid),
            Some("a@x"),
            "b's client is known to lack oob; a's is unknown, so able"
        );
        let anyone = Need {
            protocol: None,
            ..need(&none, Mode::Live, None)
        };
        assert!(v.iter().all(|x| capable(x, &anyone)));
    }

    #[test]
    fn presence_maps_to_availability() {
        assert_eq!(Availability::from_show(true, None), Availability::Live);
        assert_eq!(
            Availability::from_show(true, Some("chat")),
            Availability::Live
        );
        assert_eq!(
            Availability::from_show(true, Some("away")),
            Availability::AsyncOnly
        );
        assert_eq!(
            Availability::from_show(true, Some("dnd")),
            Availability::Off
        );
        assert_eq!(Availability::from_show(true, Some("xa")), Availability::Off);
        assert_eq!(Availability::from_show(false, None), Availability::Off);
    }

    #[test]
    fn an_escalated_session_goes_to_an_agent_of_one_of_its_categories() {
        let mut list = [
            a("a@x", &[], Availability::Live, 0, 0),
            a("b@x", &[], Availability::Live, 0, 1),
        ];
        list[1].categories.insert("billing".into());
        let v = views(&list);
        let none = BTreeSet::new();
        let wanted: BTreeSet<String> = ["delivery".to_string(), "billing".to_string()].into();
        let escalated = Need {
            categories: &wanted,
            ..need(&none, Mode::Live, None)
        };
        let mut cur = 0;
        assert_eq!(
            choose(&v, &escalated, Strategy::LongestIdle, &mut cur).map(|i| v[i].jid),
            Some("b@x")
        );
        let other: BTreeSet<String> = ["returns".to_string()].into();
        let nobody = Need {
            categories: &other,
            ..need(&none, Mode::Live, None)
        };
        assert!(choose(&v, &nobody, Strategy::LongestIdle, &mut cur).is_none());
    }
}
