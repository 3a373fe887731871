use super::*;

fn compiled(host: tollgate_kit::HostKind) -> Compiled {
    crate::config::load(
        br#"{"rules": [{"name": "r", "glob": "/**", "ttl_s": 60}]}"#,
        tollgate_kit::HostFacts::of(host),
    )
    .unwrap()
}

#[test]
fn bodies_for_a_host_that_appends_a_line_feed() {
    let kong = compiled(tollgate_kit::HostKind::Kong);
    let envoy = compiled(tollgate_kit::HostKind::Envoy);
    assert_eq!(body_for_host(&kong, b"a\n"), b"a");
    assert_eq!(body_for_host(&kong, b"a"), b"a");
    assert_eq!(body_for_host(&envoy, b"a\n"), b"a\n");
    let h = |t: &str| vec![("content-type".to_string(), t.to_string())];
    assert!(survives_newline(&h("application/octet-stream"), b""));
    assert!(survives_newline(&h("application/octet-stream"), b"x\n"));
    assert!(!survives_newline(&h("application/octet-stream"), b"x"));
    assert!(!survives_newline(&[], b"x"));
    for t in [
        "text/plain",
        "application/json",
        "application/problem+json",
        "application/xml",
        "text/javascript",
    ] {
        assert!(survives_newline(&h(t), b"x"), "{t}");
    }
}
