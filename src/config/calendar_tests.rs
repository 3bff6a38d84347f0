//! Calendars: open hours in their own time zone, holidays, and every
//! problem with its line.

use std::path::Path;

use jiff::Timestamp;

use crate::config::{Calendar, ConfigError, GatewayConfig};

const ALICE: &str = "[[agent]]\njid = \"alice@agents.support.test\"\nname = \"Alice\"\n\
                     protocols = [\"xmpp\"]\nmax_live = 1\n";
const GENERAL: &str = "[[queue]]\nname = \"general\"\nentry = [\"help@support.test\"]\n";

fn load(routing: &str) -> Result<GatewayConfig, ConfigError> {
    GatewayConfig::from_strs(
        "support.test",
        (Path::new("/etc/sb/agents.toml"), ALICE),
        (Path::new("/etc/sb/routing.toml"), routing),
    )
}

fn problems(routing: &str) -> Vec<String> {
    match load(routing) {
        Err(ConfigError::Invalid(p)) => p.iter().map(ToString::to_string).collect(),
        other => panic!("expected problems, got {other:?}"),
    }
}

/// The one calendar of a file made of `calendar` and a queue.
fn calendar(calendar: &str) -> Calendar {
    let g = load(&format!("[[calendar]]\n{calendar}\n{GENERAL}")).unwrap();
    g.routing.calendars()[0].clone()
}

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

#[test]
fn hours_are_wall_clock_times_of_the_calendar_zone() {
    let paris = calendar(
        "name = \"paris\"\ntimezone = \"Europe/Paris\"\nopen = [\"mon-fri 09:00-12:00, 14:00-18:00\", \"sat 10:00-13:00\"]",
    );
    assert_eq!(
        (paris.name.as_str(), paris.timezone.as_str()),
        ("paris", "Europe/Paris")
    );
    // 2026-07-06 is a Monday; Paris is UTC+2 in summer, UTC+1 in winter,
    // and 09:00 stays 09:00 in both.
    assert!(paris.is_open(at("2026-07-06T07:00:00Z")));
    assert!(!paris.is_open(at("2026-07-06T06:59:59Z")));
    assert!(paris.is_open(at("2026-01-05T08:00:00Z")));
    assert!(!paris.is_open(at("2026-01-05T07:30:00Z")));
    // Lunch break, end excluded, Saturday morning, Sunday.
    assert!(!paris.is_open(at("2026-07-06T10:30:00Z")));
    assert!(paris.is_open(at("2026-07-06T15:59:00Z")));
    assert!(!paris.is_open(at("2026-07-06T16:00:00Z")));
    assert!(paris.is_open(at("2026-07-04T08:00:00Z")));
    assert!(!paris.is_open(at("2026-07-04T11:00:00Z")));
    assert!(!paris.is_open(at("2026-07-05T09:00:00Z")));

    // One instant, two zones: 14:00 UTC is 10:00 in New York, 16:00 in Paris.
    let ny = calendar(
        "name = \"ny\"\ntimezone = \"America/New_York\"\nopen = [\"Monday-Friday 9:00-17:00\"]",
    );
    assert!(ny.is_open(at("2026-07-06T14:00:00Z")));
    assert!(!ny.is_open(at("2026-07-06T22:00:00Z")));
    // Monday 02:00 UTC is still Sunday in New York.
    assert!(!ny.is_open(at("2026-07-06T02:00:00Z")));
}

#[test]
fn day_ranges_wrap_and_24_00_ends_the_day() {
    let c = calendar(
        "name = \"late\"\ntimezone = \"UTC\"\nopen = [\"fri-mon 22:00-24:00\", \"sat,sun 00:00-02:00\"]",
    );
    assert!(c.is_open(at("2026-07-05T23:59:59Z")), "Sunday late");
    assert!(c.is_open(at("2026-07-06T22:00:00Z")), "Monday late");
    assert!(!c.is_open(at("2026-07-07T22:00:00Z")), "Tuesday");
    assert!(
        c.is_open(at("2026-07-04T01:00:00Z")),
        "Saturday after midnight"
    );
    assert!(
        !c.is_open(at("2026-07-06T01:00:00Z")),
        "Monday after midnight"
    );
    let every_day = calendar("name = \"us\"\ntimezone = \"UTC\"\nopen = [\"sun-sat 08:00-09:00\"]");
    for day in 4..=10 {
        assert!(every_day.is_open(at(&format!("2026-07-{day:02}T08:30:00Z"))));
    }
}

#[test]
fn holidays_close_whole_local_days() {
    let c = calendar(
        "name = \"office\"\ntimezone = \"Europe/Paris\"\nopen = [\"mon-sun 00:00-24:00\"]\n\
         holidays = [\"2026-07-06\", \"12-25\", \"2026-08-10..2026-08-14\"]",
    );
    // Monday 2026-07-06 in Paris runs from 22:00 UTC on Sunday.
    assert!(c.is_open(at("2026-07-05T21:59:00Z")));
    assert!(!c.is_open(at("2026-07-05T22:00:00Z")));
    assert!(!c.is_open(at("2026-07-06T21:59:00Z")));
    assert!(c.is_open(at("2026-07-06T22:00:00Z")));
    // Every year.
    assert!(!c.is_open(at("2026-12-25T12:00:00Z")));
    assert!(!c.is_open(at("2031-12-25T12:00:00Z")));
    assert!(c.is_open(at("2031-12-26T12:00:00Z")));
    // A range, both ends included.
    assert!(c.is_open(at("2026-08-09T12:00:00Z")));
    assert!(!c.is_open(at("2026-08-10T12:00:00Z")));
    assert!(!c.is_open(at("2026-08-14T12:00:00Z")));
    assert!(c.is_open(at("2026-08-15T12:00:00Z")));
}

