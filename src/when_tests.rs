use super::*;

/// Wednesday 2 December 2026, 10:00 in Paris.
fn now() -> Zoned {
    "2026-12-02T10:00[Europe/Paris]".parse().unwrap()
}

fn at(text: &str, now: &Zoned) -> (String, bool) {
    let f = find(text, now).unwrap_or_else(|| panic!("nothing found in {text:?}"));
    (f.at.to_string(), f.time_given)
}

/// Each case: text, expected instant as "MM-DDTHH:MM:SS" in 2026 Paris
/// (+01:00) unless a full string is given, expected time_given.
fn check(cases: &[(&str, &str, bool)], now: &Zoned) {
    for (text, want, given) in cases {
        let want = if want.len() == 14 {
            format!("2026-{want}+01:00[Europe/Paris]")
        } else {
            want.to_string()
        };
        assert_eq!(at(text, now), (want, *given), "for {text:?}");
    }
}

#[test]
fn fixed_now_is_a_wednesday() {
    assert_eq!(now().weekday(), jiff::civil::Weekday::Wednesday);
}

#[test]
fn durations() {
    let cases = [
        ("in 30 minutes", "12-02T10:30:00", true),
        ("in 2 hours", "12-02T12:00:00", true),
        ("in an hour", "12-02T11:00:00", true),
        ("in half an hour", "12-02T10:30:00", true),
        ("30 min", "12-02T10:30:00", true),
        ("30min", "12-02T10:30:00", true),
        ("in 10 seconds", "12-02T10:00:10", true),
        ("in a minute", "12-02T10:01:00", true),
        ("in 2 days", "12-04T10:00:00", true),
        (
            "in 3 months",
            "2027-03-02T10:00:00+01:00[Europe/Paris]",
            true,
        ),
        ("d'ici 30 minutes", "12-02T10:30:00", true),
        ("dans 30 minutes", "12-02T10:30:00", true),
        ("dans une heure", "12-02T11:00:00", true),
        ("dans deux heures", "12-02T12:00:00", true),
        ("dans une demi-heure", "12-02T10:30:00", true),
        ("dans 1h30", "12-02T11:30:00", true),
        ("dans 2h", "12-02T12:00:00", true),
        ("dans sept minutes", "12-02T10:07:00", true),
        ("dans un quart d'heure", "12-02T10:15:00", true),
    ];
    check(&cases, &now());
}

#[test]
fn clock_times_today_or_tomorrow() {
    let cases = [
        ("today at 17:00", "12-02T17:00:00", true),
        ("today 5pm", "12-02T17:00:00", true),
        ("at 17:00", "12-02T17:00:00", true),
        ("17:00", "12-02T17:00:00", true),
        ("5.30pm", "12-02T17:30:00", true),
        ("5:30 pm", "12-02T17:30:00", true),
        ("at 17.30", "12-02T17:30:00", true),
        ("17h30", "12-02T17:30:00", true),
        ("17h", "12-02T17:00:00", true),
        ("12am", "12-03T00:00:00", true),
        ("noon", "12-02T12:00:00", true),
        ("à midi", "12-02T12:00:00", true),
        ("at 9:00", "12-03T09:00:00", true),
        ("9h", "12-03T09:00:00", true),
        ("today at 9:00", "12-02T09:00:00", true),
        ("aujourd'hui à 17h", "12-02T17:00:00", true),
        ("AUJOURD'HUI À 17H", "12-02T17:00:00", true),
        ("aujourd’hui a 17h", "12-02T17:00:00", true),
    ];
    check(&cases, &now());
}

#[test]
fn parts_of_the_day() {
    let cases = [
        ("tomorrow morning", "12-03T09:00:00", true),
        ("this afternoon", "12-02T14:00:00", true),
        ("tonight", "12-02T18:00:00", true),
        ("tonight at 8:00", "12-02T20:00:00", true),
        ("this evening", "12-02T18:00:00", true),
        ("this morning", "12-02T09:00:00", true),
        ("in the morning", "12-03T09:00:00", true),
        ("tomorrow", "12-03T09:00:00", false),
        ("Tomorrow!", "12-03T09:00:00", false),
        ("demain", "12-03T09:00:00", false),
        ("après-demain", "12-04T09:00:00", false),
        ("the day after tomorrow", "12-04T09:00:00", false),
        ("demain matin", "12-03T09:00:00", true),
        ("demain soir", "12-03T18:00:00", true),
        ("ce soir", "12-02T18:00:00", true),
        ("cet après-midi", "12-02T14:00:00", true),
        ("cet apres midi", "12-02T14:00:00", true),
        ("demain à 9h30", "12-03T09:30:00", true),
    ];
    check(&cases, &now());
}

