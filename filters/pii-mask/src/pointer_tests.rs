use super::*;

fn m(p: &str, path: &[&str]) -> bool {
    let path: Vec<&[u8]> = path.iter().map(|s| s.as_bytes()).collect();
    Pattern::parse(p).unwrap().matches(&path)
}

#[test]
fn names_wildcards_and_depth() {
    assert!(m("/user/email", &["user", "email"]));
    assert!(!m("/user/email", &["user", "phone"]));
    assert!(!m("/user/email", &["user"]));
    assert!(!m("/user", &["user", "email"]));
    assert!(m("/users/*/email", &["users", "3", "email"]));
    assert!(!m("/users/*/email", &["users", "email"]));
    assert!(m("/**/password", &["password"]));
    assert!(m("/**/password", &["a", "b", "password"]));
    assert!(!m("/**/password", &["a", "password", "x"]));
    assert!(m("/a/**", &["a"]));
    assert!(m("", &[]));
    assert!(!m("", &["a"]));
}

#[test]
fn escapes_follow_rfc_6901() {
    assert!(m("/a~1b/c~0d/~2", &["a/b", "c~d", "*"]));
    assert!(!m("/~2", &["x"]));
    assert!(Pattern::parse("/a~3").is_err());
    assert!(Pattern::parse("a/b").is_err());
}
