//! The header-pairs decoder reads bytes a host hands the filter: it must never panic,
//! and whatever it accepts must re-encode to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_kit::pairs;

fuzz_target!(|data: &[u8]| {
    if let Ok(decoded) = pairs::decode(data) {
        if !data.is_empty() {
            assert_eq!(pairs::encode(&decoded), data);
        }
    }
    let _ = pairs::decode_lossy(data);
});
