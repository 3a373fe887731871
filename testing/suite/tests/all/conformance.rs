//! The fidelity proof: the conformance filter observes the same things in the wasmtime
//! host (Envoy profile) as in real Envoy 1.40, for every scenario.

use anyhow::Result;
use serde_json::Value;
use tollgate_host_suite::{
    EnvoyTarget, Target, WasmtimeTarget, diff, observe, probes, root_report,
};
use tollgate_wasm_host::Profile;

fn observe_all(target: &mut dyn Target) -> Result<Vec<(String, Value)>> {
    // Let the first tick (50 ms) fire before any probe, so the root record's order does
    // not depend on how long the probes take.
    target.settle(std::time::Duration::from_millis(150));
    let mut out = Vec::new();
    for (scenario, req) in probes() {
        out.push((scenario.to_string(), observe(target, scenario, &req)?));
    }
    out.push(("root".into(), root_report(target)?));
    Ok(out)
}

#[test]
fn wasmtime_host_observes_what_real_envoy_observes() -> Result<()> {
    let mut envoy = EnvoyTarget::new()?;
    let from_envoy = observe_all(&mut envoy)?;
    let mut host = WasmtimeTarget::new(Profile::Envoy)?;
    let from_host = observe_all(&mut host)?;
    assert_expected(&from_envoy);
    assert_expected(&from_host);
    let mut differences = Vec::new();
    for ((scenario, e), (_, h)) in from_envoy.iter().zip(&from_host) {
        diff(scenario, e, h, &mut differences);
    }
    assert!(
        differences.is_empty(),
        "the wasmtime host differs from real Envoy (left: Envoy, right: host):\n{}\n\nEnvoy saw:\n{}",
        differences.join("\n"),
        serde_json::to_string_pretty(
            &from_envoy
                .iter()
                .map(|(s, v)| (s.clone(), v.clone()))
                .collect::<serde_json::Map<_, _>>()
        )?
    );
    Ok(())
}

/// Agreement alone could hide both hosts failing alike: pin what each scenario must show.
fn assert_expected(observations: &[(String, Value)]) {
    let get = |name: &str| {
        observations
            .iter()
            .find(|(s, _)| s == name)
            .map(|(_, v)| v.clone())
            .unwrap_or(Value::Null)
    };
    let events = |name: &str| get(name)["record"].as_array().cloned().unwrap_or_default();
    let event = |name: &str, event: &str| {
        events(name)
            .into_iter()
            .find(|e| e["event"] == event)
            .unwrap_or(Value::Null)
    };

    let headers = get("headers");
    let upstream = headers["client"]["upstream_x_headers"].to_string();
    assert!(upstream.contains(r#"["x-probe","replaced"]"#), "{upstream}");
    assert!(
        upstream.contains(r#"["x-added","one"]"#) && upstream.contains(r#"["x-added","two"]"#),
        "{upstream}"
    );
    assert!(!upstream.contains("x-remove-me"), "{upstream}");
    assert_eq!(
        event("headers", "read")["x-multi"],
        "1",
        "first value of a repeated header"
    );
    assert_eq!(headers["client"]["x-conformance"], "seen");

    assert_eq!(get("body")["client"]["echoed_body"], "HELLO BODY");
    let local = get("local");
    assert_eq!(local["client"]["status"], 403);
    assert_eq!(local["client"]["body"], "denied by conformance");
    assert_eq!(
        event("local", "response_headers")["status"],
        "403",
        "a local reply passes the filter's response callbacks"
    );

    assert_eq!(event("callout", "http_call_response")["status"], "200");
    assert_eq!(
        event("callout", "http_call_response")["echoed_path"],
        "/callout-target"
    );
    assert!(
        get("callout")["client"]["upstream_x_headers"]
            .to_string()
            .contains(r#"["x-callout-status","200"]"#)
    );
    assert_eq!(
        event("callout-timeout", "http_call_response")["status"],
        "504"
    );

    assert_eq!(event("grpc", "grpc_message")["message"], "echo: hello grpc");
    assert_eq!(
        event("shared", "shared")["set_with_stale_cas"],
        "CasMismatch"
    );
    assert_eq!(event("metrics", "metrics")["counter_delta"], 3);
    assert_eq!(
        event("properties", "properties")["stable"]["request.path"],
        "/conformance/properties?q=1"
    );

    let root = get("root").to_string();
    assert!(root.contains(r#""event":"tick""#), "{root}");
    assert!(root.contains(r#""items":["item-1","item-2"]"#), "{root}");
    let order: Vec<String> = events("shared")
        .iter()
        .map(|e| e["event"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(order[order.len() - 3..], ["log", "done", "delete"]);
}
