//! The JWE decoder takes attacker input before any signature is checked: any string
//! gives an inner token or a denial, never a panic, and never echoes the input, for a
//! `dir` key and for an ECDH-ES (X25519) key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_jwt_auth::jwe::{Decryptor, decrypt};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // A fixed 32-byte dir key (base64url of 32 × 0x07).
    let Ok(dir) = Decryptor::direct("BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc") else { return };
    let jwk = serde_json::json!({"kty": "OKP", "crv": "X25519",
                                 "d": "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc"});
    let Some(jwk) = jwk.as_object() else { return };
    let Ok(ecdh) = Decryptor::ecdh_jwk(jwk) else { return };
    for key in [&dir, &ecdh] {
        if let Err(denial) = decrypt(text, key, 1_700_000_000.0) {
            if text.len() > 40 {
                assert!(!denial.message.contains(text));
            }
        }
    }
});
