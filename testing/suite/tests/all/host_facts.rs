//! The host facts the kit relies on (`tollgate_kit::facts`), observed by the
//! conformance filter's `facts` scenario in each real host and in the wasmtime host's
//! profile for it: the profile must show exactly what the real host does. Each
//! expectation is also pinned, so two hosts failing alike cannot pass.

use anyhow::{Context as _, Result};
use serde_json::{Value, json};
use tollgate_envoy_harness::{HttpRequest, HttpResponse, Upstream};
use tollgate_host_suite::{EnvoyTarget, Target, WasmtimeTarget, diff, fixture_path};
use tollgate_nginx_harness::{Nginx, NginxConfig, NginxFilter, NginxHost};
use tollgate_wasm_host::Profile;

fn probe() -> HttpRequest {
    HttpRequest::get("/conformance/facts")
        .header("host", "edge.example")
        .header("x-remove-me", "r")
}

/// The filter's observations plus what the upstream received.
fn observed(r: &HttpResponse) -> Result<Value> {
    let facts: Value = serde_json::from_str(
        r.header("x-conformance-facts")
            .with_context(|| format!("no facts header: {} {}", r.status, r.body_text()))?,
    )?;
    let echo: Value = serde_json::from_slice(&r.body)?;
    let headers = echo["headers"].as_array().cloned().unwrap_or_default();
    let find = |name: &str| {
        headers
            .iter()
            .filter(|h| h[0].as_str().is_some_and(|n| n.eq_ignore_ascii_case(name)))
            .map(|h| h[1].clone())
            .collect::<Vec<_>>()
    };
    Ok(json!({
        "facts": facts,
        "upstream": {
            "x-remove-me": find("x-remove-me"),
            "host": find("host"),
            "method": echo["method"],
            "path": echo["path"],
        }
    }))
}

fn portable() -> Result<Vec<u8>> {
    Ok(std::fs::read(fixture_path("conformance-portable")?)?)
}

fn on_wasmtime(profile: Profile, module: &[u8]) -> Result<Value> {
    let mut t = WasmtimeTarget::with_module(profile, module)?;
    observed(&t.send(&probe())?)
}

fn on_nginx(host: NginxHost) -> Result<Value> {
    let app = Upstream::start()?;
    // Kong traps when a queue not declared in nginx.conf is registered.
    let filter = NginxFilter::new(
        "conformance",
        &fixture_path("conformance-portable")?,
        r#"{"callout_cluster":"upstream","grpc_cluster":"grpc","tick_ms":50,"queue":false}"#,
    );
    let nginx = Nginx::start(&NginxConfig::new(host, app.addr()).filter(filter))?;
    let seen = observed(&nginx.send(&probe())?)?;
    nginx.assert_healthy()?;
    Ok(seen)
}

fn same(host: &str, real: &Value, emulated: &Value) {
    let mut differences = Vec::new();
    diff(host, real, emulated, &mut differences);
    assert!(
        differences.is_empty(),
        "the wasmtime host's {host} profile differs from the real host (left: real):\n{}\n\nreal: {real:#}",
        differences.join("\n")
    );
}

#[test]
fn kong_profile_tells_the_truth() -> Result<()> {
    let real = on_nginx(NginxHost::Kong)?;
    same("kong", &real, &on_wasmtime(Profile::Kong, &portable()?)?);
    let f = &real["facts"];
    assert_eq!(f["detected"], "Kong");
    assert_eq!(
        f["effective_context_unknown_id"], "Ok",
        "accepted and ignored"
    );
    assert_eq!(f["proxy_clock"], "Ok");
    // "Removed": the filter still reads it, and nginx still sends it.
    assert_eq!(f["remove"], "Ok");
    assert_eq!(f["removed_visible_after"], "r");
    assert_eq!(real["upstream"]["x-remove-me"], json!(["r"]));
    // `:authority` writes report success and change nothing.
    assert_eq!(f["authority_write"], "Ok");
    assert_eq!(f["authority_took"], false);
    assert_eq!(real["upstream"]["host"], json!(["edge.example"]));
    // A rewritten target never reaches the upstream: the request line goes as received.
    assert_eq!(f["path_write"], "Ok");
    assert_eq!(real["upstream"]["path"], "/conformance/facts");
    // Custom properties only under `wasmx.`.
    let p = &f["properties"];
    assert_eq!(p["tollgate_credentials"]["set"], "NotFound");
    assert_eq!(p["wasmx.tollgate_credentials"]["set"], "Ok");
    assert_eq!(p["wasmx.tollgate_credentials"]["get"], "handed-over");
    // shm_kv takes a write without a CAS token only for a key that does not exist.
    assert_eq!(f["shared_create_unconditional"], "Ok");
    assert_eq!(f["shared_overwrite_unconditional"], "CasMismatch");
    Ok(())
}

