//! Host profiles: APISIX's gaps show up as `Unimplemented` statuses the filter handles,
//! never as a trap; Kong's body truncation and missing queue callbacks are modelled.

use anyhow::Result;
use tollgate_envoy_harness::HttpRequest;
use tollgate_host_suite::{Target, WasmtimeTarget, probes};
use tollgate_wasm_host::{Profile, Request, Status};

#[test]
fn apisix_gaps_are_unimplemented_never_a_trap() -> Result<()> {
    let mut t = WasmtimeTarget::new(Profile::Apisix)?;
    for (scenario, req) in probes() {
        let reply = t.send(&req)?;
        assert_ne!(
            reply.status, 503,
            "{scenario}: a trap or failed VM would answer 503"
        );
        assert!(!t.plugin.worker_failed(0), "{scenario} failed the VM");
    }
    let calls = t.plugin.hostcalls();
    let unimplemented: Vec<&str> = calls
        .iter()
        .filter(|h| h.status == Status::Unimplemented)
        .map(|h| h.name)
        .collect();
    for name in &unimplemented {
        assert!(
            Profile::Apisix.lacks(name),
            "{name} answered Unimplemented but APISIX has it"
        );
    }
    for expected in [
        "proxy_get_current_time_nanoseconds",
        "proxy_set_tick_period_milliseconds",
        "proxy_register_shared_queue",
        "proxy_set_shared_data",
        "proxy_get_shared_data",
        "proxy_grpc_call",
    ] {
        assert!(
            unimplemented.contains(&expected),
            "the filter never met APISIX's missing {expected}"
        );
    }
    // The report path degrades to an explicit error instead of failing the stream.
    let report = t.send(
        &HttpRequest::get("/conformance/report/headers").header("host", "conformance.test"),
    )?;
    assert_eq!(report.status, 501);
    assert!(String::from_utf8_lossy(&report.body).contains("Unimplemented"));
    Ok(())
}

#[test]
fn apisix_runs_body_callbacks_only_after_opt_in_and_body_writes_fail_cleanly() -> Result<()> {
    let mut t = WasmtimeTarget::new(Profile::Apisix)?;
    let plain = t
        .plugin
        .send(Request::post("/conformance/body", "hello").header("x-conformance-id", "b1"))?;
    assert_eq!(
        plain.hostcall_count("proxy_get_buffer_bytes"),
        0,
        "no opt-in: no body callbacks"
    );
    assert_eq!(
        plain.upstream.as_ref().map(|u| u.body.clone()),
        Some(b"hello".to_vec())
    );

    let opted = t.plugin.send(
        Request::post("/conformance/body-opt-in", "hello").header("x-conformance-id", "b2"),
    )?;
    assert!(
        opted.hostcall_count("proxy_get_buffer_bytes") >= 1,
        "opted in: body callbacks run"
    );
    let write = opted
        .hostcalls
        .iter()
        .find(|h| h.name == "proxy_set_buffer_bytes")
        .map(|h| h.status);
    assert_eq!(write, Some(Status::Unimplemented));
    assert!(!opted.trapped());
    assert_eq!(
        opted.upstream.map(|u| u.body),
        Some(b"hello".to_vec()),
        "the body is forwarded unchanged"
    );
    Ok(())
}

#[test]
fn apisix_callouts_take_host_and_port() -> Result<()> {
    let mut t = WasmtimeTarget::new(Profile::Apisix)?;
    let by_name = t
        .plugin
        .send(Request::get("/conformance/callout").header("x-conformance-id", "c1"))?;
    let dispatch = by_name
        .hostcalls
        .iter()
        .find(|h| h.name == "proxy_http_call")
        .map(|h| h.status);
    assert_eq!(
        dispatch,
        Some(Status::BadArgument),
        "a cluster name is not an APISIX upstream"
    );
    assert_eq!(by_name.client.status, 200);

    t.plugin
        .reconfigure(r#"{"callout_cluster":"127.0.0.1:8080","tick_ms":0}"#)?;
    let by_addr = t
        .plugin
        .send(Request::get("/conformance/callout").header("x-conformance-id", "c2"))?;
    assert_eq!(
        by_addr
            .upstream
            .as_ref()
            .and_then(|u| u.header("x-callout-status")),
        Some("200")
    );
    Ok(())
}

#[test]
fn kong_truncates_replaced_bodies_to_the_size_argument() -> Result<()> {
    for (profile, raw_expected) in [
        (Profile::Envoy, "hello body!"),
        (Profile::Kong, "hello body"),
    ] {
        // Post without content-length framing concerns: the scenario drops the header.
        let mut t = WasmtimeTarget::new(profile)?;
        let raw = t.plugin.send(
            Request::post("/conformance/body-grow", "hello body").header("x-conformance-id", "g1"),
        )?;
        assert_eq!(
            raw.upstream.map(|u| u.body),
            Some(raw_expected.as_bytes().to_vec()),
            "{profile:?}"
        );
        let safe = t.plugin.send(
            Request::post("/conformance/body-grow-safe", "hello body")
                .header("x-conformance-id", "g2"),
        )?;
        assert_eq!(
            safe.upstream.map(|u| u.body),
            Some(b"hello body!".to_vec()),
            "{profile:?}: replace_body is portable"
        );
    }
    Ok(())
}

#[test]
fn kong_has_no_queue_resolution_or_queue_callbacks() -> Result<()> {
    let mut t = WasmtimeTarget::new(Profile::Kong)?;
    let out = t
        .plugin
        .send(Request::get("/conformance/queue").header("x-conformance-id", "q1"))?;
    let resolve = out
        .hostcalls
        .iter()
        .find(|h| h.name == "proxy_resolve_shared_queue")
        .map(|h| h.status);
    assert_eq!(resolve, Some(Status::Unimplemented));
    assert!(!out.trapped());
    t.plugin.advance(std::time::Duration::from_secs(1));
    let root = t.send(&HttpRequest::get("/conformance/report/root").header("host", "x"))?;
    assert!(!String::from_utf8_lossy(&root.body).contains("queue_ready"));
    Ok(())
}
