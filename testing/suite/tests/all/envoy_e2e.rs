//! Tier 3 through real Envoy: trap containment with FAIL_RELOAD, and body rewriting.

use anyhow::Result;
use tollgate_envoy_harness::{
    Envoy, EnvoyConfig, FailurePolicy, HttpRequest, Upstream, WasmFilter,
};
use tollgate_host_suite::{CONFORMANCE_CONFIG, wasm_path};

fn envoy(policy: FailurePolicy) -> Result<(Envoy, Upstream)> {
    let upstream = Upstream::start()?;
    let filter = WasmFilter::new("conformance", &wasm_path("conformance")?)
        .config(CONFORMANCE_CONFIG)
        .failure_policy(policy);
    let envoy = Envoy::start(&EnvoyConfig::new(upstream.addr()).filter(filter))?;
    Ok((envoy, upstream))
}

#[test]
fn real_envoy_contains_a_trap_and_reloads_the_vm() -> Result<()> {
    let (envoy, _upstream) = envoy(FailurePolicy::FailReload)?;
    // Envoy backs off reloads for about 1-2 s after a VM's (re)load (observed; the
    // window varies), so trap well after startup.
    std::thread::sleep(std::time::Duration::from_secs(3));
    let trapped =
        envoy.send(&HttpRequest::get("/conformance/trap").header("x-conformance-id", "t"))?;
    assert_eq!(trapped.status, 503);
    let next = envoy.send(&HttpRequest::get("/after"))?;
    assert_eq!(
        next.status,
        200,
        "Envoy reloaded the VM:\n{}",
        envoy.log_tail()
    );
    assert!(
        envoy
            .stat("wasm.conformance.vm_reload_success")?
            .unwrap_or(0)
            >= 1
    );
    assert!(
        envoy.log().contains("conformance filter asked to trap"),
        "the panic hook logged through Envoy"
    );
    Ok(())
}

#[test]
fn real_envoy_applies_body_rewrites_like_the_host() -> Result<()> {
    let (envoy, upstream) = envoy(FailurePolicy::FailReload)?;
    for path in ["/conformance/body-grow", "/conformance/body-grow-safe"] {
        let r =
            envoy.send(&HttpRequest::post(path, "hello body").header("x-conformance-id", "g"))?;
        assert_eq!(r.status, 200);
        let seen = upstream.seen();
        let last = seen.last().map(|s| s.body.clone()).unwrap_or_default();
        assert_eq!(last, b"hello body!", "{path}");
    }
    Ok(())
}