#[test]
fn weekdays() {
    let cases = [
        ("Friday 9:30", "12-04T09:30:00", true),
        ("friday at 9.30am", "12-04T09:30:00", true),
        ("on Friday at 9:30", "12-04T09:30:00", true),
        ("vendredi 9h30", "12-04T09:30:00", true),
        ("friday", "12-04T09:00:00", false),
        ("Vendredi", "12-04T09:00:00", false),
        ("fri 10:00", "12-04T10:00:00", true),
        // Today counts while the time is ahead.
        ("wednesday 11:00", "12-02T11:00:00", true),
        ("wednesday 9:00", "12-09T09:00:00", true),
        ("monday 10:00", "12-07T10:00:00", true),
        // interim's Uk "next": the coming one plus a week.
        ("next monday 10:00", "12-14T10:00:00", true),
        ("lundi prochain à 10h", "12-14T10:00:00", true),
        ("next friday", "12-11T09:00:00", false),
        ("this friday", "12-04T09:00:00", false),
        ("next week", "12-09T09:00:00", false),
        ("la semaine prochaine", "12-09T09:00:00", false),
    ];
    check(&cases, &now());
}

#[test]
fn dates() {
    let cases = [
        ("4 December at 10:00", "12-04T10:00:00", true),
        ("December 4 10:00", "12-04T10:00:00", true),
        ("december 4th at 10am", "12-04T10:00:00", true),
        ("le 4 décembre à 10h", "12-04T10:00:00", true),
        ("2026-12-04 10:00", "12-04T10:00:00", true),
        ("04/12 10:00", "12-04T10:00:00", true),
        ("4 december", "12-04T09:00:00", false),
        ("10:00 le 4 decembre", "12-04T10:00:00", true),
        (
            "4 March 10:00",
            "2027-03-04T10:00:00+01:00[Europe/Paris]",
            true,
        ),
        (
            "le 1er mars",
            "2027-03-01T09:00:00+01:00[Europe/Paris]",
            false,
        ),
        ("01/03", "2027-03-01T09:00:00+01:00[Europe/Paris]", false),
        (
            "4/12/2027 10:00",
            "2027-12-04T10:00:00+01:00[Europe/Paris]",
            true,
        ),
        (
            "4 december 2027 10:00",
            "2027-12-04T10:00:00+01:00[Europe/Paris]",
            true,
        ),
        (
            "le 15 juillet à 14h",
            "2027-07-15T14:00:00+02:00[Europe/Paris]",
            true,
        ),
    ];
    check(&cases, &now());
}

#[test]
fn now_words() {
    let n = now();
    for text in [
        "now",
        "asap",
        "ASAP",
        "right now",
        "maintenant",
        "tout de suite",
    ] {
        let f = find(text, &n).unwrap_or_else(|| panic!("{text:?}"));
        assert_eq!((f.at, f.time_given), (n.clone(), true), "for {text:?}");
    }
}

#[test]
fn nothing_time_like() {
    let n = now();
    let texts = "Alice|anyone|yes|hello|cancel|1|2|12|2026|the same person as last time|\
        Monica|David|Send it|I may call|mon ami|Sun|sept|next|at|this|ce n'est pas grave||   |99:99|25:00|\
        13pm|2.50|31/02|00/13|in 999999999999 minutes|in 9999 months|in 0 minutes";
    for text in texts.split('|') {
        let got = find(text, &n).map(|f| f.at.to_string());
        assert_eq!(got, None, "for {text:?}");
    }
}

#[test]
fn conflicting_words_are_not_one_phrase() {
    for span in [
        &["now", "tomorrow"][..],
        &["tomorrow", "friday"],
        &["9:00", "10:00"],
        &["in", "30", "minutes", "tomorrow"],
        &["next"],
        &["tonight", "tomorrow"],
    ] {
        assert!(spec(span).is_none(), "for {span:?}");
    }
    assert!(spec(&["tomorrow", "at", "9:00"]).is_some());
    // A span that fails leaves a shorter one to be found.
    let f = find("now tomorrow", &now()).unwrap();
    assert_eq!((f.at, f.rest.as_str()), (now(), "tomorrow"));
}

#[test]
fn rest_is_the_other_words() {
    let n = now();
    let cases = [
        ("Alice tomorrow at 9:30", "Alice", "2026-12-03T09:30"),
        (
            "callback with Bob friday 10:00",
            "callback with Bob",
            "2026-12-04T10:00",
        ),
        (
            "Bob   in 30 minutes please",
            "Bob please",
            "2026-12-02T10:30",
        ),
        ("Élodie, demain à 9h30 !", "Élodie", "2026-12-03T09:30"),
        ("tomorrow", "", "2026-12-03T09:00"),
        ("Alice at 5pm, thanks.", "Alice thanks", "2026-12-02T17:00"),
    ];
    for (text, rest, when) in cases {
        let f = find(text, &n).unwrap_or_else(|| panic!("{text:?}"));
        assert_eq!(f.rest, rest, "for {text:?}");
        assert_eq!(
            f.at.datetime().to_string(),
            format!("{when}:00"),
            "for {text:?}"
        );
    }
}

#[test]
fn examples_are_understood() {
    for lang in ["en", "fr", "de"] {
        let list = examples(lang);
        assert!(list.len() >= 3);
        for text in list {
            let f = find(text, &now()).unwrap_or_else(|| panic!("{text:?}"));
            assert!(f.time_given && f.rest.is_empty(), "for {text:?}");
        }
    }
    assert_eq!(examples("de"), examples("en"));
    assert_ne!(examples("fr"), examples("en"));
}