#[test]
fn apisix_profile_tells_the_truth() -> Result<()> {
    let real = on_nginx(NginxHost::Apisix)?;
    same(
        "apisix",
        &real,
        &on_wasmtime(Profile::Apisix, &portable()?)?,
    );
    let f = &real["facts"];
    assert_eq!(f["detected"], "APISIX");
    assert_eq!(
        f["effective_context_unknown_id"], "Ok",
        "accepted and ignored"
    );
    assert_eq!(f["proxy_clock"], "Unimplemented");
    assert_eq!(f["remove"], "Ok");
    assert_eq!(real["upstream"]["x-remove-me"], json!([]));
    // `:authority` is validated as a method: the `.` is refused.
    assert_eq!(f["authority_write"], "BadArgument");
    assert_eq!(real["upstream"]["host"], json!(["edge.example"]));
    assert_eq!(real["upstream"]["method"], "GET");
    // `:path` is the URI whole (escaped again by nginx); the query is `$args`.
    assert_eq!(f["path_write"], "Ok");
    assert_eq!(f["args_write"], "Ok");
    assert_eq!(real["upstream"]["path"], "/facts%2520x%3Fq=2?r=3");
    // Properties are nginx variables: only declared ones can be set.
    let p = &f["properties"];
    assert_eq!(p["tollgate_probe_undeclared"]["set"], "NotFound");
    assert_eq!(p["tollgate_credentials"]["set"], "Ok");
    assert_eq!(p["tollgate_credentials"]["get"], "handed-over");
    Ok(())
}

#[test]
fn envoy_profile_tells_the_truth() -> Result<()> {
    let mut envoy = EnvoyTarget::new()?;
    let real = observed(&envoy.send(&probe())?)?;
    let module = std::fs::read(tollgate_host_suite::wasm_path("conformance")?)?;
    same("envoy", &real, &on_wasmtime(Profile::Envoy, &module)?);
    let f = &real["facts"];
    assert_eq!(f["detected"], "Envoy");
    assert_eq!(f["effective_context_unknown_id"], "BadArgument");
    assert_eq!(real["upstream"]["x-remove-me"], json!([]));
    assert_eq!(f["authority_write"], "Ok");
    assert_eq!(f["authority_took"], true);
    assert_eq!(real["upstream"]["host"], json!(["facts.example"]));
    assert_eq!(
        f["properties"]["tollgate_credentials"]["get"],
        "handed-over"
    );
    Ok(())
}

/// The conformance filter answering `root-reply` streams from its tick.
const ROOT_REPLY: &str = r#"{"tick_ms":50,"queue":false,"root_reply":true}"#;

fn root_reply() -> HttpRequest {
    HttpRequest::get("/conformance/root-reply")
}

