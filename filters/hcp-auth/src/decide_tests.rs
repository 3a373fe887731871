use super::*;
use crate::config::HcpAuthConfig;
use crate::sigv4::EMPTY_SHA256;
use tollgate_kit::config;

fn compiled(extra: serde_json::Value) -> Compiled {
    let mut c = serde_json::json!({
        "hcp_domain": "hcp.test",
        "trusted_payload_header": "x-tollgate-jwt-payload",
        "token_cookie": "hcp_token",
        "routes": [{"match": {"prefix": "/health"}, "mode": "passthrough"},
                   {"match": {"prefix": "/mapi/"}, "mode": "management"},
                   {"match": {"prefix": "/"}, "mode": "s3"}]
    });
    if let (Some(c), Some(e)) = (c.as_object_mut(), extra.as_object()) {
        c.extend(e.clone());
    }
    config::load::<HcpAuthConfig>(c.to_string().as_bytes()).unwrap()
}

fn alice() -> Result<Credentials, Problem> {
    Ok(Credentials {
        username: "alice".into(),
        password: "pw".into(),
        tenant: "acme".into(),
    })
}

fn headers(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn set<'a>(d: &'a Decision, name: &str) -> Option<&'a str> {
    match d {
        Decision::Allow { mutations, .. } => tollgate_kit::mutation::value_of(mutations, name),
        _ => None,
    }
}

#[test]
fn management_header_and_tenant_routing() {
    let c = compiled(serde_json::json!({"authority_port": 9090,
        "cluster_header": {"name": "x-tollgate-hcp-cluster", "prefix": "hcp-"}}));
    let h = headers(&[
        ("authorization", "Bearer x"),
        ("x-tollgate-jwt-payload", "e30"),
        ("cookie", "a=1; hcp_token=abc; b=2"),
    ]);
    let req = RequestView {
        method: "GET",
        path: "/mapi/tenants",
        headers: &h,
    };
    let d = c.decide(&req, alice().as_ref(), 0, None);
    assert_eq!(set(&d, ":authority"), Some("acme.hcp.test:9090"));
    assert_eq!(set(&d, "x-tollgate-hcp-cluster"), Some("hcp-acme"));
    assert_eq!(
        set(&d, "authorization").map(String::from),
        Some(format!("HCP YWxpY2U=:{}", mgmt::secret_key("pw")))
    );
    let Decision::Allow { mutations, .. } = &d else {
        panic!()
    };
    assert!(mutations.contains(&Mutation::Remove("x-tollgate-jwt-payload".into())));
    assert!(mutations.contains(&Mutation::SetCookie(Some("a=1; b=2".into()))));
}

#[test]
fn s3_signature_covers_the_routed_host_and_client_amz_headers() {
    let c = compiled(serde_json::json!({}));
    let h = headers(&[
        (":authority", "edge.example"),
        ("x-amz-meta-color", "blue"),
        ("x-amz-date", "19990101T000000Z"),
        ("x-amz-security-token", "client-token"),
        ("content-type", "text/plain"),
        ("x-forwarded-for", "10.0.0.1"),
    ]);
    let req = RequestView {
        method: "PUT",
        path: "/bucket/a%20b.txt",
        headers: &h,
    };
    let d = c.decide(&req, alice().as_ref(), 1_440_938_160, None);
    let auth = set(&d, "authorization").unwrap();
    assert!(auth.starts_with("AWS4-HMAC-SHA256 Credential=YWxpY2U=/20150830/us-east-1/s3/aws4_request, SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-meta-color, Signature="), "{auth}");
    assert_eq!(set(&d, "x-amz-content-sha256"), Some(UNSIGNED_PAYLOAD));
    assert_eq!(set(&d, "x-amz-date"), Some("20150830T123600Z"));
    let Decision::Allow { mutations, .. } = &d else {
        panic!()
    };
    assert!(mutations.contains(&Mutation::Remove("x-amz-security-token".into())));
    // The signature is what an independent signer computes over the routed host.
    let expected_headers = headers(&[
        ("content-type", "text/plain"),
        ("x-amz-meta-color", "blue"),
        ("host", "acme.hcp.test"),
        ("x-amz-content-sha256", UNSIGNED_PAYLOAD),
        ("x-amz-date", "20150830T123600Z"),
    ]);
    let expected = sigv4::authorization(
        &Signable {
            method: "PUT",
            path: "/bucket/a%20b.txt",
            headers: &expected_headers,
            payload_hash: UNSIGNED_PAYLOAD,
        },
        &Scope {
            access_key: "YWxpY2U=",
            secret_key: &mgmt::secret_key("pw"),
            region: "us-east-1",
            service: "s3",
            amz_date: "20150830T123600Z",
        },
    );
    assert_eq!(auth, expected);
}

