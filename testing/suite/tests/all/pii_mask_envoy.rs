//! Tier 3 through real Envoy with two workers: jwt-auth then pii-mask in front of an
//! origin that sends its body in chunks with pauses, each value cut across two chunks.
//! The client gets the masked body (valid JSON for JSON), without a stale
//! `content-length`; a gzip body is decoded and masked; a compliance caller sees the
//! origin's bytes; a body found over the limit while streaming is reset, never cut
//! short into something that looks whole.

use std::io::Write as _;
use std::sync::Arc;

use anyhow::Result;
use serde_json::{Value, json};
use tollgate_envoy_harness::{Envoy, EnvoyConfig, FailurePolicy, HttpRequest, WasmFilter};
use tollgate_host_suite::chunked_origin::{ChunkedOrigin, ChunkedReply};
use tollgate_host_suite::tokens::{self, es256};
use tollgate_host_suite::wasm_path;

/// A JSON body cut inside an email, a card, an IP address and a phone number.
pub const JSON_CHUNKS: [&str; 5] = [
    r#"{"users": [{"name": "Jane", "email": "jane.d"#,
    r#"oe@example.com", "card": "4111 1111 11"#,
    r#"11 1111", "password": "hunter2", "ip": "192.168."#,
    r#"10.42"}], "note": "call +1 415 5"#,
    r#"55 2671", "ok": true}"#,
];

pub const JSON_MASKED: &str = r#"{"users": [{"name": "Jane", "email": "[EMAIL]", "card": "**** **** **** 1111", "ip": "[IP]"}], "note": "call [PHONE]", "ok": true}"#;

/// Server-sent events whose lines are cut inside a JWT and an IBAN.
pub const TEXT_CHUNKS: [&str; 3] = [
    "data: token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIx",
    "MjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U\n\ndata: pay DE89 3704 00",
    "44 0532 0130 00 now\n\n",
];

pub const TEXT_MASKED: &str = "data: token [SECRET]\n\ndata: pay [IBAN] now\n\n";

pub fn mask_config() -> Value {
    json!({
        "detectors": {"card": {"action": {"type": "partial"}}},
        "fields": [{"pointer": "/**/password", "rule": "drop"}],
        "exempt": {"claims": [{"claim": "roles", "value": "compliance"}]},
        "max_body_bytes": 65536
    })
}

pub fn origin() -> Result<ChunkedOrigin> {
    ChunkedOrigin::start(Arc::new(|path: &str| {
        let chunks = |c: &[&str]| c.iter().map(|s| s.as_bytes().to_vec()).collect();
        match path {
            "/users" => Some(ChunkedReply {
                content_type: "application/json".into(),
                headers: vec![("etag".into(), "\"v7\"".into())],
                chunks: chunks(&JSON_CHUNKS),
            }),
            "/events" => Some(ChunkedReply {
                content_type: "text/event-stream".into(),
                headers: vec![],
                chunks: chunks(&TEXT_CHUNKS),
            }),
            "/gzip" => {
                let mut gz =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                let _ = gz.write_all(JSON_CHUNKS.concat().as_bytes());
                let bytes = gz.finish().unwrap_or_default();
                Some(ChunkedReply {
                    content_type: "application/json".into(),
                    headers: vec![("content-encoding".into(), "gzip".into())],
                    chunks: bytes.chunks(40).map(<[u8]>::to_vec).collect(),
                })
            }
            "/huge" => Some(ChunkedReply {
                content_type: "text/plain".into(),
                headers: vec![],
                chunks: (0..40)
                    .map(|i| format!("line {i} {}\n", "x".repeat(4000)).into_bytes())
                    .collect(),
            }),
            _ => None,
        }
    }))
}

pub fn bearer(roles: &str) -> Result<String> {
    Ok(format!(
        "Bearer {}",
        es256(
            &json!({"iss": "https://idp.test", "aud": "api", "sub": "u", "roles": [roles],
                      "exp": tokens::now() + 3600})
        )?
    ))
}

pub fn jwt_config() -> Result<Value> {
    Ok(json!({
        "providers": {"idp": {"issuer": "https://idp.test", "audiences": ["api"],
                              "keys": {"jwks": tokens::es_jwks()?}}},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider": "idp"}}]
    }))
}

fn start(origin: &ChunkedOrigin) -> Result<Envoy> {
    Envoy::start(
        &EnvoyConfig::new(origin.addr())
            .filter(
                WasmFilter::new("jwt-auth", &wasm_path("jwt-auth")?)
                    .config(&jwt_config()?.to_string())
                    .failure_policy(FailurePolicy::FailClosed),
            )
            .filter(
                WasmFilter::new("pii-mask", &wasm_path("pii-mask")?)
                    .config(&mask_config().to_string())
                    .failure_policy(FailurePolicy::FailClosed),
            )
            .concurrency(2),
    )
}

#[test]
fn values_straddling_chunks_are_masked_through_real_envoy() -> Result<()> {
    let origin = origin()?;
    let envoy = start(&origin)?;
    let viewer = bearer("viewer")?;
    for _ in 0..3 {
        let r = envoy.send(&HttpRequest::get("/users").header("authorization", &viewer))?;
        assert_eq!(r.status, 200, "{}", envoy.log_tail());
        assert_eq!(r.body_text(), JSON_MASKED, "{}", envoy.log_tail());
        serde_json::from_slice::<Value>(&r.body)?;
        assert_eq!(r.header("content-length"), None);
        assert_eq!(r.header("etag"), Some("W/\"v7\""));

        let sse = envoy.send(&HttpRequest::get("/events").header("authorization", &viewer))?;
        assert_eq!(sse.body_text(), TEXT_MASKED, "{}", envoy.log_tail());

        let gz = envoy.send(
            &HttpRequest::get("/gzip")
                .header("authorization", &viewer)
                .header("accept-encoding", "gzip"),
        )?;
        assert_eq!(gz.body_text(), JSON_MASKED, "{}", envoy.log_tail());
        assert_eq!(gz.header("content-encoding"), None);
    }
    assert_eq!(
        envoy.stat("wasmcustom.pii_mask.matches.email")?,
        Some(6),
        "one per JSON body"
    );
    assert_eq!(envoy.stat("wasmcustom.pii_mask.matches.jwt")?, Some(3));
    assert_eq!(envoy.stat("wasmcustom.pii_mask.matches.iban")?, Some(3));

    let officer =
        envoy.send(&HttpRequest::get("/users").header("authorization", &bearer("compliance")?))?;
    assert_eq!(officer.body_text(), JSON_CHUNKS.concat(), "exempt by claim");
    Ok(())
}

#[test]
fn a_body_found_over_the_limit_is_reset_not_cut_short() -> Result<()> {
    let origin = origin()?;
    let envoy = start(&origin)?;
    let r = envoy.send(&HttpRequest::get("/huge").header("authorization", &bearer("viewer")?));
    match r {
        // The client sees the stream fail...
        Err(_) => {}
        // ...or, had headers and the first chunks been read already, never a body that
        // ends cleanly with the rest missing.
        Ok(resp) => panic!("a clean {}-byte response: {}", resp.body.len(), resp.status),
    }
    assert_eq!(envoy.stat("wasmcustom.pii_mask.blocked.oversize")?, Some(1));
    // The proxy is fine: the next request is served.
    let ok = envoy.send(&HttpRequest::get("/users").header("authorization", &bearer("viewer")?))?;
    assert_eq!(ok.body_text(), JSON_MASKED);
    Ok(())
}
