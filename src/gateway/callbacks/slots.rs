//! Whether a callback can be made at the time a customer asks for, and if
//! not, the nearest times it can: pure, over the capable agents' schedules
//! and the callbacks already booked. Time is cut into slots of
//! `slot` length from the epoch; an agent takes `per_slot` callbacks in a
//! slot, and only in one they work through from the asked time to a slot
//! later (the talk needs the time).

use crate::config::{Calendar, CallbacksConfig, Schedule};

/// One agent who could make the callback.
pub(crate) struct Capable<'a> {
    pub jid: &'a str,
    pub schedule: &'a Schedule,
}

/// What the customer asked for.
pub(crate) struct Ask<'a> {
    pub at_ms: i64,
    /// A named agent (or the one they spoke with); None: anyone.
    pub agent: Option<&'a str>,
}

/// A time with an agent, as proposed or booked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Slot {
    pub agent: String,
    pub at_ms: i64,
}

/// Why the asked time cannot be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    Past,
    Beyond,
    /// The named agent does not work then.
    OffHours,
    /// The named agent's slot is full.
    Full,
    /// Nobody capable works then with room.
    Nobody,
}

pub(crate) enum Verdict {
    Free(Slot),
    Refused(Refusal),
}

/// What is known when deciding: the settings, the queue's hours (for
/// agents without their own), who is capable, and what is booked.
pub(crate) struct Book<'a> {
    pub cfg: &'a CallbacksConfig,
    pub queue_hours: Option<&'a Calendar>,
    pub agents: &'a [Capable<'a>],
    /// (agent, due) of every open booking, the one being moved left out.
    pub booked: &'a [(&'a str, i64)],
    pub now_ms: i64,
}

