//! Tier 2: `dist/rego-authz.wasm` in the wasmtime host under every profile: decisions
//! from the verified token, OPA-Envoy decision objects, fail-closed errors, and a signed
//! bundle swapped in while requests flow (every response consistent with one whole
//! policy), a tampered one refused with the old one still serving.

use anyhow::Result;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::json;
use tollgate_host_suite::wasm;
use tollgate_rego_authz::bundle::Files;
use tollgate_wasm_host::{Outcome, Plugin, Profile, Request};

const SECRET: &str = "bundle-signing-secret-of-32-bytes-or-more";

/// A policy that stamps its revision on every decision, allowed or denied.
fn policy(revision: &str, blocked: &str) -> String {
    format!(
        "package envoy.authz\nimport rego.v1\n\
         default allow := {{\"allowed\": false, \"headers\": {{\"x-rev\": \"{revision}\"}}, \"http_status\": 403}}\n\
         allow := {{\"allowed\": true, \"headers\": {{\"x-rev\": \"{revision}\", \"x-user\": input.token.sub}}}} if {{\n\
         \tinput.token.sub\n\tinput.parsed_path[0] != \"{blocked}\"\n}}\n"
    )
}

fn signed_bundle(revision: &str, blocked: &str) -> Files {
    let mut files = Files(
        [
            (
                ".manifest".to_string(),
                json!({"revision": revision, "roots": ["envoy"]})
                    .to_string()
                    .into_bytes(),
            ),
            (
                "envoy/authz.rego".to_string(),
                policy(revision, blocked).into_bytes(),
            ),
        ]
        .into_iter()
        .collect(),
    );
    tollgate_rego_authz::signature::sign(
        &mut files,
        Algorithm::HS256,
        &EncodingKey::from_secret(SECRET.as_bytes()),
        Some("k1"),
    )
    .unwrap();
    files
}

fn bundle_config(files: &Files) -> String {
    json!({"policy": {"bundle": STANDARD.encode(files.to_tar_gz().unwrap()),
                      "signing": {"keys": {"k1": {"algorithm": "HS256", "key": SECRET}}}}})
    .to_string()
}

fn plugin(profile: Profile, config: String) -> Result<Plugin> {
    Plugin::builder(&wasm("rego-authz")?)
        .named("rego-authz")
        .profile(profile)
        .workers(2)
        .config(config)
        .build()
}

fn request(path: &str, sub: Option<&str>) -> Request {
    let r = Request::get(path);
    match sub {
        Some(s) => r.header(
            "x-tollgate-jwt-payload",
            &URL_SAFE_NO_PAD.encode(json!({"sub": s}).to_string()),
        ),
        None => r,
    }
}

/// The revision that decided, and whether the request went upstream.
fn decided(out: &Outcome) -> (String, bool) {
    match &out.upstream {
        Some(up) => (up.header("x-rev").unwrap_or_default().to_string(), true),
        None => (
            out.client.header("x-rev").unwrap_or_default().to_string(),
            false,
        ),
    }
}

#[test]
fn decisions_under_every_profile() -> Result<()> {
    for profile in [Profile::Envoy, Profile::Apisix, Profile::Kong] {
        let mut p = plugin(profile, bundle_config(&signed_bundle("r1", "admin")))?;
        let ok = p.send(request("/people", Some("alice")))?;
        assert_eq!(decided(&ok), ("r1".into(), true), "{profile:?}");
        assert_eq!(
            ok.upstream.as_ref().unwrap().header("x-user"),
            Some("alice"),
            "{profile:?}"
        );
        let denied = p.send(request("/admin", Some("alice")))?;
        assert_eq!(denied.client.status, 403, "{profile:?}");
        assert_eq!(decided(&denied), ("r1".into(), false), "{profile:?}");
        let anonymous = p.send(request("/people", None))?;
        assert_eq!(anonymous.client.status, 403, "{profile:?}");
        assert!(p.crashed().is_none(), "{profile:?}");
    }
    Ok(())
}

