//! The house's layout rules, from `cargo metadata`: product crates (`crates/`,
//! `filters/`, `control/`) never depend on test or demo crates (`testing/`, `demo/`)
//! except as dev-dependencies (the control service not even so); every filter crate is
//! in the catalog and every catalog entry is a filter crate; `dist/` ships only the
//! catalog's filters.

use std::collections::BTreeMap;
use std::process::Command;

use anyhow::{Context as _, Result};
use serde_json::Value;
use tollgate_envoy_harness::repo_root;

/// A crate's directory (relative to the root) and its dependencies on other workspace
/// crates, as (name, kind: `normal`, `dev` or `build`).
type Crate = (String, Vec<(String, String)>);

/// Each workspace crate by name.
fn workspace() -> Result<BTreeMap<String, Crate>> {
    let out = Command::new(env!("CARGO"))
        .current_dir(repo_root())
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .output()
        .context("cargo metadata")?;
    anyhow::ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout)?;
    let root = repo_root().canonicalize()?;
    let packages = meta["packages"].as_array().context("packages")?;
    let names: Vec<&str> = packages.iter().filter_map(|p| p["name"].as_str()).collect();
    let mut crates = BTreeMap::new();
    for p in packages {
        let manifest = std::path::PathBuf::from(p["manifest_path"].as_str().unwrap_or_default());
        let dir = manifest
            .parent()
            .and_then(|d| d.strip_prefix(&root).ok())
            .map(|d| d.display().to_string())
            .unwrap_or_default();
        let deps = p["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| names.contains(&d["name"].as_str().unwrap_or_default()))
            .map(|d| {
                (
                    d["name"].as_str().unwrap_or_default().to_string(),
                    d["kind"].as_str().unwrap_or("normal").to_string(),
                )
            })
            .collect();
        crates.insert(
            p["name"].as_str().unwrap_or_default().to_string(),
            (dir, deps),
        );
    }
    Ok(crates)
}

fn is_product(dir: &str) -> bool {
    dir.starts_with("crates/") || dir.starts_with("filters/") || dir == "control"
}

fn is_test_or_demo(dir: &str) -> bool {
    dir.starts_with("testing/") || dir.starts_with("demo/")
}

/// The rule, over any workspace description: one line per violation.
fn violations(crates: &BTreeMap<String, Crate>) -> Vec<String> {
    let mut out = Vec::new();
    for (name, (dir, deps)) in crates {
        if !is_product(dir) {
            continue;
        }
        for (dep, kind) in deps {
            let Some((dep_dir, _)) = crates.get(dep) else {
                continue;
            };
            let allowed = kind == "dev" && dir != "control";
            if is_test_or_demo(dep_dir) && !allowed {
                out.push(format!(
                    "{name} ({dir}) -> {dep} ({dep_dir}) as a {kind} dependency"
                ));
            }
        }
    }
    out
}

#[test]
fn product_crates_never_depend_on_test_or_demo_crates() -> Result<()> {
    let crates = workspace()?;
    assert!(crates.len() >= 12, "{crates:?}");
    let found = violations(&crates);
    assert!(
        found.is_empty(),
        "product depends on test or demo code:\n{}",
        found.join("\n")
    );
    for (dir, _) in crates.values() {
        assert!(
            is_product(dir) || is_test_or_demo(dir),
            "{dir}: every crate is product (crates/, filters/, control/) or test/demo (testing/, demo/)"
        );
    }
    Ok(())
}

#[test]
fn the_rule_catches_a_product_crate_that_depends_on_a_harness() {
    let mut crates = BTreeMap::new();
    crates.insert("h".to_string(), ("testing/h".to_string(), Vec::new()));
    crates.insert("d".to_string(), ("demo/d".to_string(), Vec::new()));
    let dep = |n: &str, k: &str| (n.to_string(), k.to_string());
    crates.insert(
        "f".to_string(),
        ("filters/f".to_string(), vec![dep("h", "dev")]),
    );
    assert!(
        violations(&crates).is_empty(),
        "a filter may test with a harness"
    );
    crates.insert(
        "c".to_string(),
        (
            "control".to_string(),
            vec![dep("h", "dev"), dep("d", "normal")],
        ),
    );
    crates.insert(
        "k".to_string(),
        ("crates/k".to_string(), vec![dep("h", "normal")]),
    );
    assert_eq!(violations(&crates).len(), 3, "{:?}", violations(&crates));
}

#[test]
fn the_catalog_lists_exactly_the_filter_crates() -> Result<()> {
    let crates = workspace()?;
    let mut filter_crates: Vec<String> = crates
        .iter()
        .filter(|(name, (dir, _))| dir.starts_with("filters/") && *name != "tollgate-catalog")
        .map(|(name, _)| name.clone())
        .collect();
    filter_crates.sort();
    let mut catalog: Vec<String> = tollgate_catalog::FILTERS
        .iter()
        .map(|f| f.package.to_string())
        .collect();
    catalog.sort();
    assert_eq!(filter_crates, catalog, "filters/ and the catalog disagree");
    for f in tollgate_catalog::FILTERS {
        let dir = repo_root().join("filters").join(f.name);
        assert!(dir.join("README.md").is_file(), "{}: README", f.name);
        for file in [
            "config.json",
            "config.schema.json",
            "envoy.yaml",
            "kong.yaml",
            "apisix.yaml",
            "istio.yaml",
        ] {
            let path = repo_root().join("deploy").join(f.name).join(file);
            assert!(path.is_file(), "{} is missing", path.display());
        }
    }
    Ok(())
}

#[test]
fn dist_ships_only_the_catalog() -> Result<()> {
    let mut shipped: Vec<String> = std::fs::read_dir(repo_root().join("dist"))?
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().map(String::from))
        .filter(|n| n.ends_with(".wasm"))
        .collect();
    shipped.sort();
    let mut catalog: Vec<String> = tollgate_catalog::FILTERS
        .iter()
        .map(|f| f.wasm_file())
        .collect();
    catalog.sort();
    assert_eq!(
        shipped, catalog,
        "dist/ holds the catalog's filters and nothing else"
    );
    let sums = std::fs::read_to_string(repo_root().join("dist/SHA256SUMS"))?;
    assert_eq!(sums.lines().count(), catalog.len(), "{sums}");
    Ok(())
}

/// The README's "Writing a filter" shows the template crate CI builds, verbatim.
#[test]
fn the_readme_template_is_the_built_template() -> Result<()> {
    let readme = std::fs::read_to_string(repo_root().join("README.md"))?;
    let template = std::fs::read_to_string(repo_root().join("testing/template-filter/src/lib.rs"))?;
    assert!(
        readme.contains(&format!("```rust\n{template}```")),
        "README.md's template differs from testing/template-filter/src/lib.rs"
    );
    Ok(())
}
