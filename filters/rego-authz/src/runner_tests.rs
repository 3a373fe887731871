use std::time::Duration;

use super::*;
use crate::engine::Module;

#[test]
fn test_rules_pass_fail_and_error() {
    let sources = Sources {
        modules: vec![
            Module { name: "p.rego".into(), text: "package p\nallow if input.x == 1\n".into() },
            Module {
                name: "p_test.rego".into(),
                text: "package p_test\nimport data.p\ntest_allow if p.allow with input as {\"x\": 1}\ntest_deny if not p.allow with input as {\"x\": 2}\ntest_wrong if p.allow with input as {\"x\": 2}\ntodo_test_later if false\n".into(),
            },
        ],
        ..Sources::default()
    };
    let results = run(
        &sources,
        Budget {
            time: Duration::from_secs(1),
        },
    )
    .unwrap();
    let names: Vec<_> = results
        .iter()
        .map(|r| (r.name.as_str(), r.failure.is_none()))
        .collect();
    assert_eq!(
        names,
        vec![
            ("data.p_test.test_allow", true),
            ("data.p_test.test_deny", true),
            ("data.p_test.test_wrong", false)
        ]
    );
}

#[test]
fn the_hcp_bundles_tests_pass_on_regorus() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies/hcp");
    let files = crate::bundle::Files::from_dir(&dir, crate::bundle::Limits::default()).unwrap();
    assert!(!files.0.contains_key("README.md"));
    let bundle = crate::bundle::Bundle::from_files(files).unwrap();
    assert_eq!(bundle.manifest.revision, "hcp-2026.11.30");
    let results = run(
        &bundle.sources,
        Budget {
            time: Duration::from_secs(1),
        },
    )
    .unwrap();
    assert!(results.len() >= 10, "{results:?}");
    let failed: Vec<_> = results.iter().filter(|r| r.failure.is_some()).collect();
    assert!(failed.is_empty(), "{failed:#?}");
}
