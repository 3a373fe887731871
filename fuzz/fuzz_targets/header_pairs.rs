//! The header-pairs decoder reads bytes a host hands the filter: it must never panic,
//! and whatever it accepts must re-encode to the bytes it read (slack after the last
//! pair, which APISIX leaves, is ignored).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_kit::pairs;

fuzz_target!(|data: &[u8]| {
    if let Ok(decoded) = pairs::decode(data) {
        if !data.is_empty() {
            let encoded = pairs::encode(&decoded);
            assert_eq!(data.get(..encoded.len()), Some(encoded.as_slice()));
        }
    }
    let _ = pairs::decode_lossy(data);
});
