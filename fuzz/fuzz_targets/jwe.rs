//! The JWE decoder takes attacker input before any signature is checked: any string
//! gives an inner token or a denial, never a panic, and never echoes the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_jwt_auth::jwe::{Decryptor, decrypt};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // A fixed 32-byte dir key (base64url of 32 × 0x07).
    let Ok(key) = Decryptor::direct("BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc") else { return };
    if let Err(denial) = decrypt(text, &key) {
        if text.len() > 40 {
            assert!(!denial.message.contains(text));
        }
    }
});
