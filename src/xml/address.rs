//! Addresses as peers write them (RFC 7622).

use jid::Jid;

/// A JID read from a stanza or a stream header. The final dot of a fully
/// qualified domain is not part of it (RFC 7622 §3.2): `a@example.com.` is
/// `a@example.com`, which the jid crate checks but keeps in its string.
/// Only one: `example.com..` has an empty label.
pub fn jid(s: &str) -> Result<Jid, jid::Error> {
    stable(dotless(s)?)
}

/// PRECIS is not idempotent for every string (RFC 8264 §7): `Ϲ` (U+03F9)
/// prepares to `Σ`, which prepares again to `σ`. A JID must equal what it
/// prints as, or two spellings of one address would route apart: prepare
/// again until nothing changes, and refuse a string that keeps changing.
fn stable(mut j: Jid) -> Result<Jid, jid::Error> {
    for _ in 0..3 {
        let again = Jid::new(j.as_str())?;
        if again == j {
            return Ok(j);
        }
        j = again;
    }
    Err(jid::Error::NodePrep)
}

fn dotless(s: &str) -> Result<Jid, jid::Error> {
    let j = Jid::new(s)?;
    // Read off the JID's own string: the crate's parts of such a JID are
    // cut one byte off, and nameprep may make the dot (U+FF0E).
    let Some(fixed) = without_final_dot(j.as_str())? else {
        return Ok(j);
    };
    let j = Jid::new(&fixed)?;
    match without_final_dot(j.as_str())? {
        None => Ok(j),
        Some(_) => Err(jid::Error::Idna),
    }
}

/// `node@domain/resource` with one final dot of the domain dropped, if it
/// has one; an error if another is left.
fn without_final_dot(s: &str) -> Result<Option<String>, jid::Error> {
    let (bare, resource) = match s.split_once('/') {
        Some((bare, resource)) => (bare, Some(resource)),
        None => (s, None),
    };
    let Some(stripped) = bare.strip_suffix('.') else {
        return Ok(None);
    };
    if stripped.ends_with('.') || stripped.ends_with('@') || stripped.is_empty() {
        return Err(jid::Error::Idna);
    }
    Ok(Some(match resource {
        Some(r) => format!("{stripped}/{r}"),
        None => stripped.to_string(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_final_dot_is_dropped() {
        for (given, read) in [
            ("a@example.com.", "a@example.com"),
            ("example.com./r.", "example.com/r."),
            ("a@example.com/r", "a@example.com/r"),
        ] {
            assert_eq!(jid(given).unwrap(), Jid::new(read).unwrap(), "{given}");
            assert_eq!(jid(given).unwrap().to_string(), read);
        }
        assert!(jid("a@example.com..").is_err());
    }

    #[test]
    fn what_prepares_differently_twice_is_prepared_until_stable() {
        let j = jid("\u{3f9}et@cu.").unwrap();
        assert_eq!(jid(j.as_str()).unwrap(), j);
        assert_eq!(j, Jid::new(j.as_str()).unwrap());
    }
}