#[test]
fn a_reply_from_the_root_context_reaches_the_stream_on_envoy_and_kills_a_kong_worker() -> Result<()>
{
    // Envoy switches to the stream's context: the root's reply reaches the client.
    let mut envoy = EnvoyTarget::configured(ROOT_REPLY)?;
    let r = envoy.send(&root_reply())?;
    assert_eq!(
        (r.status, r.body_text().as_str()),
        (200, "answered from the root")
    );
    let module = std::fs::read(tollgate_host_suite::wasm_path("conformance")?)?;
    let mut emulated = WasmtimeTarget::configured(Profile::Envoy, &module, ROOT_REPLY)?;
    let r = emulated.send(&root_reply())?;
    assert_eq!(
        (r.status, r.body_text().as_str()),
        (200, "answered from the root")
    );

    // Kong ignores the switch and dereferences the missing request: the worker dies.
    let app = Upstream::start()?;
    let filter = NginxFilter::new(
        "conformance",
        &fixture_path("conformance-portable")?,
        ROOT_REPLY,
    );
    let kong = Nginx::start(&NginxConfig::new(NginxHost::Kong, app.addr()).filter(filter))?;
    let answer = kong.send(&root_reply());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while kong.worker_crashes() == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(
        kong.worker_crashes() >= 1,
        "answer: {answer:?}\n{}",
        kong.log_tail()
    );
    assert!(answer.is_err() || answer.is_ok_and(|r| r.status != 200));
    let mut emulated = WasmtimeTarget::configured(Profile::Kong, &portable()?, ROOT_REPLY)?;
    let _ = emulated.send(&root_reply());
    let crash = emulated.plugin.crashed();
    assert!(crash.is_some_and(|c| c.contains("root context")));
    Ok(())
}

/// Kong links the gRPC hostcalls but implements none: a call traps, in the real host and
/// in the profile alike (so filters refuse gRPC modes on Kong at configure time).
#[test]
fn a_grpc_call_traps_on_kong_and_in_its_profile() -> Result<()> {
    let app = Upstream::start()?;
    let filter = NginxFilter::new(
        "conformance",
        &fixture_path("conformance-portable")?,
        r#"{"callout_cluster":"upstream","grpc_cluster":"127.0.0.1:9","tick_ms":50,"queue":false}"#,
    );
    let kong = Nginx::start(&NginxConfig::new(NginxHost::Kong, app.addr()).filter(filter))?;
    let real =
        kong.send(&HttpRequest::get("/conformance/grpc").header("x-conformance-id", "g1"))?;
    assert!(real.status >= 500, "{} {}", real.status, real.body_text());
    assert!(
        kong.error_log().contains("not yet implemented"),
        "{}",
        kong.log_tail()
    );
    assert!(app.seen().is_empty());
    let mut t = WasmtimeTarget::with_module(Profile::Kong, &portable()?)?;
    let emulated = t.plugin.send(
        tollgate_wasm_host::Request::get("/conformance/grpc").header("x-conformance-id", "g1"),
    )?;
    assert!(emulated.trapped());
    assert!(emulated.client.status >= 500);
    assert!(
        emulated
            .logs
            .iter()
            .any(|(_, m)| m.contains("not yet implemented")),
        "{:?}",
        emulated.logs
    );
    Ok(())
}

/// A local reply's body as the client gets it: Kong appends a line feed (its
/// `ngx_http_wasm_local_response`), APISIX and the profiles match their host.
#[test]
fn local_reply_bodies_as_each_host_sends_them() -> Result<()> {
    let local = || {
        HttpRequest::get("/conformance/local")
            .header("host", "conformance.test")
            .header("x-conformance-id", "local")
    };
    for (host, profile, expected) in [
        (NginxHost::Kong, Profile::Kong, "denied by conformance\n"),
        (NginxHost::Apisix, Profile::Apisix, "denied by conformance"),
    ] {
        let app = Upstream::start()?;
        let filter = NginxFilter::new(
            "conformance",
            &fixture_path("conformance-portable")?,
            r#"{"callout_cluster":"upstream","grpc_cluster":"grpc","tick_ms":50,"queue":false}"#,
        );
        let nginx = Nginx::start(&NginxConfig::new(host, app.addr()).filter(filter))?;
        let real = nginx.send(&local())?;
        nginx.assert_healthy()?;
        let mut t = WasmtimeTarget::with_module(profile, &portable()?)?;
        let emulated = t.send(&local())?;
        assert_eq!(real.status, 403, "{host:?}");
        assert_eq!(real.body_text(), expected, "{host:?}");
        assert_eq!(emulated.body_text(), expected, "{profile:?} profile");
    }
    Ok(())
}