#[test]
fn every_calendar_problem_is_reported_with_its_line() {
    let routing = "\
[[calendar]]
name = \"Office\"
timezone = \"Europe/Pariss\"
open = [
  \"mon-fry 09:00-18:00\",
  \"mon 18:00-09:00\",
  \"mon 9h-18h\",
  \"weekdays\",
  \"sat 10:00-24:30\",
  \"mon-fri 09:00-18:00\",
]
holidays = [\"2026-13-01\", \"2026-12-31..2026-12-24\", \"02-30\", \"2026-12-25\", \"02-29\"]

[[calendar]]
name = \"night\"

[[calendar]]
name = \"night\"
timezone = \"UTC\"
open = [\"mon 00:00-01:00\"]

[[queue]]
name = \"general\"
entry = [\"help@support.test\"]
calendar = \"office\"
";
    let holiday = |h: &str| {
        format!(
            "/etc/sb/routing.toml:12: holiday '{h}' is not a date like 2026-12-25, a range like \
             2026-12-24..2026-12-31, or 12-25 for every year"
        )
    };
    assert_eq!(
        problems(routing),
        vec![
            "/etc/sb/routing.toml:2: calendar name 'Office' must be lowercase letters, digits, '_' or '-'".to_string(),
            "/etc/sb/routing.toml:3: unknown timezone 'Europe/Pariss': use an IANA name like Europe/Paris, America/New_York or UTC".into(),
            "/etc/sb/routing.toml:5: open hours 'mon-fry 09:00-18:00': unknown day 'fry': use mon, tue, wed, thu, fri, sat, sun".into(),
            "/etc/sb/routing.toml:6: open hours 'mon 18:00-09:00': 18:00-09:00 must end after it starts: split hours past midnight in two, like \"fri 22:00-24:00\" and \"sat 00:00-02:00\"".into(),
            "/etc/sb/routing.toml:7: open hours 'mon 9h-18h': '9h-18h' is not a time range like 09:00-18:00".into(),
            "/etc/sb/routing.toml:8: open hours 'weekdays': write days then hours, like \"mon-fri 09:00-18:00\"".into(),
            "/etc/sb/routing.toml:9: open hours 'sat 10:00-24:30': '10:00-24:30' is not a time range like 09:00-18:00".into(),
            holiday("2026-13-01"),
            holiday("2026-12-31..2026-12-24"),
            holiday("02-30"),
            "/etc/sb/routing.toml:15: calendar 'night' has no timezone: add one like timezone = \"Europe/Paris\"".into(),
            "/etc/sb/routing.toml:15: calendar 'night' has no open hours: it would always be closed (add open = [\"mon-fri 09:00-18:00\"])".into(),
            "/etc/sb/routing.toml:18: calendar 'night' is declared twice (first at line 15)".into(),
            "/etc/sb/routing.toml:25: unknown calendar 'office': no [[calendar]] has that name".into(),
        ]
    );
}

#[test]
fn a_queue_names_its_calendar() {
    let g = load(&format!(
        "[[calendar]]\nname = \"office\"\ntimezone = \"UTC\"\nopen = [\"mon 09:00-10:00\"]\n\
         {GENERAL}calendar = \"office\"\n"
    ))
    .unwrap();
    let q = g.routing.queue("general").unwrap();
    assert_eq!(q.calendar.as_deref(), Some("office"));
    assert!(g.routing.calendar("office").is_some());
    assert!(g.routing.calendar("other").is_none());
}

#[test]
fn a_calendar_with_a_bad_time_zone_is_one_problem() {
    // Named by a queue and by two rules: each would otherwise add an
    // "unknown calendar" of its own, pointing away from the real mistake.
    let routing = "\
[[calendar]]
name = \"office\"
timezone = \"Europe/Pariss\"
open = [\"mon-fri 09:00-18:00\"]

[[queue]]
name = \"general\"
entry = [\"help@support.test\"]
calendar = \"office\"

[[rule]]
open = \"office\"
queue = \"general\"

[[rule]]
closed = \"office\"
message = \"We are closed.\"
";
    assert_eq!(
        problems(routing),
        [
            "/etc/sb/routing.toml:3: unknown timezone 'Europe/Pariss': use an IANA name like \
          Europe/Paris, America/New_York or UTC"
        ]
    );
    let no_zone = routing.replace("timezone = \"Europe/Pariss\"\n", "");
    assert_eq!(
        problems(&no_zone),
        [
            "/etc/sb/routing.toml:2: calendar 'office' has no timezone: add one like \
          timezone = \"Europe/Paris\""
        ]
    );
}
