//! Addresses as peers write them (RFC 7622).

use jid::Jid;

/// A JID read from a stanza or a stream header. The final dot of a fully
/// qualified domain is not part of it (RFC 7622 §3.2): `a@example.com.` is
/// `a@example.com`, which the jid crate checks but keeps in its string.
/// Only one: `example.com..` has an empty label.
pub fn jid(s: &str) -> Result<Jid, jid::Error> {
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
}
