use std::time::Duration;

use jsonwebtoken::Algorithm;
use serde_json::{Value as Json, json};

use crate::engine::{Budget, Module, Policy, Sources};
use crate::test_support::{HS_SECRET, rsa_public_pem, sign};

/// Evaluates `expr` (Rego, with `input.t` and `input.k`) in a throwaway policy.
fn eval(expr: &str, input: Json) -> Result<Json, String> {
    let text = format!("package t\nresult := {expr}\n");
    let p = Policy::compile(
        &Sources {
            modules: vec![Module {
                name: "t.rego".into(),
                text,
            }],
            ..Sources::default()
        },
        "data.t.result",
        Budget {
            time: Duration::from_secs(2),
        },
    )
    .map_err(|e| e.0)?;
    let v = p
        .evaluate(crate::engine::to_regorus(&input).unwrap())
        .map_err(|e| e.to_string())?;
    crate::engine::to_json(&v)
}

#[test]
fn decode_splits_header_payload_and_signature() {
    let t = sign(Algorithm::HS256, Some("k1"), &json!({"sub": "alice"}));
    let v = eval("io.jwt.decode(input.t)", json!({"t": t})).unwrap();
    assert_eq!(v[0], json!({"alg": "HS256", "kid": "k1", "typ": "JWT"}));
    assert_eq!(v[1], json!({"sub": "alice"}));
    assert_eq!(v[2].as_str().unwrap().len(), 64);
    assert!(eval("io.jwt.decode(input.t)", json!({"t": "a.b"})).is_err());
}

#[test]
fn rfc_vectors_verify_with_their_keys() {
    let vectors: Vec<Json> = serde_json::from_str(include_str!(
        "../../jwt-auth/tests/vectors/jws-rfc-vectors.json"
    ))
    .unwrap();
    let mut checked = 0;
    for v in &vectors {
        let alg = v["alg"].as_str().unwrap();
        let jwk = &v["jwk"];
        if jwk["kty"] == "oct" || v["expect"] == "detached-payload(skip)" {
            continue; // HMAC keys here are raw bytes, not the strings OPA's API takes.
        }
        let f = match alg {
            "EdDSA" => "verify_eddsa".to_string(),
            a => format!("verify_{}", a.to_ascii_lowercase()),
        };
        let got = eval(
            &format!("io.jwt.{f}(input.t, input.k)"),
            json!({"t": v["compact"], "k": jwk.to_string()}),
        )
        .unwrap();
        assert_eq!(got, json!(v["expect"] == "valid"), "{}", v["id"]);
        checked += 1;
    }
    assert!(checked >= 7, "{checked}");
}

#[test]
fn hmac_and_rsa_tokens_verify_and_forgeries_never_do() {
    let claims = json!({"sub": "alice", "iss": "edge", "aud": "api", "exp": 4_000_000_000u64});
    let hs = sign(Algorithm::HS256, None, &claims);
    let rs = sign(Algorithm::RS256, None, &claims);
    let pem = rsa_public_pem();
    let ok = |e: &str, i: Json| eval(e, i).unwrap();
    assert_eq!(
        ok(
            "io.jwt.verify_hs256(input.t, input.k)",
            json!({"t": hs, "k": HS_SECRET})
        ),
        json!(true)
    );
    assert_eq!(
        ok(
            "io.jwt.verify_rs256(input.t, input.k)",
            json!({"t": rs, "k": pem})
        ),
        json!(true)
    );
    // Wrong secret, tampered payload, stripped signature, alg none, key confusion.
    assert_eq!(
        ok(
            "io.jwt.verify_hs256(input.t, input.k)",
            json!({"t": hs, "k": format!("{HS_SECRET}x")})
        ),
        json!(false)
    );
    let parts: Vec<&str> = rs.split('.').collect();
    let forged_payload = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        br#"{"sub":"admin"}"#,
    );
    let tampered = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    assert_eq!(
        ok(
            "io.jwt.verify_rs256(input.t, input.k)",
            json!({"t": tampered, "k": pem})
        ),
        json!(false)
    );
    let stripped = format!("{}.{}.", parts[0], parts[1]);
    assert_eq!(
        ok(
            "io.jwt.verify_rs256(input.t, input.k)",
            json!({"t": stripped, "k": pem})
        ),
        json!(false)
    );
    let none_header = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        br#"{"alg":"none"}"#,
    );
    let none = format!("{none_header}.{}.", parts[1]);
    assert_eq!(
        ok(
            "io.jwt.verify_rs256(input.t, input.k)",
            json!({"t": none, "k": pem})
        ),
        json!(false)
    );
    // An HS256 token signed with the RSA public key as its secret: RS256 must not take it.
    let confused = {
        use jsonwebtoken::{EncodingKey, Header};
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(pem.as_bytes()),
        )
        .unwrap()
    };
    assert_eq!(
        ok(
            "io.jwt.verify_rs256(input.t, input.k)",
            json!({"t": confused, "k": pem})
        ),
        json!(false)
    );
    // Any secret length, as in OPA; but the secret must be the one that signed.
    assert_eq!(
        ok("io.jwt.verify_hs256(input.t, \"secret\")", json!({"t": hs})),
        json!(false)
    );
    assert!(eval("io.jwt.verify_hs256(input.t, \"\")", json!({"t": hs})).is_err());
}

