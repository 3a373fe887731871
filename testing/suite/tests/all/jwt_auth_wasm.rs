//! Tier 2: the built `dist/jwt-auth.wasm` in the wasmtime host, under the Envoy, APISIX
//! and Kong profiles, with JWKS callouts that fail, hang or return garbage.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::Result;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use tollgate_host_suite::tokens::{self, encrypt_dir, es256, hs256};
use tollgate_host_suite::wasm;
use tollgate_wasm_host::{Cluster, HttpReply, Outcome, Plugin, Profile, Request};

fn claims(extra: Value) -> Value {
    let mut c = json!({"iss": "https://idp.test", "aud": "api", "sub": "alice",
                       "exp": tokens::now() + 3600, "iat": tokens::now()});
    if let (Some(c), Some(extra)) = (c.as_object_mut(), extra.as_object()) {
        c.extend(extra.clone());
    }
    c
}

/// [`inline_config`] without the query source, which Kong refuses (a rewritten path
/// never reaches its upstream).
fn inline_config_for(profile: Profile) -> Value {
    let mut config = inline_config();
    if profile == Profile::Kong {
        config["providers"]["idp"]["from"] =
            json!([{"header": "authorization", "prefix": "Bearer "}]);
    }
    config
}

fn inline_config() -> Value {
    json!({
        "providers": {"idp": {
            "issuer": "https://idp.test", "audiences": ["api"],
            "keys": {"jwks": tokens::hs_jwks()},
            "claim_headers": [{"claim": "sub", "header": "x-user"}],
            "from": [{"header": "authorization", "prefix": "Bearer "}, {"query": "access_token"}],
            "decryption": {"dir": {"key": URL_SAFE_NO_PAD.encode([7u8; 32])}}
        }},
        "rules": [{"match": {"prefix": "/public"}},
                  {"match": {"prefix": "/"}, "requires": {"provider": "idp"}}]
    })
}

fn remote_config(upstream: &str) -> Value {
    json!({
        "providers": {"idp": {
            "issuer": "https://idp.test", "audiences": ["api"],
            "keys": {"remote": {"upstream": upstream, "path": "/jwks", "cache_seconds": 60,
                                "timeout_ms": 1000}}
        }},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider": "idp"}}]
    })
}

fn plugin(profile: Profile, config: &Value, workers: usize) -> Result<Plugin> {
    Plugin::builder(&wasm("jwt-auth")?)
        .named("jwt-auth")
        .profile(profile)
        .workers(workers)
        .config(config.to_string())
        .build()
}

fn bearer(path: &str, token: &str) -> Request {
    Request::get(path).header("authorization", &format!("Bearer {token}"))
}

fn body_json(out: &Outcome) -> Value {
    serde_json::from_slice(&out.client.body).unwrap_or(Value::Null)
}

