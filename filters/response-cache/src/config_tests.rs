use super::*;

#[test]
fn defaults_and_host_warnings() {
    let text = br#"{"rules": [{"name": "r", "glob": "/a/**", "ttl_s": 5}]}"#;
    let envoy = load(text, HostFacts::default()).unwrap();
    assert!(envoy.warnings.is_empty());
    assert!(envoy.shared && envoy.replies_after_upstream);
    assert_eq!(envoy.rules[0].methods, ["GET", "HEAD"]);
    assert_eq!(envoy.identity.claims, ["iss", "sub", "tenant"]);
    let kong = load(text, HostFacts::of(HostKind::Kong)).unwrap();
    assert!(kong.shared && !kong.replies_after_upstream && kong.newline_appended);
    assert_eq!(kong.warnings.len(), 3);
    assert!(kong.coalesce_ms.is_none() && envoy.coalesce_ms == Some(2000));
    assert!(kong.warnings.iter().any(|w| w.contains("line feed")));
    let apisix = load(text, HostFacts::of(HostKind::Apisix)).unwrap();
    assert!(!apisix.shared && !apisix.newline_appended && !envoy.newline_appended);
    assert!(
        apisix
            .warnings
            .iter()
            .any(|w| w.contains("each worker keeps its own"))
    );
}

#[test]
fn prefix_depths_come_from_the_templates() {
    let c = load(
        br#"{"rules": [{"name": "r", "glob": "/**"}],
             "invalidate": [{"glob": "/*/x/*", "prefixes": ["/{1}", "/a/{2}/", "/{1}/b"]}]}"#,
        HostFacts::default(),
    )
    .unwrap();
    assert_eq!(c.prefix_depths, [1, 2]);
    let any = load(
        br#"{"rules": [{"name": "r", "glob": "/**"}],
             "invalidate": [{"glob": "/*/**", "prefixes": ["/{2}"]}]}"#,
        HostFacts::default(),
    )
    .unwrap();
    assert_eq!(
        any.prefix_depths,
        (1..=crate::invalidate::MAX_PREFIX_DEPTH).collect::<Vec<_>>()
    );
}

#[test]
fn the_trait_compiles_for_envoy() {
    let parsed: ResponseCacheConfig =
        tollgate_kit::config::parse(br#"{"rules": [{"name": "r", "glob": "/a"}]}"#).unwrap();
    let c = Compile::compile(parsed).unwrap();
    assert!(c.shared);
    assert!(load(br#"{"version": 1, "rules": []}"#, HostFacts::default()).is_err());
}

#[test]
fn the_shared_tier_is_checked_and_refused_on_apisix() {
    let tier = |extra: &str| {
        format!(
            r#"{{"rules": [{{"name": "r", "glob": "/a"}}], "shared_tier": {{"service": "t", "key": "{}"{extra}}}}}"#,
            "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
        )
    };
    let c = load(tier("").as_bytes(), HostFacts::default()).unwrap();
    let t = c.tier.unwrap();
    assert_eq!(
        (t.authority.as_str(), t.poll_ms, t.key.len()),
        ("t", 250, 32)
    );
    assert!(
        !format!("{t:?}").contains("AQEB"),
        "the key never in debug output"
    );
    let e = load(tier("").as_bytes(), HostFacts::of(HostKind::Apisix)).unwrap_err();
    assert_eq!(e.path, "shared_tier");
    let short = r#"{"rules": [{"name": "r", "glob": "/a"}], "shared_tier": {"service": "t", "key": "c2hvcnQ="}}"#;
    assert_eq!(
        load(short.as_bytes(), HostFacts::default())
            .unwrap_err()
            .path,
        "shared_tier.key"
    );
    let e = load(tier(r#", "poll_ms": 1"#).as_bytes(), HostFacts::default()).unwrap_err();
    assert_eq!(e.path, "shared_tier.poll_ms");
    let e = load(
        tier(r#", "token": "s3cret", "tokn": 1"#).as_bytes(),
        HostFacts::default(),
    )
    .unwrap_err();
    assert_eq!(e.path, "shared_tier.tokn");
    let with_token = load(
        tier(r#", "token": "s3cret""#).as_bytes(),
        HostFacts::default(),
    )
    .unwrap();
    assert_eq!(
        with_token.tier.as_ref().unwrap().authorization,
        "Bearer s3cret"
    );
    assert!(!format!("{:?}", with_token.tier).contains("s3cret"));
}
