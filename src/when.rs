//! Customers booking a callback write the time in their own words, in English
//! or French, inside a sentence ("Alice demain à 9h30"). interim reads English
//! date phrases and does the calendar work, but knows no French, no chat
//! phrasing ("in half an hour", "tonight"), and takes stray words for dates.
//! This layer finds the phrase and maps it onto plain English interim reads.

use interim::{parse_date_string, Dialect};
use jiff::{tz::TimeZone, Zoned};
use regex::Regex;
use std::sync::LazyLock;

/// What a customer's words say about when.
#[derive(Debug, Clone)]
pub struct Found {
    /// The instant, in the zone of `now`.
    pub at: Zoned,
    /// The customer's text with the time phrase taken out, trimmed, inner
    /// whitespace collapsed (e.g. "Alice tomorrow at 9:30" → "Alice"). The
    /// caller matches an agent's name in it.
    pub rest: String,
    /// false when the day was given without a time of day ("tomorrow",
    /// "friday") and a default hour (09:00) was put in: the caller echoes it
    /// back to be confirmed.
    pub time_given: bool,
}

/// Chat messages are short; beyond this the tail is kept in `rest` unread,
/// so the span search stays quadratic in a small number.
const MAX_TOKENS: usize = 40;
/// The hour put in when only a day was named.
const DEFAULT_HOUR: u8 = 9;
/// Anything further from `now` than this is a typo, not a booking.
const MAX_SECS: i64 = 5 * 366 * 86_400;
/// A callback "in" more than a year is not meant.
const MAX_DURATION_SECS: i64 = 366 * 86_400;

/// Word tables, one '|'-separated group per value; each group's first word
/// is the English one interim reads. Tables keep EN and FR side by side.
const UNITS: &str = "seconds s sec secs second seconde secondes|minutes min mins minute mn\
    |hours h hr hrs hour heure heures|days day jour jours|weeks week semaine semaines\
    |months month mois";
/// No "mon", "sat", "sun", "wed": they are ordinary words ("mon" is French "my").
const WEEKDAYS: &str = "monday lundi|tuesday mardi tue tues|wednesday mercredi\
    |thursday jeudi thu thur thurs\
    |friday vendredi fri|saturday samedi|sunday dimanche";
/// "mar" and "sam" are left out: they are also weekday abbreviations or names.
const MONTHS: &str = "january janvier jan janv|february fevrier feb fev fevr|march mars\
    |april avril apr avr|may mai|june juin jun|july juillet jul juil|august aout aug\
    |september septembre sep sept|october octobre oct|november novembre nov\
    |december decembre dec";
/// Spelled-out counts, only ever read in front of a unit ("deux heures").
const COUNTS: &str = "one a an un une|two deux|three trois|four quatre|five cinq|six\
    |seven sept|eight huit|nine neuf|ten dix";
/// Upper bounds per unit, for refusing absurd durations before interim.
const UNIT_SECS: [i64; 6] = [1, 60, 3_600, 86_400, 7 * 86_400, 31 * 86_400];

/// Index of the group holding `w`, and the group's English word.
fn lookup(table: &'static str, w: &str) -> Option<(usize, &'static str)> {
    table.split('|').enumerate().find_map(|(i, g)| {
        let mut words = g.split(' ');
        let first = words.clone().next()?;
        words.any(|x| x == w).then_some((i, first))
    })
}

fn english(table: &'static str, i: usize) -> Option<&'static str> {
    table.split('|').nth(i)?.split(' ').next()
}

/// An index into `UNITS`.
type Unit = usize;
const MINUTES: Unit = 1;
const MONTH_UNIT: Unit = 5;

fn unit(w: &str) -> Option<Unit> {
    lookup(UNITS, w).map(|(i, _)| i)
}

fn weekday(w: &str) -> Option<&'static str> {
    lookup(WEEKDAYS, w).map(|(_, name)| name)
}

fn month_no(w: &str) -> Option<u8> {
    lookup(MONTHS, w).and_then(|(i, _)| u8::try_from(i + 1).ok())
}

