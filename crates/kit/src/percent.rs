//! Percent-encoding (RFC 3986 §2.1), shared by every filter that reads paths and
//! queries: the kit's path normalization and hcp-auth's SigV4 canonical form.

/// The value of one hex digit.
pub fn hex_digit(d: u8) -> Option<u8> {
    match d {
        b'0'..=b'9' => Some(d - b'0'),
        b'a'..=b'f' => Some(d - b'a' + 10),
        b'A'..=b'F' => Some(d - b'A' + 10),
        _ => None,
    }
}

/// The byte `%XX` at `bytes[at..]` stands for, if a well-formed escape starts there.
pub fn escape_at(bytes: &[u8], at: usize) -> Option<u8> {
    if bytes.get(at) != Some(&b'%') {
        return None;
    }
    let hi = bytes.get(at + 1).copied().and_then(hex_digit)?;
    let lo = bytes.get(at + 2).copied().and_then(hex_digit)?;
    Some(hi << 4 | lo)
}

/// Percent-decodes `s`; malformed escapes stay as they are. With `plus_is_space`, a raw
/// `+` is a space (form encoding, as in query strings).
pub fn decode(s: &str, plus_is_space: bool) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if let Some(decoded) = escape_at(bytes, i) {
            out.push(decoded);
            i += 3;
            continue;
        }
        out.push(if plus_is_space && b == b'+' { b' ' } else { b });
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(escape_at(b"%2f", 0), Some(b'/'));
        assert_eq!(escape_at(b"x%4A", 1), Some(b'J'));
        assert_eq!(escape_at(b"%4", 0), None);
        assert_eq!(escape_at(b"%g0", 0), None);
        assert_eq!(escape_at(b"a", 0), None);
        assert_eq!(decode("a%20b+c%zz%", false), b"a b+c%zz%");
        assert_eq!(decode("a+b", true), b"a b");
        for (d, v) in [
            (b'0', 0),
            (b'9', 9),
            (b'a', 10),
            (b'f', 15),
            (b'A', 10),
            (b'F', 15),
        ] {
            assert_eq!(hex_digit(d), Some(v));
        }
        assert_eq!(hex_digit(b'g'), None);
        assert_eq!(hex_digit(b'/'), None);
    }
}
