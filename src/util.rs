//! Small helpers with no better home.

use rand::distributions::Alphanumeric;
use rand::Rng;

/// A random identifier of `len` letters and digits, for stream ids,
/// resources and stream-management ids: unguessable, safe in XML and JIDs.
pub fn random_id(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Lowercase hexadecimal, as MACs and keys travel in URLs and XML.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes `hex` wrote; None for anything else.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    // `from_str_radix` would take a sign too: "+f" is not hex.
    if s.len() % 2 != 0 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unhex_reads_only_hex() {
        assert_eq!(unhex("00ffA0").unwrap(), vec![0, 0xff, 0xa0]);
        assert_eq!(unhex(&hex(&[1, 2, 254])).unwrap(), vec![1, 2, 254]);
        for bad in ["+f", "-f", "0", "zz", "+0ff", " 0", "é0"] {
            assert_eq!(unhex(bad), None, "{bad}");
        }
    }
}
