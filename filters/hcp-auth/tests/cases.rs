//! Config errors from tests/cases/config.json: each names the field and says what was
//! expected.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test helpers

use tollgate_hcp_auth::config::HcpAuthConfig;
use tollgate_kit::config;

#[test]
fn config_error_cases() {
    let failures = config::error_case_failures::<HcpAuthConfig>(include_str!("cases/config.json"));
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_documented_example_is_valid() {
    let example = r#"{"hcp_domain": "hcp.example.com",
        "trusted_payload_header": "x-tollgate-jwt-payload",
        "token_cookie": "hcp_token",
        "routes": [{"match": {"prefix": "/mapi/"}, "mode": "management"},
                   {"match": {"prefix": "/"}, "mode": "s3"}]}"#;
    assert!(config::load::<HcpAuthConfig>(example.as_bytes()).is_ok());
}
