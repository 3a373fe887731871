//! Config loading takes operator input: any bytes give a config or a located error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_kit::config;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = config::load::<tollgate_conformance::ConformanceConfig>(data) {
        assert!(!e.message.is_empty());
    }
});
