//! The wasmtime host's Envoy semantics that the conformance run does not reach:
//! chunked bodies, callout faults in virtual time, config updates, workers, bad modules.

use std::time::Duration;

use anyhow::Result;
use serde_json::Value;
use tollgate_host_suite::{CONFORMANCE_CONFIG, WasmtimeTarget, wasm};
use tollgate_wasm_host::{Cluster, HttpReply, Plugin, Profile, Request};

fn record(t: &mut WasmtimeTarget, id: &str) -> Result<Value> {
    let out = t
        .plugin
        .send(Request::get(&format!("/conformance/report/{id}")))?;
    Ok(serde_json::from_slice(&out.client.body)?)
}

#[test]
fn buffered_body_callbacks_see_everything_buffered_so_far() -> Result<()> {
    let mut t = WasmtimeTarget::new(Profile::Envoy)?;
    let out = t.plugin.send(
        Request::new("POST", "/conformance/body")
            .header("x-conformance-id", "chunks")
            .chunk("abc")
            .chunk("def")
            .chunk("ghi"),
    )?;
    assert_eq!(out.upstream.map(|u| u.body), Some(b"ABCDEFGHI".to_vec()));
    let rec = record(&mut t, "chunks")?;
    let sizes: Vec<(u64, bool)> = rec["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["event"] == "request_body")
        .map(|e| {
            (
                e["size"].as_u64().unwrap_or(0),
                e["end_of_stream"].as_bool().unwrap_or(false),
            )
        })
        .collect();
    assert_eq!(sizes, [(3, false), (6, false), (9, false), (9, true)]);
    Ok(())
}

#[test]
fn callout_faults_are_injected_in_virtual_time() -> Result<()> {
    let mut t = WasmtimeTarget::new(Profile::Envoy)?;
    // A slow cluster: the stream waits 2 s of virtual time, no real sleeping.
    t.plugin.add_cluster(
        Cluster::new("upstream").http(|_| HttpReply::ok("late").after(Duration::from_secs(2))),
    );
    let before = t.plugin.elapsed();
    let slow = t
        .plugin
        .send(Request::get("/conformance/callout").header("x-conformance-id", "slow"))?;
    assert_eq!(
        slow.upstream
            .as_ref()
            .and_then(|u| u.header("x-callout-status")),
        Some("200")
    );
    assert!(t.plugin.elapsed() - before >= Duration::from_secs(2));

    t.plugin
        .add_cluster(Cluster::new("upstream").http(|_| HttpReply::fail()));
    let failed = t
        .plugin
        .send(Request::get("/conformance/callout").header("x-conformance-id", "fail"))?;
    assert_eq!(
        failed
            .upstream
            .as_ref()
            .and_then(|u| u.header("x-callout-status")),
        Some("failed")
    );

    t.plugin
        .add_cluster(Cluster::new("upstream").http(|_| HttpReply::Hang));
    let hung = t
        .plugin
        .send(Request::get("/conformance/callout").header("x-conformance-id", "hang"))?;
    assert_eq!(
        hung.upstream
            .as_ref()
            .and_then(|u| u.header("x-callout-status")),
        Some("504"),
        "the callout's 5 s timeout fires"
    );
    Ok(())
}

#[test]
fn a_grpc_call_to_an_unknown_cluster_is_refused_and_the_stream_continues() -> Result<()> {
    let mut p = Plugin::builder(&wasm("conformance")?)
        .named("conformance")
        .config(CONFORMANCE_CONFIG)
        .build()?;
    let out = p.send(Request::get("/conformance/grpc").header("x-conformance-id", "g"))?;
    assert_eq!(out.client.status, 200);
    let report = p
        .send(Request::get("/conformance/report/g"))?
        .client
        .body_text();
    assert!(
        report.contains(r#""grpc_dispatch","status":"BadArgument""#),
        "{report}"
    );
    Ok(())
}

#[test]
fn a_stream_paused_past_the_stream_timeout_gets_envoys_504() -> Result<()> {
    let mut p = Plugin::builder(&wasm("conformance")?)
        .named("conformance")
        .config(CONFORMANCE_CONFIG)
        .stream_timeout(Duration::from_secs(1))
        .build()?;
    p.add_cluster(
        Cluster::new("upstream").http(|_| HttpReply::ok("late").after(Duration::from_secs(3))),
    );
    let out = p.send(Request::get("/conformance/callout").header("x-conformance-id", "t"))?;
    assert_eq!(out.client.status, 504);
    assert_eq!(out.client.body_text(), "stream timeout");
    assert!(out.upstream.is_none());
    Ok(())
}

#[test]
fn config_updates_swap_the_compiled_config_and_bad_ones_name_the_field() -> Result<()> {
    let mut t = WasmtimeTarget::new(Profile::Envoy)?;
    t.plugin
        .reconfigure(r#"{"callout_cluster":"upstream","tick_ms":0}"#)?;
    let err = t
        .plugin
        .reconfigure(r#"{"tick_ms":999999}"#)
        .unwrap_err()
        .to_string();
    assert!(err.contains("rejected"), "{err}");
    assert!(
        err.contains("`tick_ms`"),
        "the error names the field: {err}"
    );
    let rec = record(&mut t, "root")?;
    let generations: Vec<u64> = rec["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["generation"].as_u64())
        .collect();
    assert_eq!(
        generations,
        [1, 2],
        "the rejected config did not replace generation 2"
    );
    assert_eq!(
        t.plugin.send(Request::get("/still-serving"))?.client.status,
        200
    );

    let bad = Plugin::builder(&wasm("conformance")?)
        .config(r#"{"callout_clustr":"x"}"#)
        .build();
    let err = bad.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("unknown field `callout_clustr`"), "{err}");
    Ok(())
}

#[test]
fn workers_share_shared_data_but_not_memory() -> Result<()> {
    let mut p = Plugin::builder(&wasm("conformance")?)
        .named("conformance")
        .config(CONFORMANCE_CONFIG)
        .workers(3)
        .build()?;
    p.send(
        Request::get("/conformance/shared")
            .header("x-conformance-id", "w0")
            .on_worker(0),
    )?;
    for worker in 1..3 {
        let out = p.send(Request::get("/conformance/report/w0").on_worker(worker))?;
        assert_eq!(
            out.client.status, 200,
            "worker {worker} reads worker 0's record"
        );
    }
    Ok(())
}

#[test]
fn a_pass_through_request_reads_its_headers_in_one_hostcall() -> Result<()> {
    let mut t = WasmtimeTarget::new(Profile::Envoy)?;
    let out = t
        .plugin
        .send(Request::get("/api/anything").header("x-a", "1"))?;
    assert_eq!(out.hostcall_count("proxy_get_header_map_pairs"), 1);
    assert_eq!(out.hostcall_count("proxy_get_header_map_value"), 0);
    Ok(())
}

#[test]
fn modules_that_are_not_filters_are_refused_clearly() {
    let garbage = Plugin::builder(b"not wasm").build();
    assert!(
        garbage
            .err()
            .map(|e| format!("{e:#}"))
            .unwrap_or_default()
            .contains("compiling the filter")
    );
    // A valid module that is not a proxy-wasm filter.
    let empty_module = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
    let err = Plugin::builder(&empty_module)
        .build()
        .err()
        .map(|e| format!("{e:#}"))
        .unwrap_or_default();
    assert!(err.contains("not a proxy-wasm 0.2 filter"), "{err}");
}
