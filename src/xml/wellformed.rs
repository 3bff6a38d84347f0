//! The character and name rules of XML 1.0 (§2.2, §2.3) and Namespaces in
//! XML (§3) that quick-xml leaves to its callers: what a character
//! reference may stand for, and what may be an element's or an
//! attribute's name.

/// The longest name or attribute value taken, in bytes as written: rxml
/// (minidom's reader) refuses one of 8192 bytes or more, and what is framed
/// must read as a tree. No XMPP name or address comes near it (a JID is at
/// most 3071 bytes).
pub(super) const MAX_TOKEN_BYTES: usize = 8191;

/// The most digits a character reference may have. rxml refuses references
/// longer than 8; a code point needs at most 7 decimal or 6 hex digits, so
/// only zero padding (`&#x0000000B7;`, which XML allows) is refused.
const MAX_REFERENCE_DIGITS: usize = 7;

/// Whether every character reference in `s` (text or an attribute value,
/// as written) has at most [`MAX_REFERENCE_DIGITS`] digits.
pub(super) fn references_short(s: &str) -> bool {
    s.match_indices("&#").all(|(i, _)| {
        let rest = &s.as_bytes()[i + 2..];
        let rest = rest.strip_prefix(b"x").unwrap_or(rest);
        rest.iter()
            .take_while(|b| b.is_ascii_alphanumeric())
            .count()
            <= MAX_REFERENCE_DIGITS
    })
}

/// `Char` (XML 1.0 §2.2): what text and attribute values may contain,
/// written or as a character reference.
pub(super) fn is_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// XML 1.0's, less `#xFDF0-#xFFFD`, which rxml (minidom, xmpp-parsers)
/// refuses: what the framer accepts must read as a tree.
fn is_name_start(c: char) -> bool {
    matches!(c,
        'A'..='Z' | '_' | 'a'..='z' | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}'
        | '\u{F8}'..='\u{2FF}' | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}'
        | '\u{200C}'..='\u{200D}' | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}'
        | '\u{3001}'..='\u{D7FF}' | '\u{F900}'..='\u{FDCF}' | '\u{10000}'..='\u{EFFFF}')
}

fn is_name_char(c: char) -> bool {
    is_name_start(c)
        || matches!(c, '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

/// `NCName`: a name without a colon.
fn is_ncname(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(is_name_start) && chars.all(is_name_char)
}

/// `QName` (Namespaces in XML §4): `local` or `prefix:local`.
pub(super) fn is_qname(name: &[u8]) -> bool {
    let Ok(name) = std::str::from_utf8(name) else {
        return false;
    };
    match name.split_once(':') {
        Some((prefix, local)) => is_ncname(prefix) && is_ncname(local),
        None => is_ncname(name),
    }
}
