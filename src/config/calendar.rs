//! Business-hours calendars of `routing.toml`: weekly opening hours and
//! holidays in one time zone. Queues name the calendar of their business
//! hours, rules test whether a calendar is open. Hours are wall-clock times
//! in the calendar's zone, so "09:00" stays 09:00 across daylight saving
//! changes.

use std::collections::HashMap;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use serde::Deserialize;
use serde_spanned::Spanned;

use super::parse::{is_token, zone};
use super::problem::{LineIndex, Problem};

/// One `[[calendar]]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    pub name: String,
    /// The IANA name as written, e.g. `Europe/Paris`.
    pub timezone: String,
    tz: TimeZone,
    open: Vec<Hours>,
    holidays: Vec<Holiday>,
}

/// Days of the week (bit 0 is Monday) open from `start` to `end`, in
/// minutes since midnight; `end` may be 1440 (24:00).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Hours {
    days: u8,
    start: u16,
    end: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Holiday {
    /// From the first date to the second, both included.
    Dates(Date, Date),
    /// The same month and day every year.
    Annual(i8, i8),
}

impl Holiday {
    fn contains(&self, d: Date) -> bool {
        match *self {
            Holiday::Dates(from, to) => from <= d && d <= to,
            Holiday::Annual(m, day) => d.month() == m && d.day() == day,
        }
    }
}

/// Days off of one agent (holidays, leave), written as calendar holidays
/// are, added to the calendar they work by.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Leave(Vec<Holiday>);