/// "30", "deux", "an": how many of a unit.
fn count(w: &str) -> Option<u32> {
    let word = lookup(COUNTS, w).and_then(|(i, _)| u32::try_from(i + 1).ok());
    word.or(number(w))
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Day {
    Now,
    /// Today, tomorrow, the day after.
    Plus(u8),
    /// English weekday name, and whether "next"/"prochain" was said.
    Weekday(&'static str, bool),
    /// Day, month name, year if written.
    Date(u8, &'static str, Option<i16>),
    /// "next week", "le mois prochain".
    Next(&'static str),
    /// "in 30 minutes": a duration from now.
    In(u32, Unit),
}

/// What one span of words says, before interim turns it into an instant.
#[derive(Default, Debug)]
struct Spec {
    day: Option<Day>,
    time: Option<(u8, u8, u8)>,
    /// "morning", "soir", "midi": a soft time an explicit one overrides.
    period: Option<u8>,
}

/// Fills a slot once: a second day or time in one span means two phrases.
fn put<T>(slot: &mut Option<T>, v: T) -> Option<()> {
    slot.is_none().then(|| *slot = Some(v))
}

const ACCENTED: &str = "àâäáéèêëîïíôöóùûüúçÿ’‘";
const PLAIN: &str = "aaaaeeeeiiiooouuuucy''";

/// Lower-cases and drops accents so "Décembre", "DECEMBRE" and "decembre" match.
fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().flat_map(char::to_lowercase) {
        match ACCENTED.chars().position(|a| a == c) {
            Some(i) => out.extend(PLAIN.chars().nth(i)),
            None if c == 'œ' => out.push_str("oe"),
            None => out.push(c),
        }
    }
    let elided = ["l'", "d'", "qu'"].iter().find_map(|e| out.strip_prefix(e));
    let elided = elided.filter(|r| !r.is_empty()).map(str::to_string);
    elided.unwrap_or(out)
}

/// Sentence punctuation is not part of a word ("tomorrow!", "9:30.").
fn strip(t: &str) -> &str {
    t.trim_start_matches(['(', '"', '«'])
        .trim_end_matches([',', '!', '?', '.', ';', ')', '"', '»'])
}

/// Up to four digits and what is glued to them: "30", "4th", "30min".
fn digits(w: &str) -> Option<(u32, &str)> {
    let end = w.find(|c: char| !c.is_ascii_digit()).unwrap_or(w.len());
    let (d, rest) = w.split_at(end);
    (1..=4)
        .contains(&d.len())
        .then(|| Some((d.parse().ok()?, rest)))?
}

/// A day of the month or a count: "30", "4th", "1er".
fn number(w: &str) -> Option<u32> {
    let (n, suffix) = digits(w)?;
    matches!(suffix, "" | "st" | "nd" | "rd" | "th" | "er" | "ere" | "e").then_some(n)
}

fn year(w: &str) -> Option<i16> {
    let y = digits(w).filter(|(y, rest)| rest.is_empty() && (1900..=2200).contains(y))?;
    i16::try_from(y.0).ok()
}

/// "17:00", "9:30:15", "17h30", "17h", "5.30pm", "5pm".
static CLOCK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\d{1,2})(?:(h)(\d{2})?|:(\d{2})(?::(\d{2}))?|(\.)(\d{2}))?(am|pm)?$")
        .expect("constant pattern")
});
/// "04/12", "4/12/26", "04/12/2026" (UK: day first), "2026-12-04".
static DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:(\d{1,2})/(\d{1,2})(?:/(\d{2}|\d{4}))?|(\d{4})-(\d{2})-(\d{2}))$")
        .expect("constant pattern")
});

/// "UTC", "GMT" or "Area/City" ("America/New_York"): bare IANA names such as
/// "EST" or "Japan" are ordinary words too (French "est").
static ZONE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?i:utc|gmt|[a-z][a-z0-9_+-]*(?:/[a-z0-9_+-]+)+)$").expect("constant pattern")
});