#[test]
fn verifies_rewrites_and_refuses_under_every_profile() -> Result<()> {
    for profile in [Profile::Envoy, Profile::Apisix, Profile::Kong] {
        let mut p = plugin(profile, &inline_config_for(profile), 1)?;
        let token = hs256(&claims(json!({})))?;
        let spoofed = p.send(bearer("/api/x", &token).header("x-user", "mallory"))?;
        if profile == Profile::Kong {
            // Kong cannot keep the client's copy from the upstream: refused instead.
            assert_eq!(spoofed.client.status, 400, "{profile:?}");
            assert_eq!(body_json(&spoofed)["error"], "header_not_removable");
            assert!(spoofed.upstream.is_none());
        } else {
            let up = spoofed.upstream.as_ref().unwrap();
            assert_eq!(
                up.header("x-user"),
                Some("alice"),
                "{profile:?}: spoof replaced"
            );
        }
        let ok = p.send(bearer("/api/x", &token))?;
        assert_eq!(ok.client.status, 200, "{profile:?}");
        let up = ok.upstream.as_ref().unwrap();
        assert_eq!(up.header("x-user"), Some("alice"), "{profile:?}");
        // Kong cannot drop the header: the token is emptied in place.
        let stripped = if profile == Profile::Kong {
            Some("")
        } else {
            None
        };
        assert_eq!(
            up.header("authorization"),
            stripped,
            "{profile:?}: token stripped"
        );
        assert!(up.header("x-tollgate-jwt-payload").is_some());

        let bad = p.send(bearer("/api/x", &format!("{token}x")))?;
        assert_eq!(bad.client.status, 401, "{profile:?}");
        assert!(bad.upstream.is_none());
        assert_eq!(body_json(&bad)["error"], "signature_invalid");
        let www = bad.client.header("www-authenticate").unwrap();
        assert!(www.contains("error=\"invalid_token\""), "{www}");
        assert!(!bad.client.body_text().contains(&token));

        let public = p.send(Request::get("/public/x"))?;
        assert_eq!(public.client.status, 200);
        assert!(!bad.trapped() && !ok.trapped());

        // A valid header token does not carry a forged query token (Kong refuses query
        // sources at configure time).
        if profile == Profile::Kong {
            let refused = plugin(profile, &inline_config(), 1)
                .err()
                .map(|e| e.to_string());
            assert!(refused.is_some_and(|e| e.contains("providers.idp.from[1]")));
        } else {
            let forged = hs256(&claims(json!({"sub": "admin"})))?.replace('.', ".x");
            let two = p.send(bearer(&format!("/api/x?access_token={forged}"), &token))?;
            assert_eq!(
                two.client.status,
                401,
                "{profile:?}: {}",
                two.client.body_text()
            );
            assert!(two.upstream.is_none());
        }
        // Dot-segments cannot escape to the public rule; odd public paths go up normal.
        let escape = p.send(Request::get("/public/../api/x"))?;
        assert_eq!(escape.client.status, 401, "{profile:?}");
        let odd = p.send(Request::get("/public//a/./b"))?;
        assert_eq!(odd.client.status, 200, "{profile:?}");
        // Kong sends the request line as received.
        let normal = if profile == Profile::Kong {
            "/public//a/./b"
        } else {
            "/public/a/b"
        };
        assert_eq!(odd.upstream.as_ref().unwrap().path(), normal, "{profile:?}");
        let slash = p.send(Request::get("/public%2F..%2Fapi"))?;
        assert_eq!(slash.client.status, 400, "{profile:?}");
    }
    Ok(())
}

#[test]
fn malformed_tokens_never_trap() -> Result<()> {
    let mut p = plugin(Profile::Envoy, &inline_config(), 1)?;
    let long = "a".repeat(70_000);
    let garbage = [
        "",
        "x",
        "a.b",
        "a.b.c",
        "a.b.c.d.e",
        "....",
        "eyJhbGciOiJub25lIn0.e30.",
        "\u{0}\u{1}",
        long.as_str(),
        "eyJ.eyJ.eyJ",
        "Bearer Bearer",
    ];
    for g in garbage {
        let out = p.send(Request::get("/api").header("authorization", &format!("Bearer {g}")))?;
        assert!(!out.trapped(), "{g:?}");
        assert_eq!(out.client.status, 401, "{g:?}");
    }
    Ok(())
}

#[test]
fn encrypted_tokens_keep_credentials_out_of_upstream_headers() -> Result<()> {
    let mut p = plugin(Profile::Envoy, &inline_config(), 1)?;
    let inner = hs256(&claims(json!({"password": "s3cr3t-pw", "tenant": "t1"})))?;
    let jwe = encrypt_dir(&inner, &[7u8; 32], [1u8; 12])?;
    let out = p.send(bearer("/api", &jwe))?;
    assert_eq!(out.client.status, 200, "{}", out.client.body_text());
    let up = out.upstream.unwrap();
    let payload = up.header("x-tollgate-jwt-payload").unwrap();
    let shown = String::from_utf8(URL_SAFE_NO_PAD.decode(payload)?)?;
    assert!(shown.contains("\"tenant\":\"t1\""), "{shown}");
    for (name, value) in &up.headers {
        assert!(!value.contains("s3cr3t-pw"), "{name} leaks the password");
    }
    let logs = format!("{:?}", out.logs);
    assert!(!logs.contains("s3cr3t-pw"));
    // Wrong key, tampered: refused the same way.
    let wrong = encrypt_dir(&inner, &[8u8; 32], [1u8; 12])?;
    let out = p.send(bearer("/api", &wrong))?;
    assert_eq!(out.client.status, 401);
    assert_eq!(body_json(&out)["error"], "token_undecryptable");
    Ok(())
}

