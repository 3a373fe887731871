//! The tier's HTTP API: what response-cache calls, plus health and metrics.
//!
//! * `GET /v1/entries/{name}`: an entry's sealed bytes, or 404;
//! * `PUT /v1/entries/{name}` with `x-ttl-seconds`: stores them (at most the horizon);
//! * `POST /v1/invalidations`: `{"scopes": [...], "at_ns": n}`, appended to the log;
//! * `GET /v1/invalidations?after=<cursor>` or `?since_ms=<ms>`: a page of the log;
//! * `GET /healthz`, `GET /metrics` (Prometheus text).
//!
//! With a token configured, every `/v1` call needs `Authorization: Bearer <token>`.
//! A failing backend answers 503: gateways then go to the origin.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::backend::{Backend, From, Published};

/// The largest entry taken (the filter's own limit is lower).
pub const MAX_ENTRY: usize = 8 << 20;

#[derive(Default)]
pub struct Stats {
    pub gets: AtomicU64,
    pub hits: AtomicU64,
    pub puts: AtomicU64,
    pub invalidations: AtomicU64,
    pub polls: AtomicU64,
    pub errors: AtomicU64,
    pub refused: AtomicU64,
}

pub struct Tier {
    pub backend: Backend,
    /// `Bearer <token>`, or none.
    pub authorization: Option<String>,
    pub horizon: Duration,
    pub stats: Stats,
}

type Shared = Arc<Tier>;

pub fn router(tier: Shared) -> Router {
    Router::new()
        .route("/v1/entries/{name}", get(get_entry).put(put_entry))
        .route("/v1/invalidations", get(poll).post(publish))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(MAX_ENTRY))
        .with_state(tier)
}

fn allowed(tier: &Tier, headers: &HeaderMap) -> bool {
    let Some(expected) = &tier.authorization else {
        return true;
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    bool::from(given.ct_eq(expected.as_bytes()))
}

fn refuse(tier: &Tier) -> Response {
    tier.stats.refused.fetch_add(1, Ordering::Relaxed);
    (StatusCode::UNAUTHORIZED, "a valid bearer token is needed\n").into_response()
}

fn failed(tier: &Tier, what: &str, e: &str) -> Response {
    tier.stats.errors.fetch_add(1, Ordering::Relaxed);
    tracing::warn!(error = %e, "{what} failed");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "the tier's store is unavailable\n",
    )
        .into_response()
}

/// Entry names are the filter's HMACs in hex: nothing else is stored.
fn valid_name(name: &str) -> bool {
    name.len() == 64
        && name
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

async fn get_entry(
    State(tier): State<Shared>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !allowed(&tier, &headers) {
        return refuse(&tier);
    }
    if !valid_name(&name) {
        return (
            StatusCode::BAD_REQUEST,
            "expected an entry name (64 hex digits)\n",
        )
            .into_response();
    }
    tier.stats.gets.fetch_add(1, Ordering::Relaxed);
    match tier.backend.get(&name).await {
        Ok(Some(bytes)) => {
            tier.stats.hits.fetch_add(1, Ordering::Relaxed);
            ([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response()
        }
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => failed(&tier, "a read", &e),
    }
}

async fn put_entry(
    State(tier): State<Shared>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !allowed(&tier, &headers) {
        return refuse(&tier);
    }
    let ttl = headers
        .get("x-ttl-seconds")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let (true, Some(ttl)) = (valid_name(&name), ttl) else {
        return (
            StatusCode::BAD_REQUEST,
            "expected an entry name (64 hex digits) and x-ttl-seconds\n",
        )
            .into_response();
    };
    let ttl = Duration::from_secs(ttl.clamp(1, tier.horizon.as_secs().max(1)));
    match tier.backend.put(&name, &body, ttl).await {
        Ok(()) => {
            tier.stats.puts.fetch_add(1, Ordering::Relaxed);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => failed(&tier, "a write", &e),
    }
}

async fn publish(State(tier): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    if !allowed(&tier, &headers) {
        return refuse(&tier);
    }
    let p: Published = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("expected {{\"scopes\": [...], \"at_ns\": n}}: {e}\n"),
            )
                .into_response();
        }
    };
    if p.scopes.is_empty() || p.scopes.len() > 256 {
        return (StatusCode::BAD_REQUEST, "expected 1 to 256 scopes\n").into_response();
    }
    match tier.backend.publish(&p).await {
        Ok(()) => {
            tier.stats.invalidations.fetch_add(1, Ordering::Relaxed);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => failed(&tier, "publishing an invalidation", &e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PollQuery {
    after: Option<String>,
    since_ms: Option<u64>,
}

async fn poll(
    State(tier): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<PollQuery>,
) -> Response {
    if !allowed(&tier, &headers) {
        return refuse(&tier);
    }
    let from = match (q.after, q.since_ms) {
        (Some(c), None) => From::After(c),
        (None, Some(ms)) => From::Since(ms),
        _ => {
            return (
                StatusCode::BAD_REQUEST,
                "expected after=<cursor> or since_ms=<ms>\n",
            )
                .into_response();
        }
    };
    tier.stats.polls.fetch_add(1, Ordering::Relaxed);
    match tier.backend.page(&from).await {
        Ok(page) => axum::Json(page).into_response(),
        Err(e) if e.starts_with("expected") => {
            (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response()
        }
        Err(e) => failed(&tier, "reading invalidations", &e),
    }
}

async fn metrics(State(tier): State<Shared>) -> Response {
    let s = &tier.stats;
    let mut out = String::new();
    for (name, help, v) in [
        ("gets", "entry reads", &s.gets),
        ("hits", "entry reads that found one", &s.hits),
        ("puts", "entries stored", &s.puts),
        ("invalidations", "invalidations published", &s.invalidations),
        ("polls", "invalidation pages served", &s.polls),
        ("errors", "calls the store failed", &s.errors),
        ("refused", "calls without a valid token", &s.refused),
    ] {
        out.push_str(&format!(
            "# HELP tollgate_cache_{name}_total {help}\n# TYPE tollgate_cache_{name}_total counter\ntollgate_cache_{name}_total {}\n",
            v.load(Ordering::Relaxed)
        ));
    }
    out.push_str(&format!(
        "tollgate_cache_backend{{kind=\"{}\"}} 1\n",
        tier.backend.kind()
    ));
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}
