//! Configs that must be refused (`tests/cases/config/*.yaml`): each names the field and
//! says what was expected.

use tollgate_hcp_auth::config::HcpAuthConfig;
use tollgate_kit::{HostFacts, config};

fn errors_file(path: &std::path::Path) {
    tollgate_cases::run_config_errors(path, |bytes| {
        tollgate_hcp_auth::config::load(bytes, HostFacts::default())
    });
}

tollgate_cases::case_files!(dir: "tests/cases/config", run: errors_file, files: [errors]);

#[test]
fn the_documented_example_is_valid() {
    let example = r#"{"hcp_domain": "hcp.example.com",
        "trusted_payload_header": "x-tollgate-jwt-payload",
        "token_cookie": "hcp_token",
        "routes": [{"match": {"prefix": "/mapi/"}, "mode": "management"},
                   {"match": {"prefix": "/"}, "mode": "s3"}]}"#;
    assert!(config::load::<HcpAuthConfig>(example.as_bytes()).is_ok());
}