/// Hour, minute, second, and whether it was written "17h". The dot form
/// without am/pm only when `dot_ok` ("at 17.30"): "2.50" is a price.
fn clock(w: &str, dot_ok: bool) -> Option<(u8, u8, u8, bool)> {
    let c = CLOCK.captures(w)?;
    let num = |i| c.get(i).map_or(Some(0), |m| m.as_str().parse::<u8>().ok());
    let (hform, dot) = (c.get(2).is_some(), c.get(6).is_some());
    let pm = c.get(8).map(|m| m.as_str() == "pm");
    let bare = !hform && !dot && c.get(4).is_none();
    let plain = pm.is_none();
    if (hform && !plain) || (bare && plain) || (dot && plain && !dot_ok) {
        return None;
    }
    let (h, m, s) = (num(1)?, num(3)? + num(4)? + num(7)?, num(5)?);
    let h = match pm {
        Some(_) if !(1..=12).contains(&h) => return None,
        Some(true) => h % 12 + 12,
        Some(false) => h % 12,
        None => h,
    };
    (h <= 23 && m <= 59 && s <= 59).then_some((h, m, s, hform))
}

fn numeric_date(w: &str) -> Option<Day> {
    let c = DATE.captures(w)?;
    let num = |i| c.get(i).and_then(|m| m.as_str().parse::<i16>().ok());
    let (d, m, y) = match num(4) {
        Some(y) => (num(6)?, num(5)?, Some(y)),
        None => (
            num(1)?,
            num(2)?,
            num(3).map(|y| y + if y < 100 { 2000 } else { 0 }),
        ),
    };
    date_of(u8::try_from(d).ok()?, u8::try_from(m).ok()?, y)
}

fn date_of(d: u8, m: u8, y: Option<i16>) -> Option<Day> {
    let name = english(MONTHS, usize::from(m).checked_sub(1)?)?;
    (1..=31).contains(&d).then_some(Day::Date(d, name, y))
}

fn duration(n: u32, u: Unit) -> Option<Day> {
    (n > 0 && n <= 9999 && i64::from(n) * UNIT_SECS.get(u)? <= MAX_DURATION_SECS)
        .then_some(Day::In(n, u))
}

/// Reads a whole span, or refuses it: every word must be known, so names and
/// chatter never reach interim (which would read "Monica" as "months").
fn spec(w: &[&str]) -> Option<Spec> {
    let mut s = Spec::default();
    let mut next = false;
    let (mut dot_ok, mut dur_ok) = (false, false);
    let mut i = 0;
    while i < w.len() {
        let t = w[i];
        let at = |k: usize| w.get(i + k).copied().unwrap_or("");
        let (was_at, was_in) = (std::mem::take(&mut dot_ok), std::mem::take(&mut dur_ok));
        let mut used = 1;
        match (t, at(1), at(2)) {
            _ if fixed(&w[i..]).is_some() => {
                let (f, n) = fixed(&w[i..])?;
                used = n;
                match f {
                    Fixed::Day(d) => put(&mut s.day, d)?,
                    Fixed::Mins(n) => put(&mut s.day, Day::In(n, MINUTES))?,
                    Fixed::Period(h) => put(&mut s.period, h)?,
                    Fixed::TodayAt(h) => {
                        put(&mut s.day, Day::Plus(0)).and(put(&mut s.period, h))?
                    }
                }
            }
            (_, n, _) if count(t).is_some() && unit(n).is_some() => {
                put(&mut s.day, duration(count(t)?, unit(n)?)?)?;
                used = 2;
            }
            ("at" | "a" | "vers" | "around" | "about" | "by", ..) => dot_ok = true,
            ("in" | "dans" | "ici", ..) => dur_ok = true,
            ("on" | "the" | "le" | "la" | "of" | "du" | "this" | "ce" | "cet" | "cette", ..) => {}
            ("next", ..) => next = true,
            (_, n, _) if weekday(t).is_some() => {
                let later = matches!(n, "prochain" | "prochaine");
                put(&mut s.day, Day::Weekday(weekday(t)?, next || later))?;
                next = false;
                used += usize::from(later);
            }
            (_, n, y) if day_month(t, n, y).is_some() => {
                let (d, n) = day_month(t, n, y)?;
                put(&mut s.day, d)?;
                used = n;
            }
            (_, "am" | "pm", _) if clock(&format!("{t}{}", at(1)), true).is_some() => {
                let (h, m, sec, _) = clock(&format!("{t}{}", at(1)), true)?;
                put(&mut s.time, (h, m, sec))?;
                used = 2;
            }
            _ if clock(t, was_at).is_some() => match clock(t, was_at)? {
                // "dans 1h30" is a duration.
                (h, m, _, true) if was_in => {
                    let mins = u32::from(h) * 60 + u32::from(m);
                    put(&mut s.day, duration(mins, MINUTES)?)?;
                }
                (h, m, sec, _) => put(&mut s.time, (h, m, sec))?,
            },
            _ if glued_duration(t).is_some() => put(&mut s.day, glued_duration(t)?)?,
            _ => put(&mut s.day, numeric_date(t)?)?,
        }
        i += used;
    }
    if next || (s.day.is_none() && s.time.is_none() && s.period.is_none()) {
        return None;
    }
    Some(s)
}

