//! Health, readiness, metrics, the OpenAPI document, public signing keys and their
//! rotation, the audit log and its verification, and a status summary.

use axum::Extension;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::audit;
use crate::auth::Principal;
use crate::error::ApiResult;
use crate::signing::{self, Ring};
use crate::state::AppState;

pub async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Ready when storage answers.
pub async fn ready(State(ctl): State<AppState>) -> Response {
    match ctl.store.get(audit::HEAD_KEY).await {
        Ok(_) => Json(json!({ "status": "ready", "storage": ctl.store.backend() })).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable", "storage": ctl.store.backend() })),
            )
                .into_response()
        }
    }
}

pub async fn metrics(State(ctl): State<AppState>) -> Response {
    let mut r = ctl.metrics.render(ctl.store.backend()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    r
}

pub async fn openapi() -> Json<Value> {
    Json(crate::openapi::document())
}

/// `GET /v1/signing-keys`: the public keys that verify what gateways receive (current
/// and those still in their grace period).
pub async fn signing_keys(State(ctl): State<AppState>) -> ApiResult<Json<Value>> {
    signing::signer(&ctl.store, &ctl.master, Ring::Distribution).await?;
    let grace = ctl.settings.key_grace_seconds;
    let keys: Vec<Value> = signing::verifying_keys(&ctl.store, Ring::Distribution, grace)
        .await?
        .iter()
        .map(|k| signing::public(k, grace))
        .collect();
    let jwks: Vec<Value> = keys.iter().filter_map(|k| k.get("jwk").cloned()).collect();
    Ok(Json(json!({ "keys": keys, "jwks": { "keys": jwks } })))
}

pub async fn rotate_signing_key(
    State(ctl): State<AppState>,
    Extension(who): Extension<Principal>,
) -> ApiResult<Json<Value>> {
    let key = signing::rotate(
        &ctl.store,
        &ctl.master,
        Ring::Distribution,
        &who.subject,
        false,
    )
    .await?;
    Ok(Json(
        json!({ "key": signing::public(&key, ctl.settings.key_grace_seconds) }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    #[serde(default)]
    after: u64,
    #[serde(default = "default_limit")]
    limit: usize,
}

fn default_limit() -> usize {
    100
}

pub async fn audit_list(
    State(ctl): State<AppState>,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<Value>> {
    let records = audit::list(&ctl.store, q.after, q.limit.min(1000)).await?;
    Ok(Json(json!({ "records": records })))
}

pub async fn audit_verify(State(ctl): State<AppState>) -> ApiResult<Json<Value>> {
    Ok(Json(json!(audit::verify(&ctl.store).await?)))
}

/// `GET /v1/status`: what a `tollgate status` shows.
pub async fn status(
    State(ctl): State<AppState>,
    Extension(who): Extension<Principal>,
) -> ApiResult<Json<Value>> {
    let (head, _) = audit::head(&ctl.store).await?;
    let projects = ctl.store.range("projects/", 10_000).await?;
    let visible: Vec<String> = projects
        .into_iter()
        .filter_map(|(k, _)| k.strip_prefix("projects/").map(str::to_string))
        .filter(|p| who.sees(p))
        .collect();
    Ok(Json(json!({
        "storage": ctl.store.backend(),
        "audit": { "records": head.seq, "head": head.hash },
        "projects": visible,
        "subject": who.subject,
        "version": env!("CARGO_PKG_VERSION"),
    })))
}