impl Book<'_> {
    fn slot_ms(&self) -> i64 {
        (self.cfg.slot.as_millis() as i64).max(60_000)
    }

    fn slot_of(&self, at_ms: i64) -> i64 {
        at_ms.div_euclid(self.slot_ms())
    }

    fn works(&self, a: &Capable<'_>, at_ms: i64) -> bool {
        let (Ok(from), Ok(to)) = (
            jiff::Timestamp::from_millisecond(at_ms),
            jiff::Timestamp::from_millisecond(at_ms + self.slot_ms()),
        ) else {
            return false;
        };
        a.schedule.works(self.queue_hours, from, to)
    }

    fn load(&self, agent: &str, at_ms: i64) -> usize {
        let slot = self.slot_of(at_ms);
        self.booked
            .iter()
            .filter(|(a, due)| *a == agent && self.slot_of(*due) == slot)
            .count()
    }

    fn has_room(&self, a: &Capable<'_>, at_ms: i64) -> bool {
        self.load(a.jid, at_ms) < self.cfg.per_slot as usize && self.works(a, at_ms)
    }

    fn horizon_end(&self) -> i64 {
        self.now_ms + self.cfg.horizon.as_millis() as i64
    }

    /// The asked time, with the asked agent or the least loaded capable
    /// one (ties: file order).
    pub(crate) fn check(&self, ask: &Ask<'_>) -> Verdict {
        if ask.at_ms < self.now_ms {
            return Verdict::Refused(Refusal::Past);
        }
        if ask.at_ms > self.horizon_end() {
            return Verdict::Refused(Refusal::Beyond);
        }
        if let Some(name) = ask.agent {
            let Some(a) = self.agents.iter().find(|a| a.jid == name) else {
                return Verdict::Refused(Refusal::Nobody);
            };
            if !self.works(a, ask.at_ms) {
                return Verdict::Refused(Refusal::OffHours);
            }
            if !self.has_room(a, ask.at_ms) {
                return Verdict::Refused(Refusal::Full);
            }
            return Verdict::Free(Slot {
                agent: a.jid.to_string(),
                at_ms: ask.at_ms,
            });
        }
        self.agents
            .iter()
            .filter(|a| self.has_room(a, ask.at_ms))
            .min_by_key(|a| self.load(a.jid, ask.at_ms))
            .map(|a| {
                Verdict::Free(Slot {
                    agent: a.jid.to_string(),
                    at_ms: ask.at_ms,
                })
            })
            .unwrap_or(Verdict::Refused(Refusal::Nobody))
    }

    /// Up to `n` free slot starts nearest to `around_ms`, later ones first
    /// on ties, with `agent` if given (else anyone), never before now
    /// nor past the horizon.
    pub(crate) fn nearest(&self, around_ms: i64, agent: Option<&str>, n: usize) -> Vec<Slot> {
        let step = self.slot_ms();
        let first = (self.now_ms + step - 1).div_euclid(step) * step;
        let last = self.horizon_end();
        let start = around_ms.clamp(first, last).div_euclid(step) * step;
        let start = start.max(first);
        let mut found = Vec::new();
        let (mut later, mut earlier) = (start, start - step);
        while found.len() < n && (later <= last || earlier >= first) {
            for at in [later, earlier] {
                if at < first || at > last || found.len() >= n {
                    continue;
                }
                let free = self
                    .agents
                    .iter()
                    .filter(|a| agent.is_none_or(|x| x == a.jid))
                    .filter(|a| self.has_room(a, at))
                    .min_by_key(|a| self.load(a.jid, at));
                if let Some(a) = free {
                    found.push(Slot {
                        agent: a.jid.to_string(),
                        at_ms: at,
                    });
                }
            }
            later += step;
            earlier -= step;
        }
        found.sort_by_key(|s| s.at_ms);
        found
    }

    /// What to propose instead of a refused time: the asked agent's
    /// nearest, then others' (two at most when an agent was asked for).
    pub(crate) fn alternatives(&self, ask: &Ask<'_>) -> Vec<Slot> {
        match ask.agent {
            Some(name) => {
                let mut out = self.nearest(ask.at_ms, Some(name), 3);
                let others: Vec<Slot> = self
                    .nearest(ask.at_ms, None, 6)
                    .into_iter()
                    .filter(|s| s.agent != name && !out.contains(s))
                    .take(2)
                    .collect();
                out.extend(others);
                out
            }
            None => self.nearest(ask.at_ms, None, 3),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    fn cfg(per_slot: u32) -> CallbacksConfig {
        CallbacksConfig {
            enabled: true,
            per_slot,
            ..CallbacksConfig::default()
        }
    }

    #[test]
    fn a_full_slot_refuses_and_the_nearest_free_ones_are_proposed() {
        let (s, cfg) = (Schedule::default(), cfg(1));
        let agents = [
            Capable {
                jid: "alice",
                schedule: &s,
            },
            Capable {
                jid: "bob",
                schedule: &s,
            },
        ];
        let now = 1_000 * 15 * MIN;
        let at = now + 60 * MIN;
        let booked = [("alice", at + MIN)];
        let book = Book {
            cfg: &cfg,
            queue_hours: None,
            agents: &agents,
            booked: &booked,
            now_ms: now,
        };
        let ask = Ask {
            at_ms: at,
            agent: Some("alice"),
        };
        assert!(matches!(book.check(&ask), Verdict::Refused(Refusal::Full)));
        let alt = book.alternatives(&ask);
        // Alice's three nearest, in time order, then Bob at the time asked.
        let alice: Vec<i64> = alt
            .iter()
            .filter(|s| s.agent == "alice")
            .map(|s| s.at_ms)
            .collect();
        assert_eq!(alice, [at - 30 * MIN, at - 15 * MIN, at + 15 * MIN]);
        assert!(
            alt.iter().any(|s| s.agent == "bob" && s.at_ms == at),
            "{alt:?}"
        );
        // Anyone: Bob has room at that time.
        let any = Ask {
            at_ms: at,
            agent: None,
        };
        assert!(
            matches!(book.check(&any), Verdict::Free(Slot { ref agent, .. }) if agent == "bob")
        );
        let past = Ask {
            at_ms: now - 1,
            agent: None,
        };
        assert!(matches!(book.check(&past), Verdict::Refused(Refusal::Past)));
        let far = Ask {
            at_ms: now + 8 * 1440 * MIN,
            agent: None,
        };
        assert!(matches!(
            book.check(&far),
            Verdict::Refused(Refusal::Beyond)
        ));
    }
}
