//! What operators copy (`deploy/<filter>/`) stays valid, for every filter in the
//! catalog: each embedded filter config passes the filter's own loader for the host it
//! is meant for, real Envoy accepts the bootstraps, and the committed JSON Schema is
//! the one the config's types generate.

use std::process::Command;

use anyhow::Result;
use tollgate_catalog::FILTERS;
use tollgate_envoy_harness::{envoy_binary, repo_root};
use tollgate_kit::HostKind;

/// The files of each filter's `deploy/<name>/` directory with embedded configs, and
/// the host each is for.
const GATEWAY_FILES: [(&str, HostKind); 4] = [
    ("envoy.yaml", HostKind::Envoy),
    ("apisix.yaml", HostKind::Apisix),
    ("istio.yaml", HostKind::Envoy),
    ("kong.yaml", HostKind::Kong),
];

/// Validates `json` as filter `filter`'s config on `host`.
fn check(filter: &str, what: &str, json: &str, host: HostKind) {
    let Some(entry) = tollgate_catalog::find(filter) else {
        panic!("{what}: `{filter}` is not in the catalog");
    };
    if let Err(e) = entry.check(json.as_bytes(), host) {
        panic!("{what} ({filter}): {e}");
    }
}

/// The filter configs embedded in a file, each with the filter it belongs to: the
/// nearest preceding line naming a Tollgate filter decides.
fn embedded(text: &str) -> Vec<(String, String)> {
    let mut filter = String::new();
    let mut out = Vec::new();
    for line in text.lines().map(str::trim_start) {
        for name in tollgate_catalog::names() {
            if line.contains(&format!("name: {name}"))
                || line.contains(&format!("name: tollgate-{name}"))
                || line.starts_with(&format!("tollgate-{name}:"))
            {
                filter = name.to_string();
            }
        }
        for key in ["value: '", "conf: '", "pluginConfig: ", "config: '"] {
            if let Some(rest) = line.strip_prefix(key) {
                out.push((
                    filter.clone(),
                    rest.trim().trim_end_matches('\'').to_string(),
                ));
            }
        }
    }
    out
}

#[test]
fn deploy_configs_are_valid_for_the_filters() -> Result<()> {
    for f in FILTERS {
        let base = repo_root().join("deploy").join(f.name);
        let config = std::fs::read_to_string(base.join("config.json"))?;
        check(f.name, "config.json", &config, HostKind::Envoy);
        assert!(
            config.contains(f.config_version),
            "deploy/{}/config.json names its version {}",
            f.name,
            f.config_version
        );
        for (file, host) in GATEWAY_FILES {
            let text = std::fs::read_to_string(base.join(file))?;
            let configs = embedded(&text);
            assert!(
                configs.iter().any(|(filter, _)| filter == f.name),
                "deploy/{}/{file} configures the filter",
                f.name
            );
            for (filter, json) in configs {
                check(&filter, &format!("deploy/{}/{file}", f.name), &json, host);
            }
        }
    }
    Ok(())
}

/// The committed schema is what the types generate: regenerate with `scripts/schemas`.
#[test]
fn committed_schemas_are_current() -> Result<()> {
    for f in FILTERS {
        let path = repo_root()
            .join("deploy")
            .join(f.name)
            .join("config.schema.json");
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == f.schema_text(),
            "{} is stale or missing: run scripts/schemas",
            path.display()
        );
    }
    Ok(())
}

/// Each schema accepts the shipped config and its closed objects refuse a misspelt key,
/// as the filter does.
#[test]
fn schemas_describe_the_shipped_configs() -> Result<()> {
    for f in FILTERS {
        let schema: serde_json::Value = serde_json::from_str(&f.schema_text())?;
        let props = schema["properties"].as_object().unwrap();
        let config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(
            repo_root().join("deploy").join(f.name).join("config.json"),
        )?)?;
        for key in config.as_object().unwrap().keys() {
            assert!(
                props.contains_key(key),
                "{}: `{key}` is not in the schema",
                f.name
            );
        }
        assert_eq!(schema["additionalProperties"], false, "{}", f.name);
    }
    Ok(())
}

/// Bootstraps that are not one filter's: distribution by ECDS.
const MORE_BOOTSTRAPS: &[&str] = &["deploy/distribution/envoy-ecds.yaml"];

/// Every Envoy bootstrap in `deploy/`.
fn bootstraps() -> Vec<String> {
    FILTERS
        .iter()
        .map(|f| format!("deploy/{}/envoy.yaml", f.name))
        .chain(MORE_BOOTSTRAPS.iter().map(|p| p.to_string()))
        .collect()
}

#[test]
fn real_envoy_accepts_the_bootstraps() -> Result<()> {
    for dir in bootstraps() {
        let out = Command::new(envoy_binary()?)
            .current_dir(repo_root())
            .args(["--mode", "validate", "-c", &dir])
            .args(["--log-level", "warn"])
            .output()?;
        assert!(
            out.status.success(),
            "{dir}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// Every Envoy bootstrap we ship or render normalizes paths before filters and routes
/// see them (the filters normalize too, but a config must not depend on that).
#[test]
fn every_envoy_config_normalizes_paths() -> Result<()> {
    let settings = [
        "normalize_path: true",
        "merge_slashes: true",
        "path_with_escaped_slashes_action: REJECT_REQUEST",
    ];
    let rendered = tollgate_envoy_harness::EnvoyConfig::new(([127, 0, 0, 1], 1).into()).render(0);
    let mut sources = vec![("the harness's rendered bootstrap".to_string(), rendered)];
    for path in bootstraps() {
        sources.push((
            path.clone(),
            std::fs::read_to_string(repo_root().join(&path))?,
        ));
    }
    for (what, text) in sources {
        for setting in settings {
            assert!(text.contains(setting), "{what} lacks `{setting}`");
        }
    }
    let raw = tollgate_envoy_harness::EnvoyConfig::new(([127, 0, 0, 1], 1).into())
        .raw_paths()
        .render(0);
    assert!(!raw.contains("normalize_path"), "raw_paths turns it off");
    Ok(())
}