#[derive(Clone, Copy)]
enum Fixed {
    Day(Day),
    Mins(u32),
    Period(u8),
    /// "tonight", "ce matin": today, at that part of the day.
    TodayAt(u8),
}

const NOW_WORDS: &str = "now asap maintenant immediately immediatement right+now tout+de+suite \
    des+que+possible au+plus+vite";
/// Set phrases, '+' joining the words of one phrase.
const FIXED: [(&str, Fixed); 15] = [
    (NOW_WORDS, Fixed::Day(Day::Now)),
    ("today aujourd'hui aujourdhui", Fixed::Day(Day::Plus(0))),
    ("tomorrow demain", Fixed::Day(Day::Plus(1))),
    (
        "apres-demain apres+demain day+after+tomorrow",
        Fixed::Day(Day::Plus(2)),
    ),
    ("half+an+hour une+demi-heure demi-heure", Fixed::Mins(30)),
    ("un+quart+heure quart+heure", Fixed::Mins(15)),
    (
        "tonight this+evening ce+soir cette+soiree",
        Fixed::TodayAt(18),
    ),
    ("this+morning ce+matin", Fixed::TodayAt(9)),
    (
        "this+afternoon cet+apres-midi cet+apres+midi cet+aprem",
        Fixed::TodayAt(14),
    ),
    ("morning matin", Fixed::Period(9)),
    ("afternoon apres-midi apres+midi aprem", Fixed::Period(14)),
    ("evening soir soiree", Fixed::Period(18)),
    ("noon midday midi", Fixed::Period(12)),
    ("next+week semaine+prochaine", Fixed::Day(Day::Next("week"))),
    ("next+month mois+prochain", Fixed::Day(Day::Next("month"))),
];

/// The set phrase `w` starts with, and how many words it takes.
fn fixed(w: &[&str]) -> Option<(Fixed, usize)> {
    FIXED.iter().find_map(|(phrases, f)| {
        phrases.split_whitespace().find_map(|p| {
            let n = p.split('+').count();
            let hit = w.len() >= n && p.split('+').zip(w).all(|(a, b)| a == *b);
            hit.then_some((*f, n))
        })
    })
}

/// "4 december [2026]" or "december 4[th] [2026]", and the words it takes.
fn day_month(a: &str, b: &str, c: &str) -> Option<(Day, usize)> {
    let (d, m) = match (number(a), number(b)) {
        (Some(d), _) => (d, month_no(b)?),
        (_, Some(d)) => (d, month_no(a)?),
        _ => return None,
    };
    let y = year(c);
    let used = 2 + usize::from(y.is_some());
    Some((date_of(u8::try_from(d).ok()?, m, y)?, used))
}

/// "30min", "10s", "2hrs": a count glued to its unit. "17h" is a clock time,
/// read before this.
fn glued_duration(w: &str) -> Option<Day> {
    let (n, suffix) = digits(w)?;
    duration(n, unit(suffix)?)
}

fn interim(s: &str, now: &Zoned) -> Option<Zoned> {
    parse_date_string(s, now.clone(), Dialect::Uk).ok()
}

