//! Table-driven decisions (tests/cases/decide.json) and config errors
//! (tests/cases/config.json). Tokens are signed with HS256 at run time from each case's
//! claims, header and secret, and placed in a bearer header, cookie or query parameter.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test helpers

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use tollgate_jwt_auth::config::JwtAuthConfig;
use tollgate_jwt_auth::decide::{Decision, Mutation, NoRemoteKeys, RequestView};
use tollgate_kit::config;

fn sign(spec: &Value) -> String {
    if let Some(raw) = spec.get("raw") {
        return raw.as_str().unwrap().to_string();
    }
    let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let input = format!("{}.{}", b64(&spec["header"]), b64(&spec["claims"]));
    let mut mac =
        Hmac::<Sha256>::new_from_slice(spec["secret"].as_str().unwrap().as_bytes()).unwrap();
    mac.update(input.as_bytes());
    format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

#[test]
fn decision_cases() {
    run_decision_cases(include_str!("cases/decide.json"));
}

/// Several tokens in one request, `forward`, array audiences, JSON claim headers.
#[test]
fn decision_cases_more() {
    run_decision_cases(include_str!("cases/decide_more.json"));
}

fn run_decision_cases(text: &str) {
    let file: Value = serde_json::from_str(text).unwrap();
    let now = file["now"].as_f64().unwrap();
    let compiled = config::load::<JwtAuthConfig>(file["config"].to_string().as_bytes()).unwrap();
    let mut failures = Vec::new();
    for case in file["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let req = &case["request"];
        let mut path = req["path"].as_str().unwrap().to_string();
        let mut headers: Vec<(String, String)> = req["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| (h[0].as_str().unwrap().into(), h[1].as_str().unwrap().into()))
            .collect();
        let specs: Vec<&Value> = req
            .get("token")
            .into_iter()
            .chain(
                req.get("tokens")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten(),
            )
            .collect();
        for spec in &specs {
            let token = sign(spec);
            match spec["in"].as_str().unwrap() {
                "bearer" => headers.push(("authorization".into(), format!("Bearer {token}"))),
                "cookie" => {
                    for h in headers.iter_mut().filter(|(n, _)| n == "cookie") {
                        h.1 = h.1.replace("TOKEN", &token);
                    }
                }
                "query" => path = path.replacen("TOKEN", &token, 1),
                "header" => headers.push((
                    spec["name"].as_str().unwrap().into(),
                    spec["prefix"].as_str().unwrap_or_default().to_string() + &token,
                )),
                other => panic!("{name}: unknown placement {other}"),
            }
        }
        let view = RequestView {
            method: req["method"].as_str().unwrap(),
            path: &path,
            headers: &headers,
        };
        let decision = compiled.decide(&view, now, &NoRemoteKeys);
        let expect = &case["expect"];
        let mut problems = Vec::new();
        match &decision {
            Decision::Allow { mutations, .. } => {
                if expect["status"] != 200 {
                    problems.push(format!("allowed; expected {}", expect["status"]));
                }
                let set = |h: &str| {
                    mutations.iter().find_map(|m| match m {
                        Mutation::SetHeader(n, v) if n == h => Some(v.clone()),
                        _ => None,
                    })
                };
                let removed = |h: &str| {
                    mutations
                        .iter()
                        .any(|m| matches!(m, Mutation::RemoveHeader(n) | Mutation::RemoveOwned(n) if n == h))
                };
                for (h, v) in expect
                    .get("set")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                {
                    if set(h).as_deref() != v.as_str() {
                        problems.push(format!("{h} = {:?}, expected {v}", set(h)));
                    }
                }
                for h in expect
                    .get("removed")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if !removed(h.as_str().unwrap()) {
                        problems.push(format!("{h} not removed"));
                    }
                }
                for h in expect
                    .get("not_removed")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if removed(h.as_str().unwrap()) {
                        problems.push(format!("{h} removed"));
                    }
                }
                for h in expect
                    .get("not_set")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if set(h.as_str().unwrap()).is_some() {
                        problems.push(format!("{h} set"));
                    }
                }
                if let Some(sub) = expect.get("payload_sub") {
                    let payload = set("x-tollgate-jwt-payload").unwrap_or_default();
                    let claims: Value = serde_json::from_slice(
                        &URL_SAFE_NO_PAD.decode(payload).unwrap_or_default(),
                    )
                    .unwrap_or_default();
                    if &claims["sub"] != sub {
                        problems.push(format!("payload sub {}", claims["sub"]));
                    }
                }
                let paths: Vec<&Mutation> = mutations
                    .iter()
                    .filter(|m| matches!(m, Mutation::SetPath(_)))
                    .collect();
                if let Some(p) = expect.get("path") {
                    if paths != [&Mutation::SetPath(p.as_str().unwrap().into())] {
                        problems.push(format!("path not rewritten (once) to {p}: {mutations:?}"));
                    }
                } else if !paths.is_empty() {
                    problems.push(format!("path rewritten: {paths:?}"));
                }
                if expect.get("cookie").is_none()
                    && mutations
                        .iter()
                        .any(|m| matches!(m, Mutation::SetCookie(_)))
                {
                    problems.push(format!("cookie rewritten: {mutations:?}"));
                }
                if let Some(c) = expect.get("cookie")
                    && !mutations.contains(&Mutation::SetCookie(Some(c.as_str().unwrap().into())))
                {
                    problems.push(format!("cookie not rewritten to {c}: {mutations:?}"));
                }
            }
            Decision::Deny(r) => {
                if expect["status"] != r.status {
                    problems.push(format!(
                        "denied {} ({}); expected {}",
                        r.status, r.denial, expect["status"]
                    ));
                }
                if let Some(code) = expect.get("code").and_then(Value::as_str) {
                    if r.denial.code.as_str() != code {
                        problems.push(format!("code {}, expected {code}", r.denial.code.as_str()));
                    }
                    let body: Value = serde_json::from_str(&r.body).unwrap();
                    if body["error"] != code {
                        problems.push(format!("body {}", r.body));
                    }
                }
                if let Some(www) = expect.get("www").and_then(Value::as_str)
                    && r.www_authenticate != www
                {
                    problems.push(format!("www-authenticate {}", r.www_authenticate));
                }
                if let Some(part) = expect.get("www_contains").and_then(Value::as_str)
                    && !r.www_authenticate.contains(part)
                {
                    problems.push(format!("www-authenticate {}", r.www_authenticate));
                }
                for spec in &specs {
                    let token = sign(spec);
                    if r.body.contains(&token) || r.www_authenticate.contains(&token) {
                        problems.push("the token was echoed".into());
                    }
                }
            }
        }
        if !problems.is_empty() {
            failures.push(format!("{name}: {}", problems.join("; ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn config_error_cases() {
    let failures = config::error_case_failures::<JwtAuthConfig>(include_str!("cases/config.json"));
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// RSA-OAEP-256 decryption loads only with its opt-in, and then warns, naming the
/// advisory, at configure time (the filter logs it, `tollgate validate` prints it).
#[test]
fn rsa_decryption_opt_in_warns() {
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};
    let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).unwrap();
    let pem = key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
    let config = |accept: bool| {
        serde_json::json!({"providers": {"web": {
            "keys": {"jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0LW9uZS0wMTIzNDU2Nzg5YWJjZGVmZ2hpams"}]}},
            "decryption": {"rsa_oaep_256": {"private_key": pem, "accept_rustsec_2023_0071": accept,
                                            "max_decryptions_per_second": 5}}}}})
        .to_string()
    };
    let err = config::load::<JwtAuthConfig>(config(false).as_bytes()).unwrap_err();
    assert_eq!(
        err.path,
        "providers.web.decryption.rsa_oaep_256.accept_rustsec_2023_0071"
    );
    let compiled = config::load::<JwtAuthConfig>(config(true).as_bytes()).unwrap();
    assert_eq!(compiled.warnings.len(), 1, "{:?}", compiled.warnings);
    let w = &compiled.warnings[0];
    assert!(
        w.contains("RUSTSEC-2023-0071") && w.contains("provider web") && w.contains("at most 5"),
        "{w}"
    );
    assert!(!w.contains("PRIVATE KEY"), "never the key");
}
