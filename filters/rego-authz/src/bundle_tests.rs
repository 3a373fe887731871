use super::*;
use crate::test_support::files;

#[test]
fn a_bundle_round_trips_through_tar_gz() {
    let f = files(&[
        (
            ".manifest",
            r#"{"revision": "7", "roots": ["envoy", "people"], "rego_version": 1}"#,
        ),
        ("envoy/authz.rego", "package envoy.authz\nallow := true\n"),
        ("people/data.json", r#"{"alice": {"role": "admin"}}"#),
        ("people/extra/data.yaml", "bob:\n  role: reader\n"),
    ]);
    let packed = f.to_tar_gz().unwrap();
    let back = Files::from_tar_gz(&packed, Limits::default()).unwrap();
    assert_eq!(back.0, f.0);
    let b = Bundle::from_files(back).unwrap();
    assert_eq!(b.manifest.revision, "7");
    assert_eq!(b.sources.modules.len(), 1);
    assert_eq!(
        b.sources.data,
        serde_json::json!({"people": {"alice": {"role": "admin"}, "extra": {"bob": {"role": "reader"}}}})
    );
    assert!(!b.sources.rego_v0);
}

#[test]
fn hostile_or_inconsistent_bundles_are_refused() {
    assert!(Files::from_tar_gz(b"not gzip", Limits::default()).is_err());
    let big = files(&[("a/data.json", "{}"), ("b/data.json", "{}")]);
    let packed = big.to_tar_gz().unwrap();
    assert!(
        Files::from_tar_gz(
            &packed,
            Limits {
                max_bytes: 1 << 20,
                max_files: 1
            }
        )
        .is_err()
    );
    assert!(
        Files::from_tar_gz(
            &packed,
            Limits {
                max_bytes: 3,
                max_files: 10
            }
        )
        .is_err()
    );
    // Exactly at the limits is within them.
    let at_limits = Limits {
        max_bytes: 4,
        max_files: 2,
    };
    assert!(Files::from_tar_gz(&packed, at_limits).is_ok());
    assert!(normalise("../etc/passwd").is_err());
    assert_eq!(normalise("/./a//b").unwrap(), "a/b");
    let outside = files(&[
        (".manifest", r#"{"roots": ["envoy"]}"#),
        ("other/data.json", "{}"),
    ]);
    assert!(
        Bundle::from_files(outside)
            .unwrap_err()
            .contains("outside the manifest's roots")
    );
    let root_data = files(&[
        (".manifest", r#"{"roots": ["envoy/x"]}"#),
        ("data.json", r#"{"envoy": {"y": 1}}"#),
    ]);
    assert!(Bundle::from_files(root_data).is_err());
    let twice = files(&[
        ("a/data.json", r#"{"k": 1}"#),
        ("data.json", r#"{"a": {"k": 2}}"#),
    ]);
    assert!(
        Bundle::from_files(twice)
            .unwrap_err()
            .contains("more than one file")
    );
    let bad_manifest = files(&[(".manifest", "{")]);
    assert!(Bundle::from_files(bad_manifest).is_err());
    assert!(under_roots("a/b", &["a".into()]));
    assert!(!under_roots("ab", &["a".into()]));
    assert!(under_roots("anything", &[String::new()]));
}

#[test]
fn a_bundle_directory_is_read_within_its_limits() {
    let dir = std::env::temp_dir().join(format!("rego-authz-dir-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("b")).unwrap();
    std::fs::write(dir.join("a.rego"), "package a\n\n").unwrap(); // 11 bytes
    std::fs::write(dir.join("b/data.json"), "{}").unwrap(); // 2 bytes
    std::fs::write(dir.join("README.md"), "not in the bundle").unwrap();
    let at = |max_bytes, max_files| {
        Files::from_dir(
            &dir,
            Limits {
                max_bytes,
                max_files,
            },
        )
    };
    let files = at(13, 2).unwrap();
    assert_eq!(
        files.0.keys().collect::<Vec<_>>(),
        ["a.rego", "b/data.json"]
    );
    assert!(at(12, 2).is_err());
    assert!(at(13, 1).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn data_files_merge_into_one_document() {
    let f = files(&[
        ("data.json", r#"{"a": {"c": 3}}"#),
        ("a/data.json", r#"{"x": 1}"#),
        ("a/b/data.json", r#"{"y": 2}"#),
    ]);
    let b = Bundle::from_files(f).unwrap();
    assert_eq!(
        b.sources.data,
        serde_json::json!({"a": {"b": {"y": 2}, "c": 3, "x": 1}})
    );
}

#[test]
fn root_data_may_lead_into_a_deeper_root() {
    let inside = files(&[
        (".manifest", r#"{"roots": ["envoy/x"]}"#),
        ("data.json", r#"{"envoy": {"x": {"k": 1}}}"#),
    ]);
    let b = Bundle::from_files(inside).unwrap();
    assert_eq!(
        b.sources.data,
        serde_json::json!({"envoy": {"x": {"k": 1}}})
    );
}
