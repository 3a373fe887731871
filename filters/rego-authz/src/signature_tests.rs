use jsonwebtoken::Algorithm;

use super::*;
use crate::test_support::{HS_SECRET, files, rsa_public_pem, sign_bundle};

fn rsa_verification() -> Verification {
    let mut keys = BTreeMap::new();
    keys.insert(
        "global".to_string(),
        VerificationKey {
            algorithm: Alg::RS256,
            key: rsa_public_pem(),
            scope: String::new(),
        },
    );
    Verification {
        keys,
        ..Verification::default()
    }
}

fn bundle() -> Files {
    files(&[
        (".manifest", r#"{"revision": "r1", "roots": ["envoy"]}"#),
        ("envoy/authz.rego", "package envoy.authz\nallow := true\n"),
        ("envoy/data.json", r#"{"b": 2, "a": [1, "x"]}"#),
    ])
}

#[test]
fn a_signed_bundle_verifies_and_any_change_is_refused() {
    let mut f = bundle();
    sign_bundle(&mut f, Algorithm::RS256, Some("global"));
    assert_eq!(verify(&f, &rsa_verification()), Ok("global".into()));

    // Reformatting JSON is not a change (OPA digests the parsed value)...
    let mut same = f.clone();
    same.0.insert(
        "envoy/data.json".into(),
        b"{ \"a\": [1,\"x\"],\n \"b\": 2 }".to_vec(),
    );
    assert!(verify(&same, &rsa_verification()).is_ok());

    // ...but a changed policy, changed data, an added or a removed file is.
    type Change = Box<dyn Fn(&mut Files)>;
    let cases: Vec<(&str, Change)> = vec![
        (
            "policy",
            Box::new(|f: &mut Files| {
                f.0.insert(
                    "envoy/authz.rego".into(),
                    b"package envoy.authz\nallow := false\n".to_vec(),
                );
            }),
        ),
        (
            "data",
            Box::new(|f: &mut Files| {
                f.0.insert(
                    "envoy/data.json".into(),
                    br#"{"b": 3, "a": [1, "x"]}"#.to_vec(),
                );
            }),
        ),
        (
            "added",
            Box::new(|f: &mut Files| {
                f.0.insert("envoy/extra.rego".into(), b"package envoy.extra\n".to_vec());
            }),
        ),
        (
            "removed",
            Box::new(|f: &mut Files| {
                f.0.remove("envoy/data.json");
            }),
        ),
        (
            "unsigned",
            Box::new(|f: &mut Files| {
                f.0.remove(SIGNATURES_FILE);
            }),
        ),
    ];
    for (what, change) in cases {
        let mut t = f.clone();
        change(&mut t);
        assert!(verify(&t, &rsa_verification()).is_err(), "{what}");
    }
}

#[test]
fn the_key_algorithm_and_scope_must_match() {
    let mut f = bundle();
    sign_bundle(&mut f, Algorithm::HS256, Some("global"));
    let err = verify(&f, &rsa_verification()).unwrap_err();
    assert!(err.contains("verifies RS256"), "{err}");

    let mut hs = Verification::default();
    hs.keys.insert(
        "global".into(),
        VerificationKey {
            algorithm: Alg::HS256,
            key: HS_SECRET.into(),
            scope: String::new(),
        },
    );
    assert!(verify(&f, &hs).is_ok());
    hs.scope = Some("write".into());
    assert!(verify(&f, &hs).unwrap_err().contains("scope"));

    let mut unknown = bundle();
    sign_bundle(&mut unknown, Algorithm::RS256, Some("other"));
    assert!(
        verify(&unknown, &rsa_verification())
            .unwrap_err()
            .contains("`other`")
    );
}

#[test]
fn structured_digests_follow_opa() {
    // The same value, whitespace and key order aside, has one digest.
    let a = file_digest("data.json", br#"{"b":1,"a":"<x>\u2028"}"#, "SHA-256").unwrap();
    let b = file_digest(
        "x/data.json",
        b"{\n \"a\": \"<x>\\u2028\", \"b\": 1}",
        "SHA-256",
    )
    .unwrap();
    assert_eq!(a, b);
    let mut out = Vec::new();
    canonical(
        &serde_json::json!({"b": [true, null], "a": "q\"\n\u{1}<"}),
        &mut out,
    );
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "{\"a\":\"q\\\"\\n\\u0001<\",\"b\":[true,null]}"
    );
    // Policies are digested as bytes.
    assert_ne!(
        file_digest("p.rego", b"package p\n", "SHA-256").unwrap(),
        file_digest("p.rego", b"package p\n\n", "SHA-256").unwrap()
    );
    assert!(file_digest("p.rego", b"", "MD5").is_err());
}

#[test]
fn spaces_are_not_escaped_and_large_signatures_are_read() {
    let mut out = Vec::new();
    canonical(&serde_json::json!({"a b": "c d"}), &mut out);
    assert_eq!(String::from_utf8(out).unwrap(), r#"{"a b":"c d"}"#);
    // Many files make a long signature (one digest each): still read whole.
    let mut f = bundle();
    for i in 0..60 {
        f.0.insert(
            format!("envoy/m{i}.rego"),
            format!("package envoy.m{i}\n").into_bytes(),
        );
    }
    sign_bundle(&mut f, Algorithm::RS256, Some("global"));
    assert!(f.0[SIGNATURES_FILE].len() > 4096);
    assert_eq!(verify(&f, &rsa_verification()), Ok("global".into()));
}

/// OPA's own signature token and keys (tests/vectors/README.md names the source).
#[test]
fn a_token_made_by_opas_signer_verifies_and_lists_its_files() {
    let v: serde_json::Value =
        serde_json::from_str(include_str!("../tests/vectors/opa-bundle-signatures.json")).unwrap();
    let text = |k: &str| v[k].as_str().unwrap().to_string();
    let with_key = |pem: String, scope: &str| {
        let mut keys = BTreeMap::new();
        keys.insert(
            text("rs256_key_id"),
            VerificationKey {
                algorithm: Alg::RS256,
                key: pem,
                scope: scope.into(),
            },
        );
        Verification {
            keys,
            ..Verification::default()
        }
    };
    let token = text("rs256_token");
    let signed = verify_token(&token, &with_key(text("public_key"), &text("rs256_scope"))).unwrap();
    assert_eq!(signed.key_id, "foo");
    let want: BTreeMap<String, (String, String)> = v["files"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, e)| {
            (
                k.clone(),
                (e[0].as_str().unwrap().into(), e[1].as_str().unwrap().into()),
            )
        })
        .collect();
    assert_eq!(signed.files, want);
    // Another key, or another scope, and OPA's token is refused.
    assert!(verify_token(&token, &with_key(text("other_public_key"), "write")).is_err());
    assert!(
        verify_token(&token, &with_key(text("public_key"), ""))
            .unwrap_err()
            .contains("scope")
    );
    // OPA digests a structured file as its value: OPA's .manifest vector.
    let mut out = Vec::new();
    canonical(
        &serde_json::from_str(&text("manifest_text")).unwrap(),
        &mut out,
    );
    assert_eq!(String::from_utf8(out).unwrap(), text("manifest_canonical"));
}
