//! hcp-auth reads attacker-influenced input: the payload header, claim values, and the
//! request path and query it canonicalises for SigV4. Any input gives a decision,
//! never a panic, and a refusal never carries the password.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_hcp_auth::config::HcpAuthConfig;
use tollgate_hcp_auth::credentials::{claims, extract};
use tollgate_hcp_auth::decide::{Decision, RequestView};
use tollgate_kit::config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(cfg) = config::load::<HcpAuthConfig>(
        br#"{"hcp_domain":"hcp.test","trusted_payload_header":"x-p","default_mode":"s3"}"#,
    ) else {
        return;
    };
    // The input serves as the property, the payload header, and the path.
    let found = claims(Some(data), Some(text));
    let creds = extract(found.as_ref(), &cfg.claims);
    let headers = vec![("x-amz-meta-a".to_string(), text.to_string())];
    let path = format!("/{text}");
    let view = RequestView { method: "PUT", path: &path, headers: &headers };
    if let Decision::Deny(r) = cfg.decide(&view, creds.as_ref(), 1_700_000_000, None) {
        assert!(!r.body.contains("password\":\""));
    }
});
