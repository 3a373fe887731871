//! rego-authz builds the OPA-Envoy input from attacker-controlled parts: the path and
//! query, header values, the body and its content type, and the payload header. Any of
//! them gives an input document or a clear refusal, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_rego_authz::input::{Body, Request, build};

fuzz_target!(|data: &[u8]| {
    // Split the bytes, then read each half (a split of the text could cut a character).
    let (a, b) = data.split_at(data.len() / 2);
    let (path, rest) = (String::from_utf8_lossy(a), String::from_utf8_lossy(b));
    let (path, rest) = (path.as_ref(), rest.as_ref());
    for ct in ["application/json", "application/x-www-form-urlencoded", "text/plain"] {
        let headers = vec![
            (":method".to_string(), "POST".to_string()),
            (":path".to_string(), format!("/{path}")),
            ("content-type".to_string(), ct.to_string()),
            ("content-length".to_string(), rest.len().to_string()),
            ("x-h".to_string(), rest.to_string()),
        ];
        let _ = build(&Request {
            headers: &headers,
            source: Some(rest),
            destination: Some(path),
            body: Some(Body { bytes: data, truncated: data.len() % 3 == 0 }),
            token_payload: Some(rest),
            ..Request::default()
        });
    }
});
