use super::*;

#[test]
fn known_headers() {
    // The md5 values are RFC 1321's test suite.
    assert_eq!(access_key("lgreen"), "bGdyZWVu");
    assert_eq!(secret_key(""), "d41d8cd98f00b204e9800998ecf8427e");
    assert_eq!(secret_key("abc"), "900150983cd24fb0d6963f7d28e17f72");
    assert_eq!(
        secret_key(
            "12345678901234567890123456789012345678901234567890123456789012345678901234567890"
        ),
        "57edf4a22be3c955ac49da2e2107b67a"
    );
    assert_eq!(
        authorization("lgreen", "abc"),
        "HCP bGdyZWVu:900150983cd24fb0d6963f7d28e17f72"
    );
    // Non-ASCII user names are encoded as UTF-8 before base64.
    assert_eq!(access_key("jürgen"), "asO8cmdlbg==");
}
