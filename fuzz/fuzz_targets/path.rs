//! Request paths are attacker input that decides which rule applies: normalization
//! never panics, its output is a fixed point (normalizing again changes nothing), holds
//! no dot-segment and no empty segment, and never decodes into a slash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_kit::path::normalize;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(normal) = normalize(text) else { return };
    let again = normalize(&normal);
    assert_eq!(again.as_deref().ok(), Some(normal.as_ref()), "not a fixed point: {text:?}");
    let path = normal.split('?').next().unwrap_or_default();
    assert!(path.starts_with('/'));
    for segment in path.split('/').skip(1) {
        assert!(segment != "." && segment != "..", "dot-segment left: {text:?}");
    }
    assert!(!path.contains("//"), "empty segment left: {text:?}");
    let lower = path.to_ascii_lowercase();
    assert!(!lower.contains("%2f") && !lower.contains("%5c"));
});
