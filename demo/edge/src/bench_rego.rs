//! wrk through real Envoy: rego-authz against Envoy's native `rbac` filter expressing
//! the same rule (GET under `/people/` for role `admin`, from a header), an empty wasm
//! filter and no filter, in one run; plus rego-authz with its decision cache and with the
//! HCP policy.

use std::path::Path;

use anyhow::Result;
use serde_json::json;
use tollgate_envoy_harness::{Envoy, EnvoyConfig, Upstream, WasmFilter};

use crate::bench::{Case, ensure_all_pass, measure, p50_of, print_heading, print_table};

/// The rule, in Rego.
const RULE: &str = r#"package envoy.authz

import rego.v1

default allow := false

allow if {
	input.attributes.request.http.method == "GET"
	glob.match("/people/*", ["/"], input.attributes.request.http.path)
	input.attributes.request.http.headers["x-role"] == "admin"
}
"#;

/// The same rule for Envoy's `rbac` filter.
const RBAC: &str = r#"name: envoy.filters.http.rbac
typed_config:
  "@type": type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC
  rules:
    action: ALLOW
    policies:
      admins-read-people:
        permissions:
        - and_rules:
            rules:
            - header: {name: ":method", string_match: {exact: GET}}
            - url_path: {path: {prefix: /people/}}
        principals:
        - header: {name: x-role, string_match: {exact: admin}}"#;

pub fn run(seconds: u64, dist: &Path) -> Result<()> {
    let wasm = dist.join("rego-authz.wasm");
    let upstream = Upstream::start()?;
    let base = || EnvoyConfig::new(upstream.addr());
    let bare = Envoy::start(&base())?;
    let empty = Envoy::start(&base().filter(WasmFilter::new(
        "empty",
        &dist.join("fixtures").join("empty-filter.wasm"),
    )))?;
    let rbac = {
        let mut c = base();
        c.native_filters.push(RBAC.to_string());
        Envoy::start(&c)?
    };
    let rego = |config: serde_json::Value| {
        Envoy::start(
            &base().filter(WasmFilter::new("rego-authz", &wasm).config(&config.to_string())),
        )
    };
    let ours = rego(json!({"policy": {"modules": {"rule.rego": RULE}}}))?;
    let ours_cached = rego(json!({"policy": {"modules": {"rule.rego": RULE}},
        "decision_cache": {"keys": ["request.http.method", "request.http.path", "request.http.headers.x-role"]}}))?;
    let hcp_policy = std::fs::read_to_string(
        tollgate_envoy_harness::repo_root().join("policies/hcp/hcp/authz.rego"),
    )?;
    let hcp = rego(
        json!({"policy": {"modules": {"hcp/authz.rego": hcp_policy}},
                          "query": "data.hcp.authz.decision"}),
    )?;
    let payload = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        json!({"sub": "alice", "tenant": "acme", "roles": ["administrator"]}).to_string(),
    );
    let role = "x-role: admin".to_string();
    let token = format!("x-tollgate-jwt-payload: {payload}");
    let case = |name: &str, envoy, path, headers: Vec<String>| Case {
        name: name.to_string(),
        envoy,
        path,
        headers,
    };
    let cases = vec![
        case("no filter", &bare, "/people/alice", vec![role.clone()]),
        case(
            "empty wasm filter",
            &empty,
            "/people/alice",
            vec![role.clone()],
        ),
        case(
            "Envoy rbac (native)",
            &rbac,
            "/people/alice",
            vec![role.clone()],
        ),
        case(
            "rego-authz, same rule",
            &ours,
            "/people/alice",
            vec![role.clone()],
        ),
        case(
            "rego-authz, same rule, decision cache",
            &ours_cached,
            "/people/alice",
            vec![role.clone()],
        ),
        case(
            "rego-authz, HCP policy (decision object)",
            &hcp,
            "/mapi/tenants/acme/namespaces",
            vec![token],
        ),
    ];
    ensure_all_pass(&cases)?;
    // And refuse a request without the role (a pass-through would flatter anyone too).
    for c in cases.iter().skip(2) {
        let denied = c
            .envoy
            .send(&tollgate_envoy_harness::HttpRequest::get("/people/alice"))?;
        anyhow::ensure!(
            denied.status == 403,
            "{}: a request without the role got {}",
            c.name,
            denied.status
        );
    }
    let results = measure(&cases, seconds, 2)?;
    let p50 = |name: &str| p50_of(&results, name);
    print_heading(
        "rego-authz vs Envoy's native rbac, through real Envoy",
        seconds,
        "request",
    )?;
    let base_p50 = print_table(&results);
    let added = |n: &str| p50(n) - base_p50;
    println!(
        "\nAdded p50, rego-authz over rbac: {:.2}× ({:.2}× with the decision cache); over the empty wasm filter: {:.2}×.",
        added("rego-authz, same rule") / added("Envoy rbac (native)"),
        added("rego-authz, same rule, decision cache") / added("Envoy rbac (native)"),
        added("rego-authz, same rule") / added("empty wasm filter"),
    );
    println!(
        "\nAbsolute times on this machine are not stable; compare the ratios within this run."
    );
    Ok(())
}
