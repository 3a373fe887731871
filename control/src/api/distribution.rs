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

/// What a gateway pulls.
enum Pulled<'a> {
    /// A group's signed bundle (document id).
    Bundle(&'a str),
    /// A config, resolved (document id, project).
    Resolved(&'a str, &'a str),
}

/// The pulled document now: its ETag, revision, and body (or where it is stored).
struct Current {
    etag: String,
    revision: u64,
    body: Body,
}

enum Body {
    Blob(String),
    Bytes(Vec<u8>),
}

impl Body {
    async fn bytes(self, ctl: &Control) -> ApiResult<Vec<u8>> {
        match self {
            Body::Blob(sha) => docs::blob(&ctl.store, &sha).await,
            Body::Bytes(b) => Ok(b),
        }
    }
}

async fn current(ctl: &Control, what: &Pulled<'_>) -> ApiResult<Current> {
    let id = match what {
        Pulled::Bundle(id) | Pulled::Resolved(id, _) => *id,
    };
    let (head, _) = docs::head(&ctl.store, id).await?;
    let head = head.ok_or_else(|| ApiError::not_found(format!("`{id}`")))?;
    match what {
        // A bundle's digest is in its head: a poll reads no blob.
        Pulled::Bundle(_) => {
            let sha = head.distributed_sha256.unwrap_or(head.sha256);
            Ok(Current {
                etag: format!("\"{sha}\""),
                revision: head.number,
                body: Body::Blob(sha),
            })
        }
        // The ETag is the resolved body's digest: a new revision, a rotated secret or a
        // new bundle behind `bundle_ref` all change what the gateway must load, and
        // each changes the ETag (so a long poll answers).
        Pulled::Resolved(_, project) => {
            let body = resolved_body(ctl, project, &head).await?;
            Ok(Current {
                etag: format!("\"{}\"", docs::digest(&body)),
                revision: head.number,
                body: Body::Bytes(body),
            })
        }
    }
}

/// The pulled document, or, while the client already holds its ETag, a wait for a
/// change (long poll) of at most `Prefer: wait=N`. The inner `Err` is "still
/// unchanged", with the ETag for the 304.
async fn current_or_wait(
    ctl: &Control,
    headers: &HeaderMap,
    what: Pulled<'_>,
) -> ApiResult<Result<Current, String>> {
    let wait = wait_of(headers, ctl.settings.long_poll_max);
    let deadline = tokio::time::Instant::now() + wait;
    let mut shutdown = ctl.shutting_down();
    // Bounded: each turn waits for a change notice, and the deadline ends it.
    loop {
        let now_state = current(ctl, &what).await?;
        if !etag_matches(headers, &now_state.etag) {
            return Ok(Ok(now_state));
        }
        let now = tokio::time::Instant::now();
        if now >= deadline || *shutdown.borrow() {
            return Ok(Err(now_state.etag));
        }
        tokio::select! {
            () = ctl.store.changed("", deadline - now) => {}
            _ = shutdown.changed() => {}
        }
    }
}

fn set_headers(response: &mut Response, content_type: &'static str, etag: &str, revision: u64) {
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&revision.to_string()) {
        h.insert("tollgate-revision", v);
    }
}

/// `GET /v1/projects/{project}/groups/{group}/bundle.tar.gz`.
pub async fn bundle(
    State(ctl): State<AppState>,
    Path((project, group)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let id = Target::Bundle { group }.id(&project);
    let pulled = match current_or_wait(&ctl, &headers, Pulled::Bundle(&id)).await? {
        Ok(found) => found,
        Err(etag) => return Ok(not_modified(&etag)),
    };
    let mut response = pulled.body.bytes(&ctl).await?.into_response();
    set_headers(
        &mut response,
        "application/gzip",
        &pulled.etag,
        pulled.revision,
    );
    Ok(response)
}

/// A config revision with its references resolved (what the gateway loads).
pub async fn resolved_body(ctl: &Control, project: &str, head: &Revision) -> ApiResult<Vec<u8>> {
    let stored = docs::blob(&ctl.store, &head.sha256).await?;
    let value: serde_json::Value = serde_json::from_slice(&stored).map_err(ApiError::internal)?;
    let resolved = crate::resolve::resolve(ctl, project, &value).await?;
    serde_json::to_vec(&resolved.value).map_err(ApiError::internal)
}

/// The `Tollgate-Signature` of a resolved body: an EdDSA JWS over its digest, naming
/// what it is.
pub async fn sign_resolved(
    ctl: &Control,
    (project, group, filter): (&str, &str, &str),
    revision: u64,
    body: &[u8],
) -> ApiResult<String> {
    let signer = signing::signer(&ctl.store, &ctl.master, Ring::Distribution).await?;
    signing::sign_claims(
        &signer,
        &json!({
            "sha256": docs::digest(body),
            "project": project, "group": group, "filter": filter,
            "revision": revision,
            "iat": crate::ledger::now_unix(),
        }),
    )
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
    let pulled = match current_or_wait(&ctl, &headers, Pulled::Resolved(&id, &project)).await? {
        Ok(found) => found,
        Err(etag) => return Ok(not_modified(&etag)),
    };
    let body = pulled.body.bytes(&ctl).await?;
    let signature =
        sign_resolved(&ctl, (&project, &group, &filter), pulled.revision, &body).await?;
    let mut response = body.into_response();
    set_headers(
        &mut response,
        "application/json",
        &pulled.etag,
        pulled.revision,
    );
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&signature) {
        h.insert("tollgate-signature", v);
    }
    Ok(response)
}
