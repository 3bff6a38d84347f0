//! XEP-0203 delayed delivery: the stamp on a stored message delivered
//! later (offline storage, a session's queued lines).

use super::{escape_attr, ns, Stanza};

/// Adds the XEP-0203 delay stamp to a stored message at delivery.
pub fn with_delay(raw: &str, from: &str, stored_at_ms: i64) -> Option<Stanza> {
    let stamp = chrono_stamp(stored_at_ms);
    let delay = format!(
        "<delay xmlns='{}' from=\"{}\" stamp=\"{stamp}\">Offline storage</delay>",
        ns::DELAY,
        escape_attr(from)
    );
    let stanza = Stanza::parse(raw.to_owned().into()).ok()?;
    Some(stanza.with_child(&delay))
}

/// RFC 3339 UTC with milliseconds, computed without a date library.
pub fn chrono_stamp(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps() {
        assert_eq!(chrono_stamp(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(chrono_stamp(1_795_000_000_123), "2026-11-18T11:06:40.123Z");
    }

    #[test]
    fn delay_goes_inside_the_message() {
        let s = with_delay("<message to='a@b'><body>x</body></message>", "b", 0).unwrap();
        let el = s.element().unwrap();
        assert_eq!(
            el.get_child("delay", ns::DELAY).unwrap().attr("stamp"),
            Some("1970-01-01T00:00:00.000Z")
        );
        // Blanks anywhere the tag allows them, and after it.
        for raw in [
            "<message to='a@b'/>",
            "<message\tto='a@b'/>",
            "<message\r\nto='a@b'\n/>",
            "<message to='a@b'/> \n",
            "<message to='a@b'><body>x</body></message >\t",
        ] {
            let s = with_delay(raw, "b", 0).unwrap();
            let again = Stanza::parse(s.bytes().clone()).unwrap();
            assert_eq!(again.to(), Some("a@b"), "{raw}");
            assert!(
                again.element().unwrap().has_child("delay", ns::DELAY),
                "{raw}"
            );
        }
    }
}