#[test]
fn decode_verify_checks_signature_time_issuer_and_audience() {
    let claims =
        json!({"sub": "alice", "iss": "edge", "aud": ["api", "x"], "exp": 2_000, "nbf": 1_000});
    let t = sign(Algorithm::RS256, None, &claims);
    let pem = rsa_public_pem();
    let dv = |c: Json| {
        eval(
            "io.jwt.decode_verify(input.t, input.c)",
            json!({"t": t, "c": c}),
        )
        .unwrap()
    };
    let at = |s: u64| json!(s * 1_000_000_000);
    let good = dv(json!({"cert": pem, "iss": "edge", "aud": "api", "time": at(1_500)}));
    assert_eq!(good[0], json!(true));
    assert_eq!(good[2]["sub"], "alice");
    for c in [
        json!({"cert": pem, "aud": "api", "time": at(2_000)}),
        json!({"cert": pem, "aud": "api", "time": at(999)}),
        json!({"cert": pem, "iss": "other", "aud": "api", "time": at(1_500)}),
        json!({"cert": pem, "aud": "nope", "time": at(1_500)}),
        json!({"cert": pem, "time": at(1_500)}),
        json!({"cert": pem, "alg": "RS512", "aud": "api", "time": at(1_500)}),
        json!({"secret": HS_SECRET, "aud": "api", "time": at(1_500)}),
    ] {
        assert_eq!(dv(c.clone()), json!([false, {}, {}]), "{c}");
    }
    assert!(
        eval(
            "io.jwt.decode_verify(input.t, {\"bogus\": 1, \"secret\": \"x\"})",
            json!({"t": t})
        )
        .is_err()
    );
}

#[test]
fn tokens_up_to_16_kib_are_read_and_longer_ones_never_verify() {
    let big = sign(
        Algorithm::HS256,
        None,
        &json!({"sub": "alice", "pad": "x".repeat(4000)}),
    );
    assert!(big.len() > 4000 && big.len() < 16 * 1024);
    assert_eq!(
        eval(
            "io.jwt.verify_hs256(input.t, input.k)",
            json!({"t": big, "k": HS_SECRET})
        )
        .unwrap(),
        json!(true)
    );
    let huge = sign(Algorithm::HS256, None, &json!({"pad": "x".repeat(20_000)}));
    assert_eq!(
        eval(
            "io.jwt.verify_hs256(input.t, input.k)",
            json!({"t": huge, "k": HS_SECRET})
        )
        .unwrap(),
        json!(false)
    );
}

#[test]
fn decode_verify_checks_a_single_audience_string() {
    let t = sign(
        Algorithm::HS256,
        None,
        &json!({"sub": "alice", "aud": "api"}),
    );
    let dv = |aud: &str| {
        eval(
            "io.jwt.decode_verify(input.t, {\"secret\": input.k, \"aud\": input.aud})",
            json!({"t": t, "k": HS_SECRET, "aud": aud}),
        )
        .unwrap()[0]
            .clone()
    };
    assert_eq!(dv("api"), json!(true));
    assert_eq!(dv("other"), json!(false));
}
