//! Configs that must be refused (`tests/cases/config/*.yaml`), and the configs that
//! ship must load.

use tollgate_kit::{HostFacts, HostKind};

fn errors_file(path: &std::path::Path) {
    tollgate_cases::run_config_errors(path, |bytes| {
        tollgate_response_cache::config::load(bytes, HostFacts::default())
    });
}

tollgate_cases::case_files!(dir: "tests/cases/config", run: errors_file, files: [errors]);

#[test]
fn the_deploy_config_is_the_hcp_profile_and_loads_everywhere() {
    let text = include_str!("../../../../deploy/response-cache/config.json");
    let envoy =
        tollgate_response_cache::config::load(text.as_bytes(), HostFacts::default()).unwrap();
    assert!(envoy.warnings.is_empty(), "{:?}", envoy.warnings);
    let ttl = |path: &str, method: &str| {
        envoy
            .rules
            .iter()
            .find(|r| r.methods.iter().any(|m| m == method) && r.glob.matches(path))
            .map(|r| if r.cache { r.ttl_s } else { None })
    };
    // The HCP web backend's table.
    assert_eq!(ttl("/mapi/tenants/acme/statistics", "GET"), Some(Some(60)));
    assert_eq!(
        ttl("/mapi/tenants/acme/chargebackReport", "GET"),
        Some(Some(60))
    );
    assert_eq!(
        ttl("/mapi/tenants/acme/namespaces/ns1/permissions", "GET"),
        Some(Some(600))
    );
    assert_eq!(
        ttl("/mapi/tenants/acme/namespaces/ns1/protocols", "GET"),
        Some(Some(600))
    );
    assert_eq!(ttl("/mapi/tenants/acme/namespaces", "GET"), Some(Some(300)));
    assert_eq!(ttl("/mapi/tenants/acme", "GET"), Some(Some(300)));
    assert_eq!(ttl("/health", "GET"), Some(None));
    assert_eq!(ttl("/mapi/logs", "GET"), Some(None));
    for kind in [HostKind::Kong, HostKind::Apisix] {
        let c =
            tollgate_response_cache::config::load(text.as_bytes(), HostFacts::of(kind)).unwrap();
        assert!(
            !c.warnings.is_empty(),
            "{kind:?} lacks something the operator must know"
        );
    }
}
