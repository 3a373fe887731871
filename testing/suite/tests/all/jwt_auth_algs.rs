//! Every algorithm through the built filter, with the committed test keys.

use anyhow::Result;
use serde_json::json;
use tollgate_host_suite::tokens::{self, ALGS};
use tollgate_host_suite::wasm;
use tollgate_wasm_host::{Plugin, Profile, Request};

#[test]
fn every_algorithm_verifies_in_wasm_and_tampering_fails() -> Result<()> {
    let config = json!({"providers": {"idp": {"keys": {"jwks": tokens::every_jwks()?}}},
                        "rules": [{"match": {"prefix": "/"}, "requires": {"provider": "idp"}}],
                        "cache_entries": 0});
    let mut p = Plugin::builder(&wasm("jwt-auth")?)
        .profile(Profile::Envoy)
        .config(config.to_string())
        .build()?;
    for alg in ALGS {
        let token = tokens::sign(alg, &json!({"sub": "a", "exp": tokens::now() + 60}))?;
        let ok = p.send(Request::get("/x").header("authorization", &format!("Bearer {token}")))?;
        assert_eq!(ok.client.status, 200, "{alg}: {}", ok.client.body_text());
        // Flip one signature character.
        let mut bad = token.clone().into_bytes();
        let last = bad.len() - 2;
        bad[last] = if bad[last] == b'A' { b'B' } else { b'A' };
        let bad = String::from_utf8(bad)?;
        let out = p.send(Request::get("/x").header("authorization", &format!("Bearer {bad}")))?;
        assert_eq!(out.client.status, 401, "{alg}");
    }
    Ok(())
}
