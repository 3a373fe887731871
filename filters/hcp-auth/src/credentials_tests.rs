use super::*;
use serde_json::json;

fn names() -> ClaimNames {
    ClaimNames::default()
}

#[test]
fn credentials_come_from_the_property_only() {
    let full = json!({"username": "alice", "password": "pw", "tenant": "Acme"}).to_string();
    let c = extract(claims(Some(full.as_bytes())).as_ref(), &names()).unwrap();
    assert_eq!(
        (c.username.as_str(), c.password.as_str(), c.tenant.as_str()),
        ("alice", "pw", "acme")
    );
    assert_eq!(
        extract(claims(None).as_ref(), &names()).unwrap_err(),
        Problem::NoClaims
    );
    // Not JSON, or not an object: no claims.
    for garbage in ["", "{", "[]", "null"] {
        assert_eq!(claims(Some(garbage.as_bytes())), None, "{garbage}");
    }
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
        extract(claims(Some(empty.as_bytes())).as_ref(), &names()).unwrap_err(),
        Problem::Missing("tenant".into())
    );
    let ok = json!({"username": "alice", "password": "pw", "tenant": "acme"}).to_string();
    let c = extract(claims(Some(ok.as_bytes())).as_ref(), &names()).unwrap();
    let shown = format!("{c:?}");
    assert!(shown.contains("alice") && shown.contains("acme") && shown.contains("<redacted>"));
}