/// An identity provider whose answer the test changes as it goes.
#[derive(Clone)]
struct Idp {
    calls: Arc<AtomicUsize>,
    reply: Arc<Mutex<HttpReply>>,
}

impl Idp {
    fn new(jwks: &Value) -> Self {
        Self {
            calls: Arc::new(AtomicUsize::new(0)),
            reply: Arc::new(Mutex::new(HttpReply::ok(jwks.to_string()))),
        }
    }
    fn set(&self, reply: HttpReply) {
        *self.reply.lock().unwrap() = reply;
    }
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
    fn cluster(&self, name: &str) -> Cluster {
        let me = self.clone();
        Cluster::new(name).http(move |_| {
            me.calls.fetch_add(1, Ordering::SeqCst);
            me.reply.lock().unwrap().clone()
        })
    }
}

#[test]
fn remote_jwks_is_fetched_once_for_all_workers() -> Result<()> {
    let idp = Idp::new(&tokens::es_jwks()?);
    let mut p = plugin(Profile::Envoy, &remote_config("idp"), 2)?;
    p.add_cluster(idp.cluster("idp"));
    let token = es256(&claims(json!({})))?;
    let first = p.send(bearer("/a", &token).on_worker(0))?;
    assert_eq!(first.client.status, 200, "{}", first.client.body_text());
    let second = p.send(bearer("/a", &token).on_worker(1))?;
    assert_eq!(second.client.status, 200);
    assert_eq!(
        idp.calls(),
        1,
        "worker 1 adopted worker 0's keys through shared data"
    );
    assert_eq!(p.metric("jwt_auth.jwks.idp.fetch_ok"), Some(1));
    assert_eq!(p.metric("jwt_auth.jwks.idp.adopted"), Some(1));
    Ok(())
}

#[test]
fn a_jwks_outage_is_not_a_wave_of_401s() -> Result<()> {
    let idp = Idp::new(&tokens::es_jwks()?);
    let mut p = plugin(Profile::Envoy, &remote_config("idp"), 1)?;
    p.add_cluster(idp.cluster("idp"));
    let token = es256(&claims(json!({})))?;
    assert_eq!(p.send(bearer("/a", &token))?.client.status, 200);
    // The IdP breaks three ways; each background refresh fails, the keys stay.
    let faults = [
        HttpReply::fail(),
        HttpReply::ok("<html>maintenance</html>"),
        HttpReply::status(503, "down"),
        HttpReply::Hang,
    ];
    for fault in faults {
        idp.set(fault);
        p.advance(Duration::from_secs(70));
        let out = p.send(bearer("/a", &token))?;
        assert_eq!(out.client.status, 200, "{}", out.client.body_text());
    }
    assert!(p.metric("jwt_auth.jwks.idp.fetch_failed").unwrap_or(0) >= 2);
    assert!(p.metric("jwt_auth.jwks.idp.fetch_invalid").unwrap_or(0) >= 1);
    // Retries back off: far fewer fetches than ticks.
    assert!(idp.calls() < 20, "{} fetches", idp.calls());
    // Recovery: good keys again are picked up by the next refresh.
    idp.set(HttpReply::ok(tokens::es_jwks()?.to_string()));
    p.advance(Duration::from_secs(70));
    let ok_before = p.metric("jwt_auth.jwks.idp.fetch_ok").unwrap_or(0);
    assert!(ok_before >= 2, "recovered: {ok_before}");
    Ok(())
}

#[test]
fn no_keys_at_all_fails_closed_with_401() -> Result<()> {
    let idp = Idp::new(&json!({}));
    idp.set(HttpReply::fail());
    let mut p = plugin(Profile::Envoy, &remote_config("idp"), 1)?;
    p.add_cluster(idp.cluster("idp"));
    let out = p.send(bearer("/a", &es256(&claims(json!({})))?))?;
    assert_eq!(out.client.status, 401);
    assert_eq!(body_json(&out)["error"], "no_keys");
    Ok(())
}

