//! Tier 2: `dist/hcp-auth.wasm` in the wasmtime host under every profile: the HCP
//! header, S3 re-signing (verified independently), body hashing, refusals, no leaks.

use anyhow::Result;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use tollgate_hcp_auth::mgmt;
use tollgate_hcp_auth::sigv4::{self, Scope, Signable, sha256_hex};
use tollgate_host_suite::wasm;
use tollgate_wasm_host::{Outcome, Plugin, Profile, Request};

const PASSWORD: &str = "Pa55-w0rd-never-logged";

fn config(sign_body: bool) -> Value {
    json!({
        "hcp_domain": "hcp.test",
        "trusted_payload_header": "x-tollgate-jwt-payload",
        "token_cookie": "hcp_token",
        "s3": {"sign_body": sign_body, "max_body_bytes": 64},
        "routes": [{"match": {"prefix": "/health"}, "mode": "passthrough"},
                   {"match": {"prefix": "/mapi/"}, "mode": "management"},
                   {"match": {"prefix": "/"}, "mode": "s3"}]
    })
}

fn plugin(profile: Profile, sign_body: bool) -> Result<Plugin> {
    Plugin::builder(&wasm("hcp-auth")?)
        .named("hcp-auth")
        .profile(profile)
        .config(config(sign_body).to_string())
        // Body signing needs body callbacks while headers are held (Envoy's knob).
        .allow_on_headers_stop_iteration(sign_body)
        .build()
}

fn claims() -> Value {
    json!({"sub": "alice", "username": "alice", "password": PASSWORD, "tenant": "acme"})
}

/// Where jwt-auth hands the claims over on `profile`'s host (the wasmtime host keeps a
/// property under its dotted path).
fn handoff(profile: Profile) -> String {
    use tollgate_kit::{HostFacts, HostKind, contract::CREDENTIALS_PROPERTY};
    let kind = match profile {
        Profile::Envoy => HostKind::Envoy,
        Profile::Kong => HostKind::Kong,
        Profile::Apisix => HostKind::Apisix,
    };
    HostFacts::of(kind)
        .stream_property(CREDENTIALS_PROPERTY)
        .join(".")
}

/// A request as jwt-auth leaves it on `profile`'s host: the payload header without the
/// password, the full claims in the stream property.
fn verified(profile: Profile, req: Request) -> Request {
    let shown = json!({"sub": "alice", "username": "alice", "tenant": "acme"});
    req.header(
        "x-tollgate-jwt-payload",
        &URL_SAFE_NO_PAD.encode(shown.to_string()),
    )
    .header("cookie", "theme=dark; hcp_token=opaque")
    .filter_state(&handoff(profile), claims().to_string())
}

fn no_leak(out: &Outcome) {
    let logs = format!("{:?}", out.logs);
    assert!(!logs.contains(PASSWORD), "password in logs");
    assert!(
        !out.client.body_text().contains(PASSWORD),
        "password in the response"
    );
    if let Some(up) = &out.upstream {
        assert!(
            up.headers.iter().all(|(_, v)| !v.contains(PASSWORD)),
            "password upstream"
        );
    }
}

#[test]
fn management_header_and_tenant_host_under_every_profile() -> Result<()> {
    for profile in [Profile::Envoy, Profile::Apisix, Profile::Kong] {
        let mut p = plugin(profile, false)?;
        let out = p.send(verified(
            profile,
            Request::get("/mapi/tenants/acme/namespaces"),
        ))?;
        assert_eq!(
            out.client.status,
            200,
            "{profile:?}: {}",
            out.client.body_text()
        );
        let up = out.upstream.as_ref().unwrap();
        assert_eq!(
            up.header("authorization").map(String::from),
            Some(mgmt::authorization("alice", PASSWORD)),
            "{profile:?}"
        );
        // The tenant goes where each host takes the upstream authority from.
        let authority = if profile == Profile::Envoy {
            ":authority"
        } else {
            "host"
        };
        assert_eq!(up.header(authority), Some("acme.hcp.test"), "{profile:?}");
        // Kong cannot drop the consumed payload header: it goes up emptied.
        let payload = if profile == Profile::Kong {
            Some("")
        } else {
            None
        };
        assert_eq!(up.header("x-tollgate-jwt-payload"), payload, "{profile:?}");
        assert_eq!(up.header("cookie"), Some("theme=dark"));
        assert!(!out.trapped());
        no_leak(&out);
    }
    Ok(())
}

#[test]
fn s3_requests_are_re_signed_for_the_user() -> Result<()> {
    let mut p = plugin(Profile::Envoy, false)?;
    let out = p.send(
        verified(
            Profile::Envoy,
            Request::get("/bucket/some%20key?list-type=2&prefix=a"),
        )
        .header("authorization", "Bearer leftover")
        .header("x-amz-meta-k", "v"),
    )?;
    assert_eq!(out.client.status, 200);
    let up = out.upstream.as_ref().unwrap();
    let auth = up.header("authorization").unwrap().to_string();
    assert_eq!(
        up.header("x-amz-content-sha256"),
        Some(sigv4::UNSIGNED_PAYLOAD)
    );
    // Recompute the signature from what the upstream received.
    let amz_date = up.header("x-amz-date").unwrap().to_string();
    let signed: Vec<(String, String)> = vec![
        ("host".into(), "acme.hcp.test".into()),
        (
            "x-amz-content-sha256".into(),
            sigv4::UNSIGNED_PAYLOAD.into(),
        ),
        ("x-amz-date".into(), amz_date.clone()),
        ("x-amz-meta-k".into(), "v".into()),
    ];
    let expected = sigv4::authorization(
        &Signable {
            method: "GET",
            path: "/bucket/some%20key?list-type=2&prefix=a",
            headers: &signed,
            payload_hash: sigv4::UNSIGNED_PAYLOAD,
        },
        &Scope {
            access_key: &mgmt::access_key("alice"),
            secret_key: &mgmt::secret_key(PASSWORD),
            region: "us-east-1",
            service: "s3",
            amz_date: &amz_date,
        },
    );
    assert_eq!(auth, expected);
    no_leak(&out);
    Ok(())
}