impl Leave {
    /// Whether any day that `[from, to)` touches in `tz` is a day off.
    pub fn covers(&self, tz: &TimeZone, from: Timestamp, to: Timestamp) -> bool {
        let last = to
            .checked_sub(jiff::SignedDuration::from_millis(1))
            .unwrap_or(from)
            .max(from);
        let (a, b) = (tz.to_datetime(from).date(), tz.to_datetime(last).date());
        self.0.iter().any(|h| h.contains(a) || h.contains(b))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Calendar {
    /// The zone its hours are read in.
    pub fn zone(&self) -> &TimeZone {
        &self.tz
    }

    /// Whether the calendar is open for the whole of `[from, to)`: every
    /// minute boundary inside is open, checked where hours or days change.
    pub fn is_open_for(&self, from: Timestamp, to: Timestamp) -> bool {
        if !self.is_open(from) {
            return false;
        }
        let mut at = from;
        // Hours change on minute boundaries: a minute's step finds every gap.
        while let Ok(next) = at.checked_add(jiff::SignedDuration::from_mins(1)) {
            if next >= to {
                return true;
            }
            if !self.is_open(next) {
                return false;
            }
            at = next;
        }
        true
    }

    /// Whether the calendar is open at `at`: on an open day and hour of the
    /// calendar's zone, and not on a holiday there.
    pub fn is_open(&self, at: Timestamp) -> bool {
        let local = self.tz.to_datetime(at);
        if self.holidays.iter().any(|h| h.contains(local.date())) {
            return false;
        }
        let day = 1u8 << local.weekday().to_monday_zero_offset();
        let minute = local.hour() as u16 * 60 + local.minute() as u16;
        self.open
            .iter()
            .any(|h| h.days & day != 0 && h.start <= minute && minute < h.end)
    }
}

const DAYS: [(&str, &str); 7] = [
    ("mon", "monday"),
    ("tue", "tuesday"),
    ("wed", "wednesday"),
    ("thu", "thursday"),
    ("fri", "friday"),
    ("sat", "saturday"),
    ("sun", "sunday"),
];

/// Validates every `[[calendar]]`; the ones with a bad name or time zone
/// are left out, after their problems are recorded.
pub(super) fn parse(
    lines: &LineIndex,
    raw: &[RawCalendar],
    problems: &mut Vec<Problem>,
) -> Vec<Calendar> {
    let mut calendars = Vec::new();
    let mut first_line: HashMap<String, usize> = HashMap::new();
    for c in raw {
        let name = c.name.get_ref().clone();
        let mut usable = true;
        if !is_token(&name) {
            usable = false;
            problems.push(lines.problem(
                &c.name,
                &format!("calendar name '{name}' must be lowercase letters, digits, '_' or '-'"),
            ));
        } else if let Some(first) = first_line.get(&name) {
            usable = false;
            problems.push(lines.problem(
                &c.name,
                &format!("calendar '{name}' is declared twice (first at line {first})"),
            ));
        } else {
            first_line.insert(name.clone(), lines.line_of(c.name.span().start));
        }
        let tz = match &c.timezone {
            None => {
                problems.push(lines.problem(
                    &c.name,
                    &format!("calendar '{name}' has no timezone: add one like timezone = \"Europe/Paris\""),
                ));
                None
            }
            Some(t) => zone(lines, t, problems),
        };
        let mut open = Vec::new();
        for o in &c.open {
            match hours(o.get_ref()) {
                Ok(mut h) => open.append(&mut h),
                Err(msg) => {
                    problems.push(lines.problem(o, &format!("open hours '{}': {msg}", o.get_ref())))
                }
            }
        }
        if c.open.is_empty() {
            problems.push(lines.problem(
                &c.name,
                &format!(
                    "calendar '{name}' has no open hours: it would always be closed \
                     (add open = [\"mon-fri 09:00-18:00\"])"
                ),
            ));
        }
        let mut holidays = Vec::new();
        for h in &c.holidays {
            match holiday(h.get_ref()) {
                Some(d) => holidays.push(d),
                None => problems.push(lines.problem(
                    h,
                    &format!(
                        "holiday '{}' is not a date like 2026-12-25, a range like \
                         2026-12-24..2026-12-31, or 12-25 for every year",
                        h.get_ref()
                    ),
                )),
            }
        }
        if let (true, Some(tz)) = (usable, tz) {
            calendars.push(Calendar {
                name,
                timezone: c
                    .timezone
                    .as_ref()
                    .map(|t| t.get_ref().clone())
                    .unwrap_or_default(),
                tz,
                open,
                holidays,
            });
        }
    }
    calendars
}

/// An agent's own working hours (`timezone` and `hours` of their
/// `[[agent]]`), reported at `at` (their `jid`) when incomplete.
pub(super) fn own_hours(
    lines: &LineIndex,
    at: &Spanned<String>,
    timezone: Option<&Spanned<String>>,
    open: &[Spanned<String>],
    problems: &mut Vec<Problem>,
) -> Option<Calendar> {
    let who = at.get_ref();
    let tz = match timezone {
        None => {
            problems.push(lines.problem(
                at,
                &format!("agent '{who}' has hours but no timezone: add one like timezone = \"Europe/Paris\""),
            ));
            None
        }
        Some(t) => zone(lines, t, problems),
    };
    let mut hours_of = Vec::new();
    for o in open {
        match hours(o.get_ref()) {
            Ok(mut h) => hours_of.append(&mut h),
            Err(msg) => problems.push(lines.problem(o, &format!("hours '{}': {msg}", o.get_ref()))),
        }
    }
    Some(Calendar {
        name: who.clone(),
        timezone: timezone.map(|t| t.get_ref().clone()).unwrap_or_default(),
        tz: tz?,
        open: hours_of,
        holidays: Vec::new(),
    })
}

/// An agent's `leave`: dates, ranges or yearly days, as holidays.
pub(super) fn leave_days(
    lines: &LineIndex,
    raw: &[Spanned<String>],
    problems: &mut Vec<Problem>,
) -> Leave {
    let mut days = Vec::new();
    for h in raw {
        match holiday(h.get_ref()) {
            Some(d) => days.push(d),
            None => problems.push(lines.problem(
                h,
                &format!(
                    "leave '{}' is not a date like 2026-12-25, a range like \
                     2026-12-24..2026-12-31, or 12-25 for every year",
                    h.get_ref()
                ),
            )),
        }
    }
    Leave(days)
}

/// `days hours[, hours...]`, e.g. `mon-fri 09:00-12:00, 14:00-18:00`.
fn hours(spec: &str) -> Result<Vec<Hours>, String> {
    let spec = spec.trim();
    let Some((days, ranges)) = spec.split_once(char::is_whitespace) else {
        return Err("write days then hours, like \"mon-fri 09:00-18:00\"".into());
    };
    let days = weekdays(days)?;
    let mut out = Vec::new();
    for range in ranges
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|r| !r.is_empty())
    {
        let bad = || format!("'{range}' is not a time range like 09:00-18:00");
        let (from, to) = range.split_once('-').ok_or_else(bad)?;
        let (start, end) = (time(from).ok_or_else(bad)?, time(to).ok_or_else(bad)?);
        if start == 24 * 60 {
            return Err(bad());
        }
        if end <= start {
            return Err(format!(
                "{range} must end after it starts: split hours past midnight in two, \
                 like \"fri 22:00-24:00\" and \"sat 00:00-02:00\""
            ));
        }
        out.push(Hours { days, start, end });
    }
    if out.is_empty() {
        return Err("no hours after the days: write them like 09:00-18:00".into());
    }
    Ok(out)
}

/// `mon`, `mon-fri`, `sat,sun`, `mon-wed,fri`; a range may wrap around the
/// week (`fri-mon`), so `sun-sat` means every day as in a US week.
fn weekdays(spec: &str) -> Result<u8, String> {
    let day = |s: &str| {
        let s = s.to_ascii_lowercase();
        DAYS.iter()
            .position(|(short, long)| s == *short || s == *long)
            .ok_or_else(|| format!("unknown day '{s}': use mon, tue, wed, thu, fri, sat, sun"))
    };
    let mut mask = 0u8;
    for part in spec.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (day(a)?, day(b)?);
                let mut d = a;
                loop {
                    mask |= 1 << d;
                    if d == b {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => mask |= 1 << day(part)?,
        }
    }
    Ok(mask)
}

/// `HH:MM` (or `H:MM`) as minutes since midnight; 24:00 is the end of day.
fn time(s: &str) -> Option<u16> {
    let (h, m) = s.split_once(':')?;
    let digits = |x: &str| x.bytes().all(|b| b.is_ascii_digit());
    if h.is_empty() || h.len() > 2 || m.len() != 2 || !digits(h) || !digits(m) {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    match (h, m) {
        (24, 0) => Some(24 * 60),
        (0..=23, 0..=59) => Some(h * 60 + m),
        _ => None,
    }
}

fn holiday(s: &str) -> Option<Holiday> {
    let s = s.trim();
    let date = |d: &str| -> Option<Date> {
        // jiff accepts more ISO 8601 forms than admins should have to read.
        (d.len() == 10).then(|| d.parse().ok()).flatten()
    };
    if let Some((from, to)) = s.split_once("..") {
        let (from, to) = (date(from.trim())?, date(to.trim())?);
        return (from <= to).then_some(Holiday::Dates(from, to));
    }
    if s.len() == 5 && s.as_bytes()[2] == b'-' {
        let (m, d) = (&s[..2], &s[3..]);
        if !(m.bytes().chain(d.bytes())).all(|b| b.is_ascii_digit()) {
            return None;
        }
        let (m, d): (i8, i8) = (m.parse().ok()?, d.parse().ok()?);
        // A leap year, so that 02-29 is accepted.
        Date::new(2000, m, d).ok()?;
        return Some(Holiday::Annual(m, d));
    }
    date(s).map(|d| Holiday::Dates(d, d))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCalendar {
    name: Spanned<String>,
    /// Optional for serde so that a missing zone is reported at the
    /// calendar's name with the other problems.
    timezone: Option<Spanned<String>>,
    #[serde(default)]
    open: Vec<Spanned<String>>,
    #[serde(default)]
    holidays: Vec<Spanned<String>>,
}

impl RawCalendar {
    /// The name as written. Queues and rules are checked against these
    /// rather than against the usable calendars: one with a bad time zone or
    /// name is still declared, and its own problem says what is wrong
    /// without a second one at every queue and rule that names it.
    pub(super) fn name(&self) -> &str {
        self.name.get_ref()
    }
}

#[cfg(test)]
#[path = "calendar_tests.rs"]
mod tests;
