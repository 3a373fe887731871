//! The cost of an encrypted token per decryption mode: `dir` (recommended), ECDH-ES
//! on X25519 with AES key wrap, and RSA-OAEP-256 (opt-in only), natively (the
//! decision over plain data) and in wasm (the built filter in the wasmtime host). The
//! inner token is HS256 and the token cache is off, so the rows differ by the
//! decryption alone. Report ratios within one run, never absolute times.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // benchmark code: a broken setup fails the run

use std::hint::black_box;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use tollgate_host_suite::tokens;
use tollgate_host_suite::wasm;
use tollgate_jwt_auth::config::JwtAuthConfig;
use tollgate_jwt_auth::decide::{NoRemoteKeys, RequestView};
use tollgate_wasm_host::{Plugin, Request, UpstreamReply};

fn config(decryption: Value) -> Value {
    json!({"providers": {"idp": {"keys": {"jwks": tokens::hs_jwks()},
                                 "decryption": decryption, "require_encryption": true}},
           "rules": [{"match": {"prefix": "/"}, "requires": {"provider": "idp"}}],
           "cache_entries": 0})
}

fn bench(c: &mut Criterion) {
    let wasm_bytes = wasm("jwt-auth").expect("run scripts/build-wasm first");
    let inner =
        tokens::hs256(&json!({"sub": "alice", "exp": tokens::now() + 86_400})).expect("token");
    let rsa_pem = tokens::rsa_private_pem().expect("key");
    let modes = [
        (
            "dir",
            json!({"dir": {"key": URL_SAFE_NO_PAD.encode([7u8; 32])}}),
            tokens::encrypt_dir(&inner, &[7u8; 32], [1u8; 12]).expect("jwe"),
        ),
        (
            "ecdh_es_x25519_a256kw",
            json!({"ecdh_es": {"private_key": tokens::ecdh_private_jwk()}}),
            tokens::encrypt_ecdh(&inner).expect("jwe"),
        ),
        (
            "rsa_oaep_256",
            json!({"rsa_oaep_256": {"private_key": rsa_pem, "accept_rustsec_2023_0071": true,
                                    "max_decryptions_per_second": 10000}}),
            tokens::encrypt_rsa(&inner).expect("jwe"),
        ),
    ];
    let mut group = c.benchmark_group("jwe");
    for (name, decryption, jwe) in modes {
        let cfg = config(decryption);
        let compiled = tollgate_kit::config::load::<JwtAuthConfig>(cfg.to_string().as_bytes())
            .expect("config");
        let headers = vec![
            (":path".to_string(), "/api".to_string()),
            (":method".to_string(), "GET".to_string()),
            ("authorization".to_string(), format!("Bearer {jwe}")),
        ];
        group.bench_function(format!("native_decide/{name}"), |b| {
            b.iter(|| {
                let view = RequestView {
                    method: "GET",
                    path: "/api",
                    headers: &headers,
                };
                black_box(compiled.decide(&view, tokens::now() as f64, &NoRemoteKeys))
            })
        });
        let mut plugin = Plugin::builder(&wasm_bytes)
            .named("jwt-auth")
            .config(cfg.to_string())
            .build()
            .expect("plugin");
        plugin.upstream(|_| UpstreamReply::ok("ok"));
        let request = || Request::get("/api").header("authorization", &format!("Bearer {jwe}"));
        let probe = plugin.send(request()).expect("send");
        assert_eq!(
            probe.client.status,
            200,
            "{name}: {}",
            probe.client.body_text()
        );
        group.bench_function(format!("wasm_filter/{name}"), |b| {
            b.iter(|| plugin.send(request()).expect("send"))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(2)).warm_up_time(std::time::Duration::from_millis(500));
    targets = bench
}
criterion_main!(benches);