#[test]
fn signed_bodies_are_hashed_and_bounded_even_on_apisix() -> Result<()> {
    for profile in [Profile::Envoy, Profile::Apisix, Profile::Kong] {
        let mut p = plugin(profile, true)?;
        let out = p.send(verified(
            profile,
            Request::new("PUT", "/bucket/k")
                .chunk("hello ")
                .chunk("world"),
        ))?;
        assert_eq!(
            out.client.status,
            200,
            "{profile:?}: {}",
            out.client.body_text()
        );
        let up = out.upstream.as_ref().unwrap();
        assert_eq!(up.body, b"hello world");
        assert_eq!(
            up.header("x-amz-content-sha256").map(String::from),
            Some(sha256_hex(b"hello world")),
            "{profile:?}"
        );
        // The whole body was held: it goes up with its length, not chunked.
        assert_eq!(up.header("content-length"), Some("11"), "{profile:?}");
        assert_eq!(up.header("transfer-encoding"), None, "{profile:?}");
        // The query goes up in the canonical form that was signed; Kong sends the
        // request line as received (the S3 server canonicalizes it again).
        let listed = p.send(verified(
            profile,
            Request::get("/bucket?prefix=a+b&list-type=2"),
        ))?;
        let expected = match profile {
            Profile::Kong => "/bucket?prefix=a+b&list-type=2",
            Profile::Envoy | Profile::Apisix => "/bucket?list-type=2&prefix=a%20b",
        };
        assert_eq!(
            listed.upstream.as_ref().unwrap().path(),
            expected,
            "{profile:?}"
        );
        let big = p.send(verified(
            profile,
            Request::new("PUT", "/bucket/k")
                .chunk(vec![b'x'; 40])
                .chunk(vec![b'y'; 40]),
        ))?;
        assert_eq!(big.client.status, 413, "{profile:?}");
        assert!(big.upstream.is_none());
        let declared = p.send(verified(
            profile,
            Request::new("PUT", "/bucket/k")
                .header("content-length", "1000")
                .chunk(vec![b'x'; 10]),
        ))?;
        assert_eq!(declared.client.status, 413);
        let empty = p.send(verified(profile, Request::get("/bucket/k")))?;
        assert_eq!(
            empty.upstream.unwrap().header("x-amz-content-sha256"),
            Some(sigv4::EMPTY_SHA256)
        );
    }
    Ok(())
}

#[test]
fn without_envoys_knob_body_signing_stalls_until_the_stream_timeout() -> Result<()> {
    // Envoy turns a headers StopIteration into StopAllIterationAndWatermark unless the
    // plugin sets allow_on_headers_stop_iteration: the body never reaches the filter.
    // The docs and gateway configs set the knob wherever sign_body is on.
    let mut p = Plugin::builder(&wasm("hcp-auth")?)
        .profile(Profile::Envoy)
        .config(config(true).to_string())
        .stream_timeout(std::time::Duration::from_secs(5))
        .build()?;
    let out = p.send(verified(
        Profile::Envoy,
        Request::new("PUT", "/bucket/k").chunk("data"),
    ))?;
    assert_eq!(out.client.status, 504);
    assert!(out.upstream.is_none());
    Ok(())
}

#[test]
fn missing_or_bad_credentials_get_401_and_never_trap() -> Result<()> {
    let mut p = plugin(Profile::Envoy, false)?;
    let none = p.send(Request::get("/mapi/tenants"))?;
    assert_eq!(none.client.status, 401);
    let body: Value = serde_json::from_slice(&none.client.body)?;
    assert_eq!(body["error"], "credentials_missing");
    // The payload header is never read for credentials, even when it carries them.
    let shown = URL_SAFE_NO_PAD.encode(claims().to_string());
    let partial = p.send(Request::get("/mapi/x").header("x-tollgate-jwt-payload", &shown))?;
    assert_eq!(
        serde_json::from_slice::<Value>(&partial.client.body)?["error"],
        "credentials_missing"
    );
    for garbage in [
        "",
        "{",
        "null",
        "[]",
        r#"{"username":1}"#,
        r#"{"username":"a","password":"b","tenant":"x.evil.com"}"#,
    ] {
        let out =
            p.send(Request::get("/mapi/x").filter_state(&handoff(Profile::Envoy), garbage))?;
        assert_eq!(out.client.status, 401, "{garbage}");
        assert!(!out.trapped());
    }
    let health = p.send(Request::get("/health").header("authorization", "Bearer x"))?;
    assert_eq!(health.client.status, 200);
    assert_eq!(health.upstream.unwrap().header("authorization"), None);
    // The first request, the payload header alone, and the four properties that are not
    // a claims object.
    assert_eq!(p.metric("hcp_auth.denied.credentials_missing"), Some(6));
    Ok(())
}
