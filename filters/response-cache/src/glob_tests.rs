use super::*;

fn g(p: &str) -> Glob {
    Glob::compile(p).unwrap()
}

#[test]
fn segments_stars_and_double_stars() {
    assert!(g("/mapi/tenants/*/statistics").matches("/mapi/tenants/acme/statistics"));
    assert!(!g("/mapi/tenants/*/statistics").matches("/mapi/tenants/statistics"));
    assert!(!g("/mapi/tenants/*/statistics").matches("/mapi/tenants//statistics"));
    assert!(!g("/mapi/tenants/*/statistics").matches("/mapi/tenants/a/b/statistics"));
    assert!(g("/mapi/**").matches("/mapi"));
    assert!(g("/mapi/**").matches("/mapi/a/b/c"));
    assert!(!g("/mapi/**").matches("/mapix"));
    assert!(g("/").matches("/"));
    assert!(!g("/").matches("/a"));
    assert!(g("/*").matches("/bucket"));
    assert!(!g("/*").matches("/"));
    assert!(!g("/*").matches("/a/b"));
    assert!(g("/a/**/z").matches("/a/z"));
    assert!(g("/a/**/z").matches("/a/b/c/z"));
    assert!(!g("/a/**/z").matches("/a/b/c"));
    assert!(g("/files/*.json").matches("/files/a.json"));
    assert!(!g("/files/*.json").matches("/files/a.xml"));
    assert!(g("/v*/x*y*z").matches("/v1/xaybz"));
    assert!(!g("/v*/x*y*z").matches("/v1/xazy"));
    assert!(!g("/a").matches("a"));
}

#[test]
fn captures_in_order() {
    assert_eq!(
        g("/*/**").capture("/bucket/photos/cat.jpg"),
        Some(vec!["bucket", "photos/cat.jpg"])
    );
    assert_eq!(g("/*/**").capture("/bucket"), Some(vec!["bucket", ""]));
    assert_eq!(
        g("/mapi/tenants/*/namespaces/*/**").capture("/mapi/tenants/acme/namespaces/ns1"),
        Some(vec!["acme", "ns1", ""])
    );
    assert_eq!(g("/x/*").capture("/y/a"), None);
    assert_eq!(g("/*/**").captures(), vec![false, true]);
}

#[test]
fn bad_globs_say_why() {
    assert!(Glob::compile("a").unwrap_err().contains("starting with"));
    assert!(Glob::compile("/a**").unwrap_err().contains("whole segment"));
    assert!(
        Glob::compile("/**/**/**")
            .unwrap_err()
            .contains("at most 2")
    );
    assert!(Glob::compile("/a?x").unwrap_err().contains("query"));
    let long = "/a".repeat(40);
    assert!(Glob::compile(&long).unwrap_err().contains("segments"));
}

#[test]
fn templates_fill_and_know_their_depth() {
    let t = Template::compile("/{1}", &[false, true]).unwrap();
    assert_eq!(t.fill(&["bucket", "k"]), "/bucket");
    assert_eq!(t.depth(), Some(1));
    let t = Template::compile("/mapi/tenants/{1}/namespaces/", &[false]).unwrap();
    assert_eq!(t.fill(&["acme"]), "/mapi/tenants/acme/namespaces");
    assert_eq!(t.depth(), Some(4));
    let t = Template::compile("/{2}", &[false, true]).unwrap();
    assert_eq!(t.depth(), None, "a ** capture may hold slashes");
    assert_eq!(Template::compile("/", &[]).unwrap().depth(), Some(0));
    assert!(Template::compile("/{3}", &[false]).is_err());
    assert!(Template::compile("/{0}", &[false]).is_err());
    assert!(Template::compile("/{x}", &[false]).is_err());
    assert!(Template::compile("/{1", &[false]).is_err());
    assert!(Template::compile("/a}", &[false]).is_err());
    assert!(Template::compile("/a}{1}", &[false]).is_err());
    assert!(Template::compile("a", &[]).is_err());
    assert_eq!(segments("/"), 0);
    assert_eq!(segments("/a/b/"), 2);
}
