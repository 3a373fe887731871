//! Unit tests of `path`.

use super::*;

fn normal(path: &str) -> String {
    normalize(path).unwrap().into_owned()
}

#[test]
fn normal_paths_are_borrowed() {
    for p in [
        "/",
        "/api/hello",
        "/a/b/",
        "/a?x=../..//",
        "/a%20b",
        "/%C3%A9",
    ] {
        assert!(matches!(normalize(p), Ok(Cow::Borrowed(_))), "{p}");
    }
}

#[test]
fn dot_segments_and_slashes_are_resolved() {
    let cases = [
        ("/health/../api/hello", "/api/hello"),
        ("/health/./x", "/health/x"),
        ("/a/b/..", "/a/"),
        ("/a/.", "/a/"),
        ("/..", "/"),
        ("/../../etc", "/etc"),
        ("//api//hello", "/api/hello"),
        ("/health/%2e%2e/api?q=1", "/api?q=1"),
        ("/health/%2E%2e/api", "/api"),
        ("/%61pi/%7euser", "/api/~user"),
        ("/a%3ab", "/a%3Ab"),
        ("/a%20b/", "/a%20b/"),
    ];
    for (raw, want) in cases {
        assert_eq!(normal(raw), want, "{raw}");
    }
}

#[test]
fn ambiguous_paths_are_refused() {
    let cases = [
        ("/health%2f..%2fapi", PathProblem::EncodedSlash),
        ("/a%2Fb", PathProblem::EncodedSlash),
        ("/a%5cb", PathProblem::EncodedSlash),
        ("/health/..;/api", PathProblem::DotSegmentParameter),
        ("/health/.;x/api", PathProblem::DotSegmentParameter),
        ("/a%zz", PathProblem::BadEscape),
        ("/a%2", PathProblem::BadEscape),
        ("/é", PathProblem::BadEscape),
        ("api/hello", PathProblem::NotAbsolute),
        ("", PathProblem::NotAbsolute),
    ];
    for (raw, want) in cases {
        assert_eq!(normalize(raw).unwrap_err(), want, "{raw}");
    }
}

#[test]
fn handling_modes() {
    let odd = "/health/../api";
    assert_eq!(PathHandling::Normalize.prepare(odd).unwrap(), "/api");
    assert_eq!(
        PathHandling::Reject.prepare(odd).unwrap_err(),
        PathProblem::NotNormal
    );
    assert_eq!(PathHandling::AsIs.prepare(odd).unwrap(), odd);
    assert_eq!(
        PathHandling::Reject.prepare("/api?a=..").unwrap(),
        "/api?a=.."
    );
    assert_eq!(
        PathHandling::Normalize.prepare("/a%2fb").unwrap_err(),
        PathProblem::EncodedSlash
    );
    assert_eq!(PathHandling::AsIs.prepare("/a%2fb").unwrap(), "/a%2fb");
    assert_eq!(PathHandling::Normalize.prepare("*").unwrap(), "*");
    assert_eq!(PathHandling::default(), PathHandling::Normalize);
    let parsed: PathHandling = serde_json::from_str("\"as_is\"").unwrap();
    assert_eq!(parsed, PathHandling::AsIs);
    for problem in [PathProblem::NotNormal, PathProblem::EncodedSlash] {
        assert!(
            !problem.to_string().contains("api"),
            "never echoes the path"
        );
    }
}

#[test]
fn every_problem_has_its_own_message() {
    let all = [
        PathProblem::NotAbsolute,
        PathProblem::BadEscape,
        PathProblem::EncodedSlash,
        PathProblem::DotSegmentParameter,
        PathProblem::NotNormal,
    ];
    let messages: std::collections::BTreeSet<String> =
        all.iter().map(ToString::to_string).collect();
    assert_eq!(messages.len(), all.len());
    assert!(messages.iter().all(|m| m.starts_with("the request path")));
}

#[test]
fn the_fast_path_takes_only_paths_already_in_normal_form() {
    for normal in ["/", "/a", "/a/b/", "/a;p=1/b", "/a.b/.c/..d"] {
        assert!(already_normal(normal), "{normal}");
    }
    for not in [
        "//a", "/a//b", "/./a", "/a/..", "/a/.;p/b", "/a/..;x", "/a%2Fb", "/a/%41",
    ] {
        assert!(!already_normal(not), "{not}");
    }
}
