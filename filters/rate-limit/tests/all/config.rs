//! Configs that must be refused (`tests/cases/config/*.yaml`): each names the field and
//! says what was expected; and the configs that ship must load.

use tollgate_kit::{HostFacts, HostKind};

fn errors_file(path: &std::path::Path) {
    tollgate_cases::run_config_errors(path, |bytes| {
        tollgate_rate_limit::config::load(bytes, HostFacts::default())
    });
}

fn apisix_file(path: &std::path::Path) {
    tollgate_cases::run_config_errors(path, |bytes| {
        tollgate_rate_limit::config::load(bytes, HostFacts::of(HostKind::Apisix))
    });
}

tollgate_cases::case_files!(dir: "tests/cases/config", run: errors_file, files: [errors]);

mod apisix {
    tollgate_cases::case_files!(dir: "tests/cases/config/apisix", run: super::apisix_file, files: [apisix]);
}

#[test]
fn the_documented_example_is_valid_and_apisix_needs_the_worker_count() {
    let example = r#"{"version": "tollgate.rate_limit.v1",
        "rules": [{"name": "per-user", "match": {"prefix": "/api/"},
                   "key": [{"claim": "sub"}],
                   "limits": [{"requests": 10, "per": "1s", "burst": 20},
                              {"requests": 1000, "per": "1h"}]}]}"#;
    let envoy =
        tollgate_rate_limit::config::load(example.as_bytes(), HostFacts::default()).unwrap();
    assert!(envoy.warnings.is_empty());
    assert!(
        tollgate_rate_limit::config::load(example.as_bytes(), HostFacts::of(HostKind::Apisix))
            .is_err()
    );
    let with_workers = example.replace("\"rules\"", "\"local\": {\"workers\": 2}, \"rules\"");
    let apisix =
        tollgate_rate_limit::config::load(with_workers.as_bytes(), HostFacts::of(HostKind::Apisix))
            .unwrap();
    assert!(
        apisix.warnings.iter().any(|w| w.contains("1/2")),
        "{:?}",
        apisix.warnings
    );
}

#[test]
fn the_deploy_config_loads_on_envoy() {
    // The file is Envoy's (a cluster name for the service); Kong's and APISIX's are
    // checked in their own deploy files by the suite.
    let text = include_str!("../../../../deploy/rate-limit/config.json");
    let c =
        tollgate_rate_limit::config::load(text.as_bytes(), HostFacts::of(HostKind::Envoy)).unwrap();
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    assert!(c.rules.iter().any(|r| r.global));
}
