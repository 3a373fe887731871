use super::*;

fn compile(json: &str) -> Result<Matcher, ConfigError> {
    serde_json::from_str::<MatchConfig>(json)
        .unwrap()
        .compile("rules[0].match")
}

#[test]
fn prefix_exact_regex_and_methods() {
    let m = compile(r#"{"prefix": "/api/", "methods": ["get"]}"#).unwrap();
    assert!(m.matches("GET", "/api/x?y=1"));
    assert!(!m.matches("POST", "/api/x"));
    let m = compile(r#"{"path": "/health"}"#).unwrap();
    assert!(m.matches("PUT", "/health?probe=1") && !m.matches("GET", "/health/x"));
    let m = compile(r#"{"regex": "^/t/[^/]+/admin"}"#).unwrap();
    assert!(m.matches("GET", "/t/acme/admin/x") && !m.matches("GET", "/t/admin"));
}

#[test]
fn errors_name_the_field() {
    let e = compile(r#"{"prefix": "/a", "path": "/b"}"#).unwrap_err();
    assert_eq!(e.path, "rules[0].match");
    let e = compile(r#"{"regex": "("}"#).unwrap_err();
    assert_eq!(e.path, "rules[0].match.regex");
}
