//! Config loading takes operator input: any bytes give a config or a located error,
//! for every filter's config type.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_kit::config;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = config::load::<tollgate_conformance::ConformanceConfig>(data) {
        assert!(!e.message.is_empty());
    }
    if let Err(e) = config::load::<tollgate_jwt_auth::config::JwtAuthConfig>(data) {
        assert!(!e.message.is_empty());
    }
});
