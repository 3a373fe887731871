//! Unit tests of `claims`.

use super::*;
use serde_json::json;

fn claims(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap()
}

const NOW: f64 = 1_700_000_000.0;

fn code(policy: &ClaimPolicy, v: Value) -> Option<Code> {
    policy.check(&claims(v), NOW).err().map(|d| d.code)
}

#[test]
fn time_claims_respect_the_skew() {
    let p = ClaimPolicy::default();
    assert_eq!(code(&p, json!({"exp": NOW + 10.0})), None);
    assert_eq!(
        code(&p, json!({"exp": NOW - 30.0})),
        None,
        "within the 60 s skew"
    );
    assert_eq!(
        code(&p, json!({"exp": NOW - 61.0})),
        Some(Code::TokenExpired)
    );
    assert_eq!(
        code(&p, json!({"exp": NOW + 100.0, "nbf": NOW + 30.0})),
        None
    );
    assert_eq!(
        code(&p, json!({"exp": NOW + 100.0, "nbf": NOW + 90.0})),
        Some(Code::TokenNotYetValid)
    );
    assert_eq!(
        code(&p, json!({"exp": NOW + 100.0, "iat": NOW + 90.0})),
        Some(Code::IssuedInFuture)
    );
    assert_eq!(code(&p, json!({})), Some(Code::ClaimMissing));
    assert_eq!(
        code(&p, json!({"exp": "tomorrow"})),
        Some(Code::TokenMalformed)
    );
    assert_eq!(
        code(
            &ClaimPolicy {
                require_exp: false,
                ..p
            },
            json!({})
        ),
        None
    );
}

#[test]
fn lifetime_issuer_audience() {
    let p = ClaimPolicy {
        issuer: Some("https://idp".into()),
        audiences: vec!["api".into(), "web".into()],
        max_lifetime: Some(Duration::from_secs(3600)),
        ..ClaimPolicy::default()
    };
    let ok = json!({"exp": NOW + 60.0, "iat": NOW, "iss": "https://idp", "aud": ["x", "web"]});
    assert_eq!(code(&p, ok), None);
    assert_eq!(
        code(
            &p,
            json!({"exp": NOW + 7200.0, "iat": NOW, "iss": "https://idp", "aud": "api"})
        ),
        Some(Code::LifetimeTooLong)
    );
    assert_eq!(
        code(
            &p,
            json!({"exp": NOW + 60.0, "iss": "https://evil", "aud": "api"})
        ),
        Some(Code::IssuerMismatch)
    );
    assert_eq!(
        code(
            &p,
            json!({"exp": NOW + 60.0, "iss": "https://idp", "aud": "other"})
        ),
        Some(Code::AudienceMismatch)
    );
    assert_eq!(
        code(&p, json!({"exp": NOW + 60.0, "iss": "https://idp"})),
        Some(Code::AudienceMismatch)
    );
}

#[test]
fn claim_rules_and_nested_paths() {
    let p = ClaimPolicy {
        required: vec!["tenant.id".into()],
        rules: vec![
            ClaimRule {
                path: "scope".into(),
                expect: Match::Prefix("hcp:".into()),
            },
            ClaimRule {
                path: "roles".into(),
                expect: Match::OneOf(vec![json!("admin"), json!("ops")]),
            },
            ClaimRule {
                path: "tenant.tier".into(),
                expect: Match::Exact(json!(2)),
            },
        ],
        ..ClaimPolicy::default()
    };
    let good = json!({"exp": NOW + 1.0, "scope": "hcp:read", "roles": ["user", "ops"], "tenant": {"id": "t1", "tier": 2}});
    assert_eq!(code(&p, good), None);
    assert_eq!(
        code(
            &p,
            json!({"exp": NOW + 1.0, "scope": "hcp:read", "roles": ["user"], "tenant": {"id": "t1", "tier": 2}})
        ),
        Some(Code::ClaimMismatch)
    );
    assert_eq!(
        code(
            &p,
            json!({"exp": NOW + 1.0, "scope": "s3:read", "roles": "ops", "tenant": {"id": "t1", "tier": 2}})
        ),
        Some(Code::ClaimMismatch)
    );
    assert_eq!(
        code(
            &p,
            json!({"exp": NOW + 1.0, "scope": "hcp:x", "roles": "ops", "tenant": {"tier": 2}})
        ),
        Some(Code::ClaimMissing)
    );
}

#[test]
fn time_claims_at_their_exact_boundaries() {
    let p = ClaimPolicy {
        max_lifetime: Some(std::time::Duration::from_secs(3600)),
        ..ClaimPolicy::default()
    };
    let exp = NOW + 100.0;
    // exp is the first instant the token is invalid (RFC 7519 §4.1.4), skew included.
    assert_eq!(
        code(&p, json!({"exp": NOW - 60.0})),
        Some(Code::TokenExpired)
    );
    assert_eq!(code(&p, json!({"exp": NOW - 59.5})), None);
    // nbf and iat: valid from that instant on (less the skew).
    assert_eq!(code(&p, json!({"exp": exp, "nbf": NOW + 60.0})), None);
    assert_eq!(
        code(&p, json!({"exp": exp, "nbf": NOW + 60.5})),
        Some(Code::TokenNotYetValid)
    );
    assert_eq!(code(&p, json!({"exp": exp, "iat": NOW + 60.0})), None);
    assert_eq!(
        code(&p, json!({"exp": exp, "iat": NOW + 60.5})),
        Some(Code::IssuedInFuture)
    );
    // A lifetime of exactly the maximum is allowed; a second more is not.
    assert_eq!(code(&p, json!({"iat": NOW, "exp": NOW + 3600.0})), None);
    assert_eq!(
        code(&p, json!({"iat": NOW, "exp": NOW + 3601.0})),
        Some(Code::LifetimeTooLong)
    );
}
