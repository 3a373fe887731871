use serde_json::json;

use super::*;

#[test]
fn booleans_and_objects_follow_opa_envoy() {
    assert!(interpret(&json!(true)).unwrap().allowed);
    assert!(!interpret(&json!(false)).unwrap().allowed);
    let d = interpret(&json!({
        "allowed": true,
        "headers": {"X-User": "alice", "x-roles": ["a", "b"]},
        "request_headers_to_remove": ["x-debug"],
        "response_headers_to_add": [{"x-policy": "v1"}],
        "dynamic_metadata": {"user": "alice"}
    }))
    .unwrap();
    assert_eq!(
        d.headers,
        vec![
            ("x-user".into(), "alice".into()),
            ("x-roles".into(), "a".into()),
            ("x-roles".into(), "b".into())
        ]
    );
    assert_eq!(d.remove, vec!["x-debug".to_string()]);
    assert_eq!(d.response_headers, vec![("x-policy".into(), "v1".into())]);
    assert_eq!(d.metadata, Some(json!({"user": "alice"})));
    let deny = interpret(&json!({"allowed": false, "http_status": 401, "body": "no"})).unwrap();
    assert_eq!(
        (deny.allowed, deny.status, deny.body.as_deref()),
        (false, Some(401), Some("no"))
    );
}

#[test]
fn malformed_decisions_are_errors() {
    for bad in [
        json!("yes"),
        json!(1),
        json!(null),
        json!({}),
        json!({"allowed": "true"}),
        json!({"allowed": false, "http_status": 99}),
        json!({"allowed": false, "http_status": "403"}),
        json!({"allowed": false, "body": {"a": 1}}),
        json!({"allowed": true, "headers": {"x": 1}}),
        json!({"allowed": true, "headers": {"bad name": "v"}}),
        json!({"allowed": true, "headers": {"x": "a\r\nset-cookie: b"}}),
        json!({"allowed": true, "headers": {"x": "a\rb"}}),
        json!({"allowed": true, "headers": {"x": "a\nb"}}),
        json!({"allowed": true, "headers": {"x": "a\u{0}b"}}),
        json!({"allowed": true, "request_headers_to_remove": [":path"]}),
        json!({"allowed": true, "request_headers_to_remove": ["Host"]}),
        json!({"allowed": true, "request_headers_to_remove": "x"}),
        json!({"allowed": true, "dynamic_metadata": [1]}),
    ] {
        assert!(interpret(&bad).is_err(), "{bad}");
    }
}

#[test]
fn errors_say_what_was_found() {
    let err = interpret(&json!("yes")).unwrap_err();
    assert!(err.contains("not a string"), "{err}");
    let err = interpret(&json!({"allowed": 1})).unwrap_err();
    assert!(err.contains("not a number"), "{err}");
    let err = interpret(&json!({"allowed": false, "body": [1]})).unwrap_err();
    assert!(err.contains("not a list"), "{err}");
    let err = interpret(&json!(null)).unwrap_err();
    assert!(err.contains("not null"), "{err}");
    let err = interpret(&json!({"allowed": true, "dynamic_metadata": true})).unwrap_err();
    assert!(err.contains("not a boolean"), "{err}");
    let err =
        interpret(&json!({"allowed": true, "dynamic_metadata": {"a": 1}, "body": {}})).unwrap_err();
    assert!(err.contains("not an object"), "{err}");
}
