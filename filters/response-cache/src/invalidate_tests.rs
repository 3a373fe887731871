use tollgate_kit::HostFacts;

use super::*;

#[test]
fn lookup_scopes_cover_everything_the_uri_and_configured_depths() {
    assert_eq!(
        lookup_scopes("H", "/a/b/c", &[0, 1, 3, 5]),
        vec!["*", "u h /a/b/c", "p h /", "p h /a", "p h /a/b/c"]
    );
    assert_eq!(lookup_scopes("h", "/", &[1]), vec!["*", "u h /"]);
}

#[test]
fn locations_on_the_same_authority_only() {
    let base = "/mapi/items";
    assert_eq!(
        same_origin_path("/x/../y", "h", base).as_deref(),
        Some("/y")
    );
    assert_eq!(
        same_origin_path("https://H/z?q=1", "h", base).as_deref(),
        Some("/z")
    );
    assert_eq!(
        same_origin_path("http://h", "h", base).as_deref(),
        Some("/")
    );
    assert_eq!(same_origin_path("https://other/z", "h", base), None);
    assert_eq!(same_origin_path("//other/z", "h", base), None);
    assert_eq!(
        same_origin_path("items/8", "h", base).as_deref(),
        Some("/mapi/items/8")
    );
    assert_eq!(
        same_origin_path("/a%2Fb", "h", base),
        None,
        "no normal form"
    );
}

#[test]
fn write_scopes_take_the_first_fitting_rule() {
    let c = crate::config::load(
        br#"{"rules": [{"name": "r", "glob": "/**"}],
             "invalidate": [{"glob": "/keep/**", "prefixes": []},
                            {"glob": "/*/**", "methods": ["PUT"], "prefixes": ["/{1}"]}]}"#,
        HostFacts::default(),
    )
    .unwrap();
    let h = vec![("location".to_string(), "/new".to_string())];
    assert_eq!(
        write_scopes(&c, "PUT", "h", "/b/k", &h),
        vec!["p h /b", "u h /b/k", "u h /new"]
    );
    assert_eq!(write_scopes(&c, "POST", "h", "/b/k", &[]), vec!["u h /b/k"]);
    assert_eq!(
        write_scopes(&c, "PUT", "h", "/keep/k", &[]),
        vec!["u h /keep/k"]
    );
    assert!(is_unsafe("PATCH") && is_unsafe("PURGE") && !is_unsafe("GET") && !is_unsafe("OPTIONS"));
    assert!(succeeded(204) && succeeded(302) && !succeeded(404) && !succeeded(100));
}
