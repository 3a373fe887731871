//! The JWT parser takes attacker input: any string gives a token or a denial with a
//! stable code, never a panic, and a denial never echoes the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_jwt_auth::token::{DEFAULT_MAX_BYTES, parse};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err(denial) = parse(text, DEFAULT_MAX_BYTES, &["exp"]) {
        assert!(!denial.code.as_str().is_empty());
        if text.len() > 40 {
            assert!(!denial.message.contains(text));
        }
    }
});
