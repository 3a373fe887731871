//! `tollgate bench-jwt`: wrk through real Envoy, jwt-auth against Envoy's native
//! `jwt_authn`, with the same provider (issuer, audience, inline JWKS), the same token,
//! the same outputs (payload header, `sub` to `x-user`, token stripped), in one run.

use std::path::Path;

use anyhow::Result;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tollgate_envoy_harness::{Envoy, EnvoyConfig, Upstream, WasmFilter};

use crate::bench::{Case, ensure_all_pass, measure, p50_of, print_heading, print_table};
use crate::demo_idp;

const SECRET: &[u8] = b"tollgate-bench-secret-0123456789";

fn jwks() -> Result<Value> {
    let mut jwks: Value = serde_json::from_str(demo_idp::JWKS)?;
    if let Some(keys) = jwks.get_mut("keys").and_then(Value::as_array_mut) {
        keys.push(json!({"kty": "oct", "kid": "hs1", "alg": "HS256",
                         "k": URL_SAFE_NO_PAD.encode(SECRET)}));
    }
    Ok(jwks)
}

fn token(alg: Algorithm) -> Result<String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let claims = json!({"iss": demo_idp::ISSUER, "aud": demo_idp::AUDIENCE, "sub": "bench",
                        "iat": now, "exp": now + 3600});
    let mut header = Header::new(alg);
    let key = if alg == Algorithm::HS256 {
        header.kid = Some("hs1".into());
        EncodingKey::from_secret(SECRET)
    } else {
        header.kid = Some("es1".into());
        demo_idp::signing_key()?
    };
    Ok(jsonwebtoken::encode(&header, &claims, &key)?)
}

/// Envoy's `jwt_authn` with the same provider, as a raw http filter entry.
fn native_filter(jwks: &Value, cache: bool) -> String {
    let cache = if cache {
        "\n      jwt_cache_config: {jwt_cache_size: 1024}"
    } else {
        ""
    };
    format!(
        r#"name: envoy.filters.http.jwt_authn
typed_config:
  "@type": type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication
  providers:
    idp:
      issuer: {issuer}
      audiences: [{aud}]
      local_jwks: {{inline_string: '{jwks}'}}
      forward: false
      forward_payload_header: x-tollgate-jwt-payload
      claim_to_headers: [{{header_name: x-user, claim_name: sub}}]{cache}
  rules:
  - match: {{prefix: /}}
    requires: {{provider_name: idp}}"#,
        issuer = demo_idp::ISSUER,
        aud = demo_idp::AUDIENCE,
    )
}

fn ours(jwks: &Value, cache_entries: usize) -> String {
    json!({"providers": {"idp": {"issuer": demo_idp::ISSUER, "audiences": [demo_idp::AUDIENCE],
                                 "keys": {"jwks": jwks},
                                 "claim_headers": [{"claim": "sub", "header": "x-user"}]}},
           "rules": [{"match": {"prefix": "/"}, "requires": {"provider": "idp"}}],
           "cache_entries": cache_entries})
    .to_string()
}

fn case<'a>(name: &str, envoy: &'a Envoy, auth: &str) -> Case<'a> {
    Case {
        name: name.to_string(),
        envoy,
        path: "/api/items",
        headers: if auth.is_empty() {
            vec![]
        } else {
            vec![auth.to_string()]
        },
    }
}

pub fn run(seconds: u64, dist: &Path) -> Result<()> {
    let wasm = dist.join("jwt-auth.wasm");
    let jwks = jwks()?;
    let upstream = Upstream::start()?;
    let base = || EnvoyConfig::new(upstream.addr());
    let with_native = |cache| {
        let mut c = base();
        c.native_filters.push(native_filter(&jwks, cache));
        Envoy::start(&c)
    };
    let with_ours = |cache_entries| {
        Envoy::start(
            &base().filter(WasmFilter::new("jwt-auth", &wasm).config(&ours(&jwks, cache_entries))),
        )
    };
    let bare = Envoy::start(&base())?;
    let empty = Envoy::start(&base().filter(WasmFilter::new(
        "empty",
        &dist.join("fixtures").join("empty-filter.wasm"),
    )))?;
    let native = with_native(false)?;
    let native_cached = with_native(true)?;
    let ours_default = with_ours(1024)?;
    let ours_uncached = with_ours(0)?;
    let hs = format!("authorization: Bearer {}", token(Algorithm::HS256)?);
    let es = format!("authorization: Bearer {}", token(Algorithm::ES256)?);
    let cases = vec![
        case("no filter", &bare, ""),
        case("empty wasm filter", &empty, ""),
        case("HS256 · Envoy jwt_authn", &native, &hs),
        case("HS256 · Envoy jwt_authn + jwt_cache", &native_cached, &hs),
        case(
            "HS256 · jwt-auth (default: token cache on)",
            &ours_default,
            &hs,
        ),
        case("HS256 · jwt-auth, token cache off", &ours_uncached, &hs),
        case("ES256 · Envoy jwt_authn", &native, &es),
        case("ES256 · Envoy jwt_authn + jwt_cache", &native_cached, &es),
        case(
            "ES256 · jwt-auth (default: token cache on)",
            &ours_default,
            &es,
        ),
        case("ES256 · jwt-auth, token cache off", &ours_uncached, &es),
    ];
    ensure_all_pass(&cases)?;
    let results = measure(&cases, seconds, 2)?;
    let p50 = |name: &str| p50_of(&results, name);
    print_heading(
        "jwt-auth vs Envoy's native jwt_authn, through real Envoy",
        seconds,
        "token",
    )?;
    let base_p50 = print_table(&results);
    println!("\nAdded p50 latency, jwt-auth over jwt_authn (the goal is at most 1.5×):\n");
    for alg in ["HS256", "ES256"] {
        let native = p50(&format!("{alg} · Envoy jwt_authn")) - base_p50;
        let cached = p50(&format!("{alg} · jwt-auth (default: token cache on)")) - base_p50;
        let uncached = p50(&format!("{alg} · jwt-auth, token cache off")) - base_p50;
        println!(
            "- {alg}: {:.2}× with the token cache (default), {:.2}× without",
            cached / native,
            uncached / native
        );
    }
    println!(
        "\nAbsolute times on this machine are not stable; compare the ratios within this run."
    );
    drop(upstream);
    Ok(())
}
