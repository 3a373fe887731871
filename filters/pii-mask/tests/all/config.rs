//! Configs that must be refused (`tests/cases/config/*.yaml`), host refusals, and the
//! configs that ship must load.

use tollgate_kit::{HostFacts, HostKind};

fn errors_file(path: &std::path::Path) {
    tollgate_cases::run_config_errors(path, |bytes| {
        tollgate_pii_mask::config::load(bytes, HostFacts::default())
    });
}

tollgate_cases::case_files!(dir: "tests/cases/config", run: errors_file, files: [errors]);

#[test]
fn modes_a_host_cannot_carry_out_are_refused_there() {
    let requests = br#"{"requests": {"enabled": true}}"#;
    let strip = br#"{"compression": "strip_accept_encoding"}"#;
    for kind in [HostKind::Kong, HostKind::Apisix] {
        let e = tollgate_pii_mask::config::load(requests, HostFacts::of(kind)).unwrap_err();
        assert_eq!(e.path, "requests.enabled");
        let e = tollgate_pii_mask::config::load(strip, HostFacts::of(kind)).unwrap_err();
        assert_eq!(e.path, "compression");
    }
    assert!(tollgate_pii_mask::config::load(requests, HostFacts::default()).is_ok());
    assert!(tollgate_pii_mask::config::load(strip, HostFacts::default()).is_ok());
}

#[test]
fn apisix_says_it_cannot_mask() {
    let c = tollgate_pii_mask::config::load(b"{}", HostFacts::of(HostKind::Apisix)).unwrap();
    assert!(!c.rewrites_bodies);
    assert!(
        c.warnings.iter().any(|w| w.contains("502")),
        "{:?}",
        c.warnings
    );
    let c = tollgate_pii_mask::config::load(
        br#"{"on_unsupported_host": "pass"}"#,
        HostFacts::of(HostKind::Apisix),
    )
    .unwrap();
    assert!(
        c.warnings.iter().any(|w| w.contains("UNMASKED")),
        "{:?}",
        c.warnings
    );
    let c = tollgate_pii_mask::config::load(b"{}", HostFacts::of(HostKind::Kong)).unwrap();
    assert!(c.rewrites_bodies && c.warnings.is_empty());
}

#[test]
fn the_deploy_config_loads_everywhere() {
    let text = include_str!("../../../../deploy/pii-mask/config.json");
    for kind in [HostKind::Envoy, HostKind::Kong, HostKind::Apisix] {
        tollgate_pii_mask::config::load(text.as_bytes(), HostFacts::of(kind)).unwrap();
    }
}