/// Renders the spec as English interim reads, and lets interim place it.
fn resolve(s: &Spec, now: &Zoned) -> Option<(Zoned, bool)> {
    let time = match (s.time, s.period) {
        // "tonight at 8:00" means 20:00.
        (Some((h, m, sec)), Some(p)) if p >= 14 && h < 12 => Some((h + 12, m, sec)),
        (Some(t), _) => Some(t),
        (None, Some(p)) => Some((p, 0, 0)),
        (None, None) => None,
    };
    let given = time.is_some();
    let (h, m, sec) = time.unwrap_or((DEFAULT_HOUR, 0, 0));
    let hm = format!("{h}:{m:02}:{sec:02}");
    let phrase = match s.day {
        Some(Day::Now) if !given => "now".to_string(),
        // interim puts months at midnight; keep the time of day.
        Some(Day::In(n, MONTH_UNIT)) if !given => format!("{n} months {}", now.time()),
        Some(Day::In(n, u)) if !given => format!("{n} {}", english(UNITS, u)?),
        Some(Day::Now | Day::In(..)) => return None,
        // A bare time already past today means tomorrow.
        None => match interim(&hm, now)? {
            t if t < *now => format!("tomorrow {hm}"),
            _ => hm,
        },
        Some(Day::Plus(n)) => format!("{n} days {hm}"),
        Some(Day::Weekday(d, true)) => format!("next {d} {hm}"),
        Some(Day::Weekday(d, false)) => format!("{d} {hm}"),
        // "next" makes interim move a past day-month to next year.
        Some(Day::Date(d, mo, None)) => format!("next {mo} {d} {hm}"),
        Some(Day::Date(d, mo, Some(y))) => format!("{mo} {d}, {y} {hm}"),
        Some(Day::Next(u)) => format!("next {u} {hm}"),
    };
    let at = interim(&phrase, now)?;
    let gap = at.timestamp().as_second() - now.timestamp().as_second();
    let given = given || matches!(s.day, Some(Day::Now | Day::In(..)));
    (gap.abs() <= MAX_SECS).then_some((at, given))
}

/// Whitespace-separated words, sentence punctuation off, empties dropped.
fn words(text: &str) -> Vec<&str> {
    text.split_whitespace()
        .map(strip)
        .filter(|t| !t.is_empty())
        .collect()
}

/// The words outside `skip`, in their original spelling.
fn others(toks: &[&str], skip: std::ops::Range<usize>) -> String {
    let (before, after) = (toks.get(..skip.start), toks.get(skip.end..));
    let kept: Vec<&str> = before.into_iter().chain(after).flatten().copied().collect();
    kept.join(" ")
}

/// Customers put the time anywhere in a sentence, next to an agent's name;
/// the caller needs both. A bare time already past means tomorrow; an
/// explicit day ("today at 9:00", "2 December") is kept even if past, for the
/// caller to refuse. "next friday" is interim's Uk reading: the coming Friday
/// plus a week (on Wednesday 2 Dec: 11 Dec).
pub fn find(text: &str, now: &Zoned) -> Option<Found> {
    let toks = words(text);
    let head = toks.len().min(MAX_TOKENS);
    let folded: Vec<String> = toks[..head].iter().map(|t| fold(t)).collect();
    let words: Vec<&str> = folded.iter().map(String::as_str).collect();
    // Longest first; among equals, earliest first.
    let mut spans = (1..=head)
        .rev()
        .flat_map(|len| (0..=head - len).map(move |start| start..start + len));
    spans.find_map(|r| {
        let (at, time_given) = resolve(&spec(&words[r.clone()])?, now)?;
        Some(Found {
            at,
            rest: others(&toks, r),
            time_given,
        })
    })
}

/// The examples the caller shows when nothing was found, per language ("en"
/// or "fr"; anything else → en).
pub fn examples(lang: &str) -> &'static [&'static str] {
    match lang {
        "fr" => &[
            "dans 30 minutes",
            "aujourd'hui à 17h",
            "demain à 9h30",
            "vendredi 10h",
            "le 4 décembre à 10h",
        ],
        _ => &[
            "in 30 minutes",
            "today at 17:00",
            "tomorrow at 9:30",
            "friday 10:00",
            "4 December at 10:00",
        ],
    }
}

/// An IANA zone named in the text (e.g. "America/New_York", "europe/paris",
/// "UTC"), if any, with the rest of the text: lets a customer say which zone
/// they mean.
pub fn zone_in(text: &str) -> Option<(TimeZone, String, String)> {
    let toks = words(text);
    toks.iter().enumerate().find_map(|(i, t)| {
        let tz = ZONE.is_match(t).then(|| jiff::tz::db().get(t).ok())??;
        let name = tz.iana_name().unwrap_or(t).to_string();
        Some((tz, name, others(&toks, i..i + 1)))
    })
}

#[cfg(test)]
#[path = "when_tests.rs"]
mod tests;
