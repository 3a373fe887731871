//! The shipped gateway configs stay valid: every embedded filter config passes the
//! filter's own loader, and real Envoy accepts the Envoy bootstraps.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test helpers

use std::process::Command;

use anyhow::Result;
use tollgate_envoy_harness::{envoy_binary, repo_root};
use tollgate_hcp_auth::config::HcpAuthConfig;
use tollgate_jwt_auth::config::JwtAuthConfig;

/// Validates `json` as filter `filter`'s config (the directory or plugin name).
fn check(filter: &str, what: &str, json: &str) {
    let result = match filter {
        "jwt-auth" => tollgate_kit::config::load::<JwtAuthConfig>(json.as_bytes()).map(drop),
        "hcp-auth" => tollgate_kit::config::load::<HcpAuthConfig>(json.as_bytes()).map(drop),
        other => panic!("{what}: no loader for filter {other}"),
    };
    if let Err(e) = result {
        panic!("{what} ({filter}): {e}");
    }
}

/// The filter configs embedded in a file, each with the filter it belongs to: the
/// nearest preceding line naming a Tollgate filter decides.
fn embedded(text: &str) -> Vec<(String, String)> {
    let mut filter = String::new();
    let mut out = Vec::new();
    for line in text.lines().map(str::trim_start) {
        for name in ["jwt-auth", "hcp-auth"] {
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
fn gateway_configs_are_valid_for_the_filters() -> Result<()> {
    let mut checked = 0;
    for dir in ["jwt-auth", "hcp-auth"] {
        let base = repo_root().join("gateway-config").join(dir);
        check(
            dir,
            "config.json",
            &std::fs::read_to_string(base.join("config.json"))?,
        );
        for file in ["envoy.yaml", "apisix.yaml", "istio.yaml", "kong.yaml"] {
            let text = std::fs::read_to_string(base.join(file))?;
            let configs = embedded(&text);
            assert!(!configs.is_empty(), "{dir}/{file}");
            for (filter, json) in configs {
                check(&filter, &format!("{dir}/{file}"), &json);
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 12, "every embedded config was found");
    Ok(())
}

#[test]
fn real_envoy_accepts_the_bootstraps() -> Result<()> {
    for dir in ["jwt-auth", "hcp-auth"] {
        let out = Command::new(envoy_binary()?)
            .current_dir(repo_root())
            .args([
                "--mode",
                "validate",
                "-c",
                &format!("gateway-config/{dir}/envoy.yaml"),
            ])
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
    for dir in ["jwt-auth", "hcp-auth"] {
        let path = format!("gateway-config/{dir}/envoy.yaml");
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