#[test]
fn signing_the_body_waits_for_it() {
    let c = compiled(serde_json::json!({"s3": {"sign_body": true, "max_body_bytes": 1024}}));
    let req = RequestView {
        method: "PUT",
        path: "/b/k",
        headers: &[],
    };
    assert_eq!(
        c.decide(&req, alice().as_ref(), 0, None),
        Decision::NeedBody
    );
    let d = c.decide(&req, alice().as_ref(), 0, Some(EMPTY_SHA256));
    assert_eq!(set(&d, "x-amz-content-sha256"), Some(EMPTY_SHA256));
}

#[test]
fn missing_credentials_are_401_without_secrets() {
    let c = compiled(serde_json::json!({}));
    let req = RequestView {
        method: "GET",
        path: "/mapi/x",
        headers: &[],
    };
    for (problem, code) in [
        (Problem::NoClaims, "credentials_missing"),
        (
            Problem::Missing("password".into()),
            "credentials_incomplete",
        ),
        (Problem::BadTenant, "tenant_invalid"),
    ] {
        let Decision::Deny(r) = c.decide(&req, Err(&problem), 0, None) else {
            panic!()
        };
        assert_eq!((r.status, r.code), (401, code));
        assert!(r.body.contains(code));
    }
    // Passthrough needs no credentials, but still sheds what must not reach HCP.
    let h = headers(&[
        ("authorization", "Bearer t"),
        ("x-tollgate-jwt-payload", "e30"),
    ]);
    let req = RequestView {
        method: "GET",
        path: "/health",
        headers: &h,
    };
    let d = c.decide(&req, Err(&Problem::NoClaims), 0, None);
    assert_eq!(
        d,
        Decision::Allow {
            mode: Mode::Passthrough,
            mutations: vec![
                Mutation::Remove("x-tollgate-jwt-payload".into()),
                Mutation::Remove("authorization".into())
            ]
        }
    );
}

#[test]
fn cookie_stripping() {
    assert_eq!(without_cookie("hcp_token=x", "hcp_token"), Some(None));
    assert_eq!(
        without_cookie("a=1;hcp_token=x", "hcp_token"),
        Some(Some("a=1".into()))
    );
    assert_eq!(without_cookie("a=1; b=2", "hcp_token"), None);
    assert_eq!(without_cookie("xhcp_token=1", "hcp_token"), None);
}

#[test]
fn only_headers_present_are_removed() {
    let c = compiled(serde_json::json!({}));
    let none = headers(&[(":authority", "edge")]);
    let view = RequestView {
        method: "GET",
        path: "/health",
        headers: &none,
    };
    match c.decide(&view, alice().as_ref(), 1_700_000_000, None) {
        Decision::Allow { mutations, .. } => assert!(mutations.is_empty(), "{mutations:?}"),
        other => panic!("{other:?}"),
    }
    let view = RequestView {
        method: "GET",
        path: "/b/k",
        headers: &none,
    };
    match c.decide(&view, alice().as_ref(), 1_700_000_000, None) {
        Decision::Allow { mutations, .. } => {
            assert!(
                !mutations.iter().any(|m| matches!(m, Mutation::Remove(_))),
                "{mutations:?}"
            )
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn bodies_are_needed_only_for_signed_s3_bodies() {
    let plain = compiled(serde_json::json!({}));
    let signing = compiled(serde_json::json!({"s3": {"sign_body": true}}));
    assert!(signing.needs_body(Mode::S3));
    assert!(!signing.needs_body(Mode::Management));
    assert!(!signing.needs_body(Mode::Passthrough));
    assert!(!plain.needs_body(Mode::S3));
}

#[test]
fn buffered_bodies_are_framed_by_length() {
    let c = compiled(serde_json::json!({}));
    let chunked = headers(&[("transfer-encoding", "chunked")]);
    let view = RequestView {
        method: "PUT",
        path: "/b/k",
        headers: &chunked,
    };
    assert_eq!(
        c.buffered_framing(&view, 42),
        vec![
            Mutation::Set("content-length".into(), "42".into()),
            Mutation::Remove("transfer-encoding".into())
        ]
    );
    let sized = headers(&[("content-length", "42")]);
    let view = RequestView {
        method: "PUT",
        path: "/b/k",
        headers: &sized,
    };
    assert_eq!(
        c.buffered_framing(&view, 42),
        vec![Mutation::Set("content-length".into(), "42".into())]
    );
}

#[test]
fn the_default_signed_body_limit_is_8_mib() {
    assert_eq!(
        compiled(serde_json::json!({})).s3.max_body_bytes,
        8 * 1024 * 1024
    );
}
