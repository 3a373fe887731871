use base64::Engine as _;
use serde_json::json;

use super::*;

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn the_input_matches_opa_envoys_document() {
    let headers = pairs(&[
        (":method", "POST"),
        (":path", "/people/alice?lang=en"),
        (":authority", "api.example.com"),
        (":scheme", "https"),
        ("x-request-id", "r-1"),
        ("content-type", "application/json"),
        ("content-length", "11"),
        ("accept", "a"),
        ("accept", "b"),
    ]);
    let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"sub":"alice"}"#);
    let mut h = headers.clone();
    h.push(("x-tollgate-jwt-payload".into(), claims.clone()));
    let input = build(&Request {
        headers: &h,
        source: Some("10.0.0.1:4242"),
        destination: Some("[::1]:8080"),
        protocol: Some("HTTP/1.1"),
        time: Some((1_700_000_000, 5_000_000)),
        body: Some(Body {
            bytes: br#"{"age": 42}"#,
            truncated: false,
        }),
        token_payload: Some(&claims),
    })
    .unwrap();
    let http = &input["attributes"]["request"]["http"];
    assert_eq!(http["id"], "r-1");
    assert_eq!(http["method"], "POST");
    assert_eq!(http["path"], "/people/alice?lang=en");
    assert_eq!(http["host"], "api.example.com");
    assert_eq!(http["scheme"], "https");
    assert_eq!(http["protocol"], "HTTP/1.1");
    assert_eq!(http["size"], "11");
    assert_eq!(http["body"], r#"{"age": 42}"#);
    assert_eq!(http["headers"]["accept"], "a,b");
    assert_eq!(http["headers"][":authority"], "api.example.com");
    assert_eq!(
        input["attributes"]["request"]["time"],
        "2023-11-14T22:13:20.005Z"
    );
    assert_eq!(
        input["attributes"]["source"],
        json!({"address": {"socketAddress": {"address": "10.0.0.1", "portValue": 4242}}})
    );
    assert_eq!(
        input["attributes"]["destination"]["address"]["socketAddress"]["address"],
        "::1"
    );
    assert_eq!(input["parsed_path"], json!(["people", "alice"]));
    assert_eq!(input["parsed_query"], json!({"lang": ["en"]}));
    assert_eq!(input["parsed_body"], json!({"age": 42}));
    assert_eq!(input["truncated_body"], json!(false));
    assert_eq!(
        input["version"],
        json!({"encoding": "protojson", "ext_authz": "v3"})
    );
    assert_eq!(input["token"], json!({"sub": "alice"}));
}

#[test]
fn absent_parts_are_left_out_and_bad_ones_refused() {
    let h = pairs(&[(":method", "GET"), (":path", "/")]);
    let input = build(&Request {
        headers: &h,
        token_payload: Some("not base64!"),
        ..Request::default()
    })
    .unwrap();
    let http = &input["attributes"]["request"]["http"];
    assert!(http.get("size").is_none() && http.get("body").is_none() && http.get("id").is_none());
    assert!(input.get("token").is_none());
    assert!(input.get("parsed_body").is_none());
    let bad = pairs(&[(":method", "GET"), (":path", "/%zz")]);
    assert!(matches!(
        build(&Request {
            headers: &bad,
            ..Request::default()
        }),
        Err(BadRequest::Path(_))
    ));
    let binary = build(&Request {
        headers: &h,
        body: Some(Body {
            bytes: &[0xff, 0x00],
            truncated: false,
        }),
        ..Request::default()
    })
    .unwrap();
    assert_eq!(binary["attributes"]["request"]["http"]["raw_body"], "/wA=");
}

#[test]
fn rfc3339_dates() {
    assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339(951_782_400, 1), "2000-02-29T00:00:00.000000001Z");
    assert_eq!(
        rfc3339(4_102_444_799, 123_000),
        "2099-12-31T23:59:59.000123Z"
    );
}
