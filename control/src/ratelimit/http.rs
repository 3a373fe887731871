//! The HTTP face: `POST /json` (Envoy's ratelimit service's JSON endpoint: the
//! `RateLimitRequest` in protobuf's JSON mapping in, the `RateLimitResponse` out, 429
//! when over the limit), for proxies without gRPC callouts; `GET /healthz`; and
//! `GET /metrics` (Prometheus text).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use envoy_types::pb::envoy::extensions::common::ratelimit::v3::RateLimitDescriptor;
use envoy_types::pb::envoy::extensions::common::ratelimit::v3::rate_limit_descriptor::Entry;
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::Code;
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::rate_limit::Unit;
use envoy_types::pb::envoy::service::ratelimit::v3::{RateLimitRequest, RateLimitResponse};
use serde_json::{Value, json};

use super::service::Rls;

/// What the handlers share.
#[derive(Clone)]
pub struct Web {
    pub rls: Arc<Rls>,
    /// Limits are loaded.
    pub ready: Arc<AtomicBool>,
}

/// Largest JSON request: a request has a few descriptors.
const MAX_BODY: usize = 64 * 1024;

pub fn router(web: Web) -> Router {
    Router::new()
        .route("/json", post(json_endpoint))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(web)
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({"error": message}))).into_response()
}

/// A `RateLimitRequest` from its JSON mapping; the message says what is wrong.
pub fn request_from_json(v: &Value) -> Result<RateLimitRequest, String> {
    let domain = v
        .get("domain")
        .and_then(Value::as_str)
        .filter(|d| !d.is_empty())
        .ok_or("`domain`: expected a non-empty string")?;
    let list = v
        .get("descriptors")
        .and_then(Value::as_array)
        .ok_or("`descriptors`: expected an array")?;
    let mut descriptors = Vec::with_capacity(list.len());
    for (i, d) in list.iter().enumerate() {
        let entries = d
            .get("entries")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("`descriptors[{i}].entries`: expected an array"))?;
        let mut out = Vec::with_capacity(entries.len());
        for (j, e) in entries.iter().enumerate() {
            let text = |name: &str| {
                e.get(name)
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .ok_or_else(|| {
                        format!("`descriptors[{i}].entries[{j}].{name}`: expected a string")
                    })
            };
            out.push(Entry {
                key: text("key")?,
                value: text("value")?,
            });
        }
        descriptors.push(RateLimitDescriptor {
            entries: out,
            ..RateLimitDescriptor::default()
        });
    }
    let hits = v.get("hitsAddend").or_else(|| v.get("hits_addend"));
    let hits_addend = match hits {
        None => 0,
        Some(h) => h
            .as_u64()
            .and_then(|h| u32::try_from(h).ok())
            .ok_or("`hitsAddend`: expected a small number")?,
    };
    Ok(RateLimitRequest {
        domain: domain.to_string(),
        descriptors,
        hits_addend,
    })
}

fn code_name(code: i32) -> &'static str {
    match Code::try_from(code) {
        Ok(Code::Ok) => "OK",
        Ok(Code::OverLimit) => "OVER_LIMIT",
        _ => "UNKNOWN",
    }
}

/// A `RateLimitResponse` in protobuf's JSON mapping (zero values left out).
pub fn response_to_json(r: &RateLimitResponse) -> Value {
    let statuses: Vec<Value> = r
        .statuses
        .iter()
        .map(|s| {
            let mut o = json!({"code": code_name(s.code)});
            if let (Some(l), Some(obj)) = (&s.current_limit, o.as_object_mut()) {
                let unit = Unit::try_from(l.unit).unwrap_or(Unit::Unknown);
                obj.insert(
                    "currentLimit".into(),
                    json!({"name": l.name, "requestsPerUnit": l.requests_per_unit,
                           "unit": unit.as_str_name()}),
                );
                if s.limit_remaining > 0 {
                    obj.insert("limitRemaining".into(), json!(s.limit_remaining));
                }
            }
            if let (Some(d), Some(obj)) = (&s.duration_until_reset, o.as_object_mut()) {
                let text = if d.nanos == 0 {
                    format!("{}s", d.seconds)
                } else {
                    format!("{}.{:09}s", d.seconds, d.nanos)
                };
                obj.insert("durationUntilReset".into(), json!(text));
            }
            o
        })
        .collect();
    json!({"overallCode": code_name(r.overall_code), "statuses": statuses})
}

async fn json_endpoint(State(web): State<Web>, body: Bytes) -> Response {
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("malformed JSON: {e}")),
    };
    let request = match request_from_json(&value) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e),
    };
    match web.rls.should_rate_limit(&request).await {
        Ok(r) => {
            let status = if r.overall_code == Code::OverLimit as i32 {
                StatusCode::TOO_MANY_REQUESTS
            } else {
                StatusCode::OK
            };
            (status, axum::Json(response_to_json(&r))).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot check the limits");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the counters are unavailable",
            )
        }
    }
}

async fn healthz(State(web): State<Web>) -> Response {
    if web.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "no limits loaded\n").into_response()
    }
}

async fn metrics(State(web): State<Web>) -> Response {
    let s = &web.rls.stats;
    let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    let text = format!(
        "# TYPE tollgate_ratelimit_decisions_total counter\n\
         tollgate_ratelimit_decisions_total{{code=\"ok\"}} {}\n\
         tollgate_ratelimit_decisions_total{{code=\"over_limit\"}} {}\n\
         # TYPE tollgate_ratelimit_errors_total counter\n\
         tollgate_ratelimit_errors_total {}\n\
         # TYPE tollgate_ratelimit_reloads_total counter\n\
         tollgate_ratelimit_reloads_total{{result=\"ok\"}} {}\n\
         tollgate_ratelimit_reloads_total{{result=\"failed\"}} {}\n\
         # TYPE tollgate_ratelimit_limits gauge\n\
         tollgate_ratelimit_limits {}\n",
        get(&s.ok),
        get(&s.over_limit),
        get(&s.errors),
        get(&s.reloads),
        get(&s.reload_failures),
        get(&s.limits),
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}
