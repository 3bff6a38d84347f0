//! `[callbacks]` of routing.toml: when a waiting customer is offered to be
//! written to later instead, how bookable time is cut into slots, how far
//! ahead and how many per agent, when the agent gets the session before
//! the time, what happens when that agent cannot make it, and which time
//! zone a customer's "tomorrow at 9" is read in until they say theirs.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::time::Duration;

use jiff::tz::TimeZone;
use serde::Deserialize;
use serde_spanned::Spanned;

use super::parse::{choice, ranged, zone};
use super::problem::{LineIndex, Problem};

/// What is done when the booked agent is not there at the time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// Another capable agent makes it; the customer is told who.
    OtherAgent,
    /// The customer is offered new times with the same agent or another.
    NewTime,
}

/// `[callbacks]`, validated. Absent: no callbacks are offered or booked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbacksConfig {
    pub enabled: bool,
    /// Offer when the announced wait is above this; None: not for a wait.
    pub offer_wait_above: Option<Duration>,
    /// Offer when the queue is closed or nobody on duty can serve.
    pub offer_when_closed: bool,
    pub slot: Duration,
    /// How far ahead a callback may be booked.
    pub horizon: Duration,
    /// Callbacks one agent takes in one slot.
    pub per_slot: u32,
    /// How long before the time the agent gets the session.
    pub lead: Duration,
    pub fallback: Fallback,
    /// The zone a customer's times are read in, unless their language has
    /// one below or they name theirs.
    pub timezone: (String, TimeZone),
    pub timezones: BTreeMap<String, (String, TimeZone)>,
}

impl Default for CallbacksConfig {
    fn default() -> Self {
        CallbacksConfig {
            enabled: false,
            offer_wait_above: Some(Duration::from_secs(600)),
            offer_when_closed: true,
            slot: Duration::from_secs(15 * 60),
            horizon: Duration::from_secs(7 * 86_400),
            per_slot: 1,
            lead: Duration::from_secs(120),
            fallback: Fallback::OtherAgent,
            timezone: ("UTC".into(), TimeZone::UTC),
            timezones: BTreeMap::new(),
        }
    }
}

impl CallbacksConfig {
    /// The zone a customer speaking `lang` is assumed to be in.
    pub fn zone_for(&self, lang: Option<&str>) -> &(String, TimeZone) {
        lang.map(|l| l.split('-').next().unwrap_or(l).to_ascii_lowercase())
            .and_then(|l| self.timezones.get(&l))
            .unwrap_or(&self.timezone)
    }
}

const FALLBACKS: &[(&str, Fallback)] = &[
    ("other-agent", Fallback::OtherAgent),
    ("new-time", Fallback::NewTime),
];
const SLOT_MINS: RangeInclusive<i64> = 1..=240;
const HORIZON_DAYS: RangeInclusive<i64> = 1..=90;
const PER_SLOT: RangeInclusive<i64> = 1..=50;
const LEAD_SECS: RangeInclusive<i64> = 0..=3_600;
const OFFER_WAIT_MINS: RangeInclusive<i64> = 0..=1_440;

pub(super) fn parse(
    lines: &LineIndex,
    raw: Option<&RawCallbacks>,
    problems: &mut Vec<Problem>,
) -> CallbacksConfig {
    let Some(raw) = raw else {
        return CallbacksConfig::default();
    };
    let zone = |t: &Spanned<String>, problems: &mut Vec<Problem>| {
        zone(lines, t, problems).map(|tz| (t.get_ref().clone(), tz))
    };
    let mut timezones = BTreeMap::new();
    for (lang, t) in &raw.timezones {
        if let Some(z) = zone(t, problems) {
            timezones.insert(lang.to_ascii_lowercase(), z);
        }
    }
    let wait = ranged(
        lines,
        &raw.offer_wait_above_mins,
        OFFER_WAIT_MINS,
        "offer_wait_above_mins",
        problems,
    );
    let slot = ranged(lines, &raw.slot_mins, SLOT_MINS, "slot_mins", problems);
    let lead = ranged(lines, &raw.lead_secs, LEAD_SECS, "lead_secs", problems);
    if lead > slot * 60 * 4 {
        problems.push(lines.problem(
            &raw.lead_secs,
            "lead_secs is longer than four slots: the agent would hold the session idle",
        ));
    }
    CallbacksConfig {
        enabled: raw.enabled,
        offer_wait_above: (wait > 0).then(|| Duration::from_secs(wait as u64 * 60)),
        offer_when_closed: raw.offer_when_closed,
        slot: Duration::from_secs(slot as u64 * 60),
        horizon: Duration::from_secs(
            ranged(
                lines,
                &raw.horizon_days,
                HORIZON_DAYS,
                "horizon_days",
                problems,
            ) as u64
                * 86_400,
        ),
        per_slot: ranged(lines, &raw.per_slot, PER_SLOT, "per_slot", problems) as u32,
        lead: Duration::from_secs(lead as u64),
        fallback: choice(lines, &raw.fallback, "fallback", FALLBACKS, problems)
            .unwrap_or(Fallback::OtherAgent),
        timezone: raw
            .timezone
            .as_ref()
            .and_then(|t| zone(t, problems))
            .unwrap_or_else(|| ("UTC".into(), TimeZone::UTC)),
        timezones,
    }
}

/// `[callbacks]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawCallbacks {
    enabled: bool,
    offer_wait_above_mins: Spanned<i64>,
    offer_when_closed: bool,
    slot_mins: Spanned<i64>,
    horizon_days: Spanned<i64>,
    per_slot: Spanned<i64>,
    lead_secs: Spanned<i64>,
    fallback: Spanned<String>,
    timezone: Option<Spanned<String>>,
    timezones: BTreeMap<String, Spanned<String>>,
}

impl Default for RawCallbacks {
    fn default() -> Self {
        let at = |v: i64| Spanned::new(0..0, v);
        RawCallbacks {
            enabled: true,
            offer_wait_above_mins: at(10),
            offer_when_closed: true,
            slot_mins: at(15),
            horizon_days: at(7),
            per_slot: at(1),
            lead_secs: at(120),
            fallback: Spanned::new(0..0, "other-agent".into()),
            timezone: None,
            timezones: BTreeMap::new(),
        }
    }
}
