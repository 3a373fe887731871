use super::*;

#[test]
fn names_are_unique_and_packages_match_them() {
    let mut names: Vec<_> = names().collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), FILTERS.len());
    for f in FILTERS {
        assert_eq!(f.package, format!("tollgate-{}", f.name), "{}", f.name);
        assert_eq!(
            f.config_version,
            format!("tollgate.{}.v1", f.name.replace('-', "_"))
        );
        assert!(find(f.name).is_some());
        // scripts/build-wasm writes dist/<name>.wasm; the main job and tests load it.
        assert_eq!(f.wasm_file(), format!("{}.wasm", f.name));
    }
    assert!(
        find("conformance").is_none(),
        "test filters are not in the catalog"
    );
}

#[test]
fn checks_run_the_filters_own_rules() {
    let jwt = find("jwt-auth").unwrap();
    let err = jwt
        .check(br#"{"providers": {}}"#, HostKind::Envoy)
        .unwrap_err();
    assert_eq!(err.path, "providers");
    let remote =
        br#"{"providers": {"idp": {"keys": {"remote": {"upstream": "idp", "path": "/jwks"}}}}}"#;
    assert!(jwt.check(remote, HostKind::Envoy).is_ok());
    let err = jwt.check(remote, HostKind::Apisix).unwrap_err();
    assert_eq!(err.path, "providers.idp.keys.remote.upstream");
    let hcp = find("hcp-auth").unwrap();
    let bad_domain = br#"{"hcp_domain": "not a name", "trusted_payload_header": "x-p"}"#;
    let err = hcp.check(bad_domain, HostKind::Envoy).unwrap_err();
    assert_eq!(err.path, "hcp_domain");
}

#[test]
fn a_config_for_another_version_is_refused() {
    for f in FILTERS {
        // Checked first: the rest of the config (here: nothing) is not looked at.
        let other = format!(r#"{{"version": "{}x"}}"#, f.config_version);
        let err = f.check(other.as_bytes(), HostKind::Envoy).unwrap_err();
        assert_eq!(err.path, "version", "{}", f.name);
        assert!(err.message.contains(f.config_version), "{err}");
    }
}

#[test]
fn schemas_close_every_object_and_carry_the_version() {
    for f in FILTERS {
        let schema: serde_json::Value = serde_json::from_str(&f.schema_text()).unwrap();
        assert_eq!(schema["additionalProperties"], false, "{}", f.name);
        assert!(schema["properties"]["version"].is_object(), "{}", f.name);
        assert!(schema["$id"].as_str().unwrap().contains(f.config_version));
    }
}
