//! The fidelity proof: the conformance filter observes the same things in the wasmtime
//! host (Envoy profile) as in real Envoy 1.40, for every scenario.

use anyhow::Result;
use serde_json::Value;
use tollgate_host_suite::{EnvoyTarget, Target, WasmtimeTarget, diff, observe, probes, root_report};
use tollgate_wasm_host::Profile;

fn observe_all(target: &mut dyn Target) -> Result<Vec<(String, Value)>> {
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
    let mut differences = Vec::new();
    for ((scenario, e), (_, h)) in from_envoy.iter().zip(&from_host) {
        diff(scenario, e, h, &mut differences);
    }
    assert!(
        differences.is_empty(),
        "the wasmtime host differs from real Envoy (left: Envoy, right: host):\n{}\n\nEnvoy saw:\n{}",
        differences.join("\n"),
        serde_json::to_string_pretty(&from_envoy.iter().map(|(s, v)| (s.clone(), v.clone())).collect::<serde_json::Map<_, _>>())?
    );
    Ok(())
}