#[test]
fn policy_errors_fail_closed_and_shadow_never_blocks() -> Result<()> {
    let undefined =
        json!({"policy": {"modules": {"a.rego": "package envoy.authz\nallow if input.nothing\n"}}});
    let mut p = plugin(Profile::Envoy, undefined.to_string())?;
    let out = p.send(request("/", Some("alice")))?;
    assert_eq!(out.client.status, 500);
    assert!(out.client.body_text().contains("policy_undefined"));
    assert!(
        out.logs
            .iter()
            .any(|(_, m)| m.contains("data.envoy.authz.allow")),
        "{:?}",
        out.logs
    );
    let mut shadow = undefined.clone();
    shadow["mode"] = "shadow".into();
    let mut p = plugin(Profile::Envoy, shadow.to_string())?;
    assert!(p.send(request("/", None))?.upstream.is_some());
    Ok(())
}

#[test]
fn a_signed_bundle_swaps_in_under_load_and_a_tampered_one_is_refused() -> Result<()> {
    for profile in [Profile::Envoy, Profile::Apisix] {
        let mut p = plugin(profile, bundle_config(&signed_bundle("r1", "none")))?;
        let v2 = bundle_config(&signed_bundle("r2", "blocked"));
        let mut seen = std::collections::BTreeSet::new();
        for round in 0..40 {
            if round == 20 {
                p.reconfigure(v2.clone())?;
            }
            for path in ["/blocked", "/open"] {
                let out = p.send(request(path, Some("alice")))?;
                let (rev, allowed) = decided(&out);
                // Every decision comes from one whole policy: r1 allows all, r2 blocks.
                match rev.as_str() {
                    "r1" => assert!(allowed, "{profile:?} r1 {path}"),
                    "r2" => assert_eq!(allowed, path != "/blocked", "{profile:?} r2 {path}"),
                    other => panic!("{profile:?}: decided by `{other}`"),
                }
                seen.insert(rev);
            }
        }
        assert_eq!(seen.len(), 2, "{profile:?}");
        // A tampered bundle: the policy changed after signing.
        let mut tampered = signed_bundle("r3", "open");
        tampered.0.insert(
            "envoy/authz.rego".into(),
            policy("r3", "everything").into_bytes(),
        );
        assert!(
            p.reconfigure(bundle_config(&tampered)).is_err(),
            "{profile:?}"
        );
        let out = p.send(request("/blocked", Some("alice")))?;
        assert_eq!(
            decided(&out),
            ("r2".into(), false),
            "{profile:?}: the last good policy"
        );
    }
    Ok(())
}

#[test]
fn bodies_are_read_once_under_every_profile() -> Result<()> {
    let policy = "package envoy.authz\nimport rego.v1\ndefault allow := false\n\
                  allow if input.parsed_body.ok == true\n";
    let config = json!({"policy": {"modules": {"a.rego": policy}}, "with_body": {"max_bytes": 64}});
    for profile in [Profile::Envoy, Profile::Apisix, Profile::Kong] {
        let mut p = Plugin::builder(&wasm("rego-authz")?)
            .named("rego-authz")
            .profile(profile)
            .config(config.to_string())
            .allow_on_headers_stop_iteration(true)
            .build()?;
        let send = |p: &mut Plugin, body: &str| {
            p.send(
                Request::post("/x", body.as_bytes().to_vec())
                    .header("content-type", "application/json"),
            )
        };
        let ok = send(&mut p, r#"{"ok": true}"#)?;
        assert!(
            ok.upstream.is_some(),
            "{profile:?}: {}",
            ok.client.body_text()
        );
        assert_eq!(
            ok.upstream.as_ref().unwrap().body,
            br#"{"ok": true}"#.to_vec(),
            "{profile:?}: the body goes on whole"
        );
        assert_eq!(
            send(&mut p, r#"{"ok": false}"#)?.client.status,
            403,
            "{profile:?}"
        );
        let long = format!(r#"{{"ok": true, "pad": "{}"}}"#, "x".repeat(100));
        assert_eq!(
            send(&mut p, &long)?.client.status,
            403,
            "{profile:?}: truncated, not parsed"
        );
        let bad = send(&mut p, r#"{"ok": "#)?;
        assert_eq!(bad.client.status, 400, "{profile:?}");
        assert!(
            bad.client.body_text().contains("body_malformed"),
            "{profile:?}"
        );
    }
    Ok(())
}
