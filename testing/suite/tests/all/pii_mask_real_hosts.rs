//! Tier 3 on the nginx hosts from `../shared/hosts`, two workers each: jwt-auth then
//! pii-mask in front of the chunked origin (values cut across chunks). Kong masks as
//! the body streams and drops the stale `content-length`; APISIX's wasm host cannot
//! replace bodies, so pii-mask refuses requests on masked routes with 502 before the
//! origin (or, configured to pass, lets them through unmasked and counts them).

use anyhow::Result;
use serde_json::{Value, json};
use tollgate_envoy_harness::HttpRequest;
use tollgate_host_suite::wasm_path;
use tollgate_nginx_harness::{Nginx, NginxConfig, NginxFilter, NginxHost};

use crate::pii_mask_envoy::{
    JSON_CHUNKS, JSON_MASKED, TEXT_CHUNKS, TEXT_MASKED, bearer, jwt_config, mask_config, origin,
};

fn start(host: NginxHost, upstream: std::net::SocketAddr, mask: &Value) -> Result<Nginx> {
    start_buffering(host, upstream, mask, false)
}

/// `proxy_buffering off`, as a body-rewriting filter needs on Kong (Kong Gateway: the
/// route's `response_buffering: false`).
fn start_buffering(
    host: NginxHost,
    upstream: std::net::SocketAddr,
    mask: &Value,
    buffering: bool,
) -> Result<Nginx> {
    Nginx::start(
        &NginxConfig::new(host, upstream)
            .workers(2)
            .proxy_buffering(buffering)
            .filter(NginxFilter::new(
                "jwt_auth",
                &wasm_path("jwt-auth")?,
                &jwt_config()?.to_string(),
            ))
            .filter(NginxFilter::new(
                "pii_mask",
                &wasm_path("pii-mask")?,
                &mask.to_string(),
            )),
    )
}

fn send(host: &Nginx, path: &str, auth: &str) -> tollgate_envoy_harness::HttpResponse {
    match host.send(&HttpRequest::get(path).header("authorization", auth)) {
        Ok(r) => r,
        Err(e) => panic!("{path}: {e}\n{}", host.log_tail()),
    }
}

#[test]
fn kong_masks_values_straddling_chunks() -> Result<()> {
    let origin = origin()?;
    let kong = start(NginxHost::Kong, origin.addr(), &mask_config())?;
    let viewer = bearer("viewer")?;
    for _ in 0..4 {
        let r = send(&kong, "/users", &viewer);
        assert_eq!(r.status, 200, "{}", kong.log_tail());
        assert_eq!(r.body_text(), JSON_MASKED, "{}", kong.log_tail());
        serde_json::from_slice::<Value>(&r.body)?;
        assert_eq!(r.header("content-length"), None);
        let sse = send(&kong, "/events", &viewer);
        assert_eq!(sse.body_text(), TEXT_MASKED, "{}", kong.log_tail());
        let gz = send(&kong, "/gzip", &viewer);
        assert_eq!(gz.body_text(), JSON_MASKED, "{}", kong.log_tail());
    }
    let officer = send(&kong, "/users", &bearer("compliance")?);
    assert_eq!(officer.body_text(), JSON_CHUNKS.concat(), "exempt by claim");
    // Over the limit while streaming: Kong cannot reset a stream, so the body is masked
    // to its end rather than cut short.
    let huge = send(&kong, "/huge", &viewer);
    assert_eq!(huge.status, 200);
    assert_eq!(
        huge.body.len(),
        (0..40)
            .map(|i: usize| format!("line {i} ").len() + 4001)
            .sum::<usize>()
    );
    kong.assert_healthy()?;
    Ok(())
}

/// The host fact behind `response_buffering: false`: with nginx's proxy buffering on,
/// Kong stalls a streamed response larger than its proxy buffers once a filter
/// replaces the chunks (observed: the client gets 40960 bytes, ten 4 KiB buffers, then
/// nothing); the same response streams whole with buffering off (above).
#[test]
fn kong_with_proxy_buffering_stalls_a_rewritten_stream() -> Result<()> {
    let origin = origin()?;
    let kong = start_buffering(NginxHost::Kong, origin.addr(), &mask_config(), true)?;
    let viewer = bearer("viewer")?;
    let small = send(&kong, "/users", &viewer);
    assert_eq!(
        small.body_text(),
        JSON_MASKED,
        "within the buffers all is well"
    );
    let stalled = kong.send(&HttpRequest::get("/huge").header("authorization", &viewer));
    assert!(
        stalled.is_err(),
        "a fixed Kong would stream it: drop the requirement from the docs"
    );
    Ok(())
}

#[test]
fn apisix_refuses_or_passes_as_configured_and_never_pretends() -> Result<()> {
    let origin = origin()?;
    let apisix = start(NginxHost::Apisix, origin.addr(), &mask_config())?;
    let viewer = bearer("viewer")?;
    let r = apisix.send(&HttpRequest::get("/users").header("authorization", &viewer))?;
    assert_eq!(r.status, 502, "{}", apisix.log_tail());
    assert!(
        r.body_text()
            .contains("cannot check responses for personal data"),
        "{}",
        r.body_text()
    );
    assert!(!r.body_text().contains("jane"), "nothing of the origin's");
    let officer = apisix
        .send(&HttpRequest::get("/events").header("authorization", &bearer("compliance")?))?;
    assert_eq!(
        officer.body_text(),
        TEXT_CHUNKS.concat(),
        "exempt callers are served"
    );
    apisix.assert_healthy()?;
    drop(apisix);

    let mut pass = mask_config();
    pass["on_unsupported_host"] = json!("pass");
    let apisix = start(NginxHost::Apisix, origin.addr(), &pass)?;
    let r = apisix.send(&HttpRequest::get("/users").header("authorization", &viewer))?;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body_text(),
        JSON_CHUNKS.concat(),
        "passed unmasked, as configured"
    );
    assert!(
        apisix.error_log().contains("responses pass UNMASKED"),
        "the operator is told at configure time"
    );
    let _ = TEXT_MASKED;
    apisix.assert_healthy()?;
    Ok(())
}