#[test]
fn spring_forward() {
    let n: Zoned = "2026-03-28T12:00[Europe/Paris]".parse().unwrap();
    let cases = [
        (
            "tomorrow 9:30",
            "2026-03-29T09:30:00+02:00[Europe/Paris]",
            true,
        ),
        (
            "in 24 hours",
            "2026-03-29T13:00:00+02:00[Europe/Paris]",
            true,
        ),
        ("in 1 day", "2026-03-29T12:00:00+02:00[Europe/Paris]", true),
        (
            "tomorrow 2:30",
            "2026-03-29T03:30:00+02:00[Europe/Paris]",
            true,
        ),
        (
            "demain 2h30",
            "2026-03-29T03:30:00+02:00[Europe/Paris]",
            true,
        ),
    ];
    check(&cases, &n);
}

#[test]
fn fall_back() {
    let n: Zoned = "2026-10-24T12:00[Europe/Paris]".parse().unwrap();
    let cases = [
        (
            "tomorrow 9:30",
            "2026-10-25T09:30:00+01:00[Europe/Paris]",
            true,
        ),
        (
            "in 24 hours",
            "2026-10-25T11:00:00+01:00[Europe/Paris]",
            true,
        ),
        ("in 1 day", "2026-10-25T12:00:00+01:00[Europe/Paris]", true),
        (
            "tomorrow 2:30",
            "2026-10-25T02:30:00+02:00[Europe/Paris]",
            true,
        ),
    ];
    check(&cases, &n);
}

#[test]
fn other_zone_of_now() {
    let n: Zoned = "2026-12-02T10:00[America/New_York]".parse().unwrap();
    let f = find("tomorrow 9:30", &n).unwrap();
    assert_eq!(
        f.at.to_string(),
        "2026-12-03T09:30:00-05:00[America/New_York]"
    );
}

#[test]
fn zones() {
    let (tz, name, rest) = zone_in("Alice America/New_York tomorrow").unwrap();
    assert_eq!(
        (name.as_str(), rest.as_str()),
        ("America/New_York", "Alice tomorrow")
    );
    assert_eq!(tz.iana_name(), Some("America/New_York"));
    let (tz, name, rest) = zone_in("demain 9h europe/paris").unwrap();
    assert_eq!(
        (name.as_str(), rest.as_str()),
        ("Europe/Paris", "demain 9h")
    );
    let paris = jiff::tz::db().get("Europe/Paris").unwrap();
    let t = jiff::Timestamp::from_second(1_780_000_000).unwrap();
    assert_eq!(tz.to_offset(t), paris.to_offset(t));
    let (tz, _, rest) = zone_in("UTC please").unwrap();
    assert_eq!(rest, "please");
    assert_eq!(tz.to_offset(t), jiff::tz::Offset::UTC);
    for text in [
        "Alice",
        "il est 17h",
        "04/12 10:00",
        "Mars/Olympus",
        "",
        "and/or",
    ] {
        assert!(zone_in(text).is_none(), "for {text:?}");
    }
}

#[test]
fn garbage_never_panics() {
    let pieces: Vec<&str> = "in|9999|99:99|h|é|日本|🙂|/|:|.|-|pm|am|next|dans|une|le|31|02|\
        2026-02-30|17h99|demain|friday|mars|999999999999999999999|1er|minutes|half|an|hour|ce|\
        soir|00:00|12/13|0/0|'|l'|  |\u{0}|ß|İ|tonight|today|9999pm"
        .split('|')
        .collect();
    let n = now();
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    let mut found = 0;
    for _ in 0..3000 {
        let mut s = String::new();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        for k in 0..(seed % 12) {
            let p = pieces[((seed >> (k * 5)) % pieces.len() as u64) as usize];
            s.push_str(p);
            if (seed >> k) & 1 == 0 {
                s.push(' ');
            }
        }
        if let Some(f) = find(&s, &n) {
            found += 1;
            let gap = (f.at.timestamp().as_second() - n.timestamp().as_second()).abs();
            assert!(gap <= 5 * 366 * 86_400, "{s:?}");
        }
        let _ = zone_in(&s);
    }
    assert!(found > 0);
    let long = "9".repeat(100_000) + " tomorrow";
    assert_eq!(find(&long, &n).map(|f| f.time_given), Some(false));
    let words = "blah ".repeat(5_000);
    assert!(find(&words, &n).is_none());
}

#[test]
fn worst_case_is_quick() {
    let n = now();
    let start = std::time::Instant::now();
    for text in [
        "at ".repeat(60) + "9:00",
        "le 4 ".repeat(30),
        "tomorrow ".repeat(50),
        "17h ".repeat(50),
    ] {
        let _ = find(&text, &n);
    }
    // Generous: a debug build takes milliseconds.
    assert!(start.elapsed() < std::time::Duration::from_secs(2));
}
