use super::*;
use serde_json::json;

fn names() -> ClaimNames {
    ClaimNames::default()
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

#[test]
fn property_first_then_header() {
    let full = json!({"username": "alice", "password": "pw", "tenant": "Acme"}).to_string();
    let shown = b64(&json!({"username": "mallory", "tenant": "acme"}));
    let c = extract(
        claims(Some(full.as_bytes()), Some(&shown)).as_ref(),
        &names(),
    )
    .unwrap();
    assert_eq!(
        (c.username.as_str(), c.password.as_str(), c.tenant.as_str()),
        ("alice", "pw", "acme")
    );
    // Only the header: the password was withheld by jwt-auth.
    let e = extract(claims(None, Some(&shown)).as_ref(), &names()).unwrap_err();
    assert_eq!(e, Problem::Missing("password".into()));
    assert_eq!(
        extract(claims(None, None).as_ref(), &names()).unwrap_err(),
        Problem::NoClaims
    );
}

#[test]
fn nested_claim_paths_and_bad_values() {
    let n = ClaimNames {
        username: "hcp.user".into(),
        password: "hcp.pass".into(),
        tenant: "hcp.tenant".into(),
    };
    let ok = json!({"hcp": {"user": "u", "pass": "p", "tenant": "t1"}});
    assert!(extract(ok.as_object(), &n).is_ok());
    for (bad, problem) in [
        (
            json!({"hcp": {"user": "u", "pass": 5, "tenant": "t1"}}),
            Problem::Missing("hcp.pass".into()),
        ),
        (
            json!({"hcp": {"user": "", "pass": "p", "tenant": "t1"}}),
            Problem::Missing("hcp.user".into()),
        ),
        (
            json!({"hcp": {"user": "u\r\nx", "pass": "p", "tenant": "t1"}}),
            Problem::Missing("hcp.user".into()),
        ),
        (
            json!({"hcp": {"user": "u", "pass": "p", "tenant": "evil.com/x"}}),
            Problem::BadTenant,
        ),
        (
            json!({"hcp": {"user": "u", "pass": "p", "tenant": "a.b"}}),
            Problem::BadTenant,
        ),
    ] {
        assert_eq!(extract(bad.as_object(), &n).unwrap_err(), problem, "{bad}");
    }
}

#[test]
fn debug_and_messages_never_show_the_password() {
    let c = Credentials {
        username: "u".into(),
        password: "s3cr3t".into(),
        tenant: "t".into(),
    };
    assert!(!format!("{c:?}").contains("s3cr3t"));
    assert!(
        Problem::Missing("password".into())
            .message()
            .contains("`password`")
    );
}

#[test]
fn an_empty_tenant_is_missing_and_debug_shows_the_user() {
    let empty = json!({"username": "alice", "password": "pw", "tenant": ""}).to_string();
    assert_eq!(
        extract(claims(Some(empty.as_bytes()), None).as_ref(), &names()).unwrap_err(),
        Problem::Missing("tenant".into())
    );
    let ok = json!({"username": "alice", "password": "pw", "tenant": "acme"}).to_string();
    let c = extract(claims(Some(ok.as_bytes()), None).as_ref(), &names()).unwrap();
    let shown = format!("{c:?}");
    assert!(shown.contains("alice") && shown.contains("acme") && shown.contains("<redacted>"));
}
