//! Configs that must be refused (`tests/cases/config/*.yaml`): each names the field and
//! says what was expected.

use tollgate_kit::HostFacts;

fn errors_file(path: &std::path::Path) {
    tollgate_cases::run_config_errors(path, |bytes| {
        tollgate_rego_authz::config::load(bytes, HostFacts::default())
    });
}

tollgate_cases::case_files!(dir: "tests/cases/config", run: errors_file, files: [errors]);

/// The deploy example as operators copy it. (The main job's config goes through the
/// control service, which resolves its bundle reference: the demo's own test checks it.)
#[test]
fn the_documented_examples_are_valid() {
    let path = "../../deploy/rego-authz/config.json";
    let bytes = std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap();
    tollgate_rego_authz::config::load(&bytes, HostFacts::default()).unwrap();
}

/// The deploy example inlines the HCP policy; the main job pushes `policies/hcp` itself
/// (embedded at build time), so only the example can fall out of date.
#[test]
fn the_shipped_configs_carry_the_hcp_bundle_unchanged() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let policy = std::fs::read_to_string(root.join("policies/hcp/hcp/authz.rego")).unwrap();
    let path = "deploy/rego-authz/config.json";
    let c: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join(path)).unwrap()).unwrap();
    assert_eq!(
        c["policy"]["modules"]["hcp/authz.rego"].as_str(),
        Some(policy.as_str()),
        "{path} is out of date with policies/hcp"
    );
}