#[test]
fn an_unknown_kid_refetches_once_per_interval() -> Result<()> {
    let idp = Idp::new(&tokens::hs_jwks());
    let mut p = plugin(Profile::Envoy, &remote_config("idp"), 1)?;
    p.add_cluster(idp.cluster("idp"));
    assert_eq!(
        p.send(bearer("/a", &hs256(&claims(json!({})))?))?
            .client
            .status,
        200
    );
    assert_eq!(idp.calls(), 1);
    // The issuer rotates to an ES256 key.
    idp.set(HttpReply::ok(tokens::es_jwks()?.to_string()));
    p.advance(Duration::from_secs(1));
    let rotated = p.send(bearer("/a", &es256(&claims(json!({})))?))?;
    assert_eq!(rotated.client.status, 200, "{}", rotated.client.body_text());
    assert_eq!(idp.calls(), 2);
    // A made-up kid right after: no fetch, refused.
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header {
            kid: Some("nope".into()),
            ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256)
        },
        &claims(json!({})),
        &jsonwebtoken::EncodingKey::from_secret(b"x"),
    )?;
    let out = p.send(bearer("/a", &forged))?;
    assert_eq!(out.client.status, 401);
    assert_eq!(body_json(&out)["error"], "kid_unknown");
    assert_eq!(idp.calls(), 2);
    Ok(())
}

#[test]
fn apisix_fetches_per_vm_by_host_and_port() -> Result<()> {
    let idp = Idp::new(&tokens::es_jwks()?);
    let mut p = plugin(Profile::Apisix, &remote_config("127.0.0.1:9999"), 1)?;
    p.add_cluster(idp.cluster("127.0.0.1:9999"));
    let token = es256(&claims(json!({})))?;
    let out = p.send(bearer("/a", &token))?;
    assert_eq!(out.client.status, 200, "{}", out.client.body_text());
    assert!(!out.trapped());
    // No timers on APISIX: the refresh happens on the request path, still one fetch.
    p.advance(Duration::from_secs(50));
    assert_eq!(p.send(bearer("/a", &token))?.client.status, 200);
    assert_eq!(idp.calls(), 2);
    Ok(())
}

/// A key rotation seen by many requests at once: eight tokens with the new `kid`
/// arrive together on two workers. One worker wins the fetch; the other must take the
/// keys it publishes as soon as they are there (not when the fetch lock would expire,
/// seconds later, past the requests' own wait), and none is refused.
#[test]
fn key_rotation_under_concurrency_waits_for_one_fetch_not_for_the_lock() -> Result<()> {
    let idp = Idp::new(&tokens::hs_jwks());
    let mut p = plugin(Profile::Envoy, &remote_config("idp"), 2)?;
    p.add_cluster(idp.cluster("idp"));
    let old = hs256(&claims(json!({})))?;
    for worker in 0..2 {
        let out = p.send(bearer("/a", &old).on_worker(worker))?;
        assert_eq!(out.client.status, 200, "{}", out.client.body_text());
    }
    assert_eq!(idp.calls(), 1);
    // The issuer rotates to an ES256 key; its JWKS endpoint takes 30 ms to answer.
    idp.set(HttpReply::ok(tokens::es_jwks()?.to_string()).after(Duration::from_millis(30)));
    p.advance(Duration::from_secs(1));
    let rotated = es256(&claims(json!({})))?;
    let requests = (0..8u64)
        .map(|i| {
            let worker = usize::try_from(i % 2).unwrap();
            (
                Duration::from_millis(i),
                bearer("/a", &rotated).on_worker(worker),
            )
        })
        .collect();
    let outcomes = p.send_concurrently(requests)?;
    let mut slowest = Duration::ZERO;
    for (i, (took, out)) in outcomes.iter().enumerate() {
        assert_eq!(
            out.client.status,
            200,
            "request {i}: {}",
            out.client.body_text()
        );
        slowest = slowest.max(*took);
    }
    assert_eq!(
        idp.calls(),
        2,
        "one fetch for the rotation, shared by both workers"
    );
    // The fetch takes 30 ms and the waiting worker ticks every 50 ms: well under the
    // lock's 2 s hold (timeout + 1 s), which the waits used to run into.
    assert!(
        slowest < Duration::from_millis(200),
        "slowest waited {slowest:?}"
    );
    assert_eq!(p.metric("jwt_auth.jwks.idp.adopted"), Some(2));
    Ok(())
}
