//! What gateways pull.
//!
//! * `…/bundle.tar.gz`: the group's signed bundle, as an OPA bundle server serves it:
//!   `ETag`, `If-None-Match` answered 304, and long polling (`Prefer: wait=N`, as OPA
//!   sends with `long_polling_timeout_seconds`): the answer waits until the bundle
//!   changes or N seconds pass.
//! * `…/configs/{filter}/resolved`: a filter config with its references resolved
//!   (secrets included; only gateway tokens may read it), signed: `Tollgate-Signature`
//!   is an EdDSA JWS whose claims name the body's SHA-256, the group, filter and
//!   revision.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::docs::{self, Revision};
use crate::error::{ApiError, ApiResult};
use crate::model::Target;
use crate::signing::{self, Ring};
use crate::state::{AppState, Control};

/// `Prefer: wait=N`, capped.
fn wait_of(headers: &HeaderMap, max: Duration) -> Duration {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|p| p.trim().strip_prefix("wait=")?.trim().parse::<u64>().ok())
        .map_or(Duration::ZERO, |s| Duration::from_secs(s).min(max))
}

fn etag_matches(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| {
            let t = t.trim();
            t == "*" || t.trim_start_matches("W/") == etag
        })
}

fn not_modified(etag: &str) -> Response {
    let mut r = StatusCode::NOT_MODIFIED.into_response();
    if let Ok(v) = HeaderValue::from_str(etag) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
}

/// The head of `id` and its ETag, waiting (long poll) while the client already has it.
async fn head_or_wait(
    ctl: &Control,
    id: &str,
    headers: &HeaderMap,
    etag_of: impl Fn(&Revision) -> String,
) -> ApiResult<Option<Revision>> {
    let wait = wait_of(headers, ctl.settings.long_poll_max);
    let deadline = tokio::time::Instant::now() + wait;
    let mut shutdown = ctl.shutting_down();
    // Bounded: each turn waits for a change notice, and the deadline ends it.
    loop {
        let (head, _) = docs::head(&ctl.store, id).await?;
        let head = head.ok_or_else(|| ApiError::not_found(format!("`{id}`")))?;
        if !etag_matches(headers, &etag_of(&head)) {
            return Ok(Some(head));
        }
        let now = tokio::time::Instant::now();
        if now >= deadline || *shutdown.borrow() {
            return Ok(None);
        }
        tokio::select! {
            () = ctl.store.changed(id, deadline - now) => {}
            _ = shutdown.changed() => {}
        }
    }
}

fn bundle_etag(r: &Revision) -> String {
    format!(
        "\"{}\"",
        r.distributed_sha256.as_deref().unwrap_or(&r.sha256)
    )
}

/// `GET /v1/projects/{project}/groups/{group}/bundle.tar.gz`.
pub async fn bundle(
    State(ctl): State<AppState>,
    Path((project, group)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let id = Target::Bundle { group }.id(&project);
    let Some(head) = head_or_wait(&ctl, &id, &headers, bundle_etag).await? else {
        let (head, _) = docs::head(&ctl.store, &id).await?;
        return Ok(not_modified(
            &head.map(|h| bundle_etag(&h)).unwrap_or_default(),
        ));
    };
    let sha = head
        .distributed_sha256
        .clone()
        .unwrap_or(head.sha256.clone());
    let bytes = docs::blob(&ctl.store, &sha).await?;
    let mut response = bytes.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/gzip"),
    );
    if let Ok(v) = HeaderValue::from_str(&bundle_etag(&head)) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&head.number.to_string()) {
        h.insert("tollgate-revision", v);
    }
    Ok(response)
}

/// The resolved body of a config revision, and its signature.
pub async fn resolved_document(
    ctl: &Control,
    project: &str,
    group: &str,
    filter: &str,
    head: &Revision,
) -> ApiResult<(Vec<u8>, String)> {
    let stored = docs::blob(&ctl.store, &head.sha256).await?;
    let value: serde_json::Value = serde_json::from_slice(&stored).map_err(ApiError::internal)?;
    let resolved = crate::resolve::resolve(ctl, project, &value).await?;
    let body = serde_json::to_vec(&resolved.value).map_err(ApiError::internal)?;
    let signer = signing::signer(&ctl.store, &ctl.master, Ring::Distribution).await?;
    let signature = signing::sign_claims(
        &signer,
        &json!({
            "sha256": docs::digest(&body),
            "project": project, "group": group, "filter": filter,
            "revision": head.number,
            "iat": crate::ledger::now_unix(),
        }),
    )?;
    Ok((body, signature))
}

/// `GET /v1/projects/{project}/groups/{group}/configs/{filter}/resolved`.
pub async fn resolved(
    State(ctl): State<AppState>,
    Path((project, group, filter)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let id = Target::Config {
        group: group.clone(),
        filter: filter.clone(),
    }
    .id(&project);
    // The ETag is the stored revision's: a secret rotation is a change gateways see by
    // the revision that references it being re-pushed (or by pinning versions).
    let etag_of = |r: &Revision| format!("\"{}\"", r.sha256);
    let Some(head) = head_or_wait(&ctl, &id, &headers, etag_of).await? else {
        let (head, _) = docs::head(&ctl.store, &id).await?;
        return Ok(not_modified(&head.map(|h| etag_of(&h)).unwrap_or_default()));
    };
    let (body, signature) = resolved_document(&ctl, &project, &group, &filter, &head).await?;
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&etag_of(&head)) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&signature) {
        h.insert("tollgate-signature", v);
    }
    if let Ok(v) = HeaderValue::from_str(&head.number.to_string()) {
        h.insert("tollgate-revision", v);
    }
    Ok(response)
}
