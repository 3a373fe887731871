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
    /// A config, resolved, for a gateway (if it names itself: under a rollout it gets
    /// its own revision).
    Resolved(&'a str, &'a Reporting),
}

/// Who pulls a config, and what it reports (the pull protocol's request headers).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reporting {
    pub project: String,
    pub group: String,
    pub filter: String,
    /// `Tollgate-Gateway`: its id in the fleet view.
    pub gateway: Option<String>,
    /// `Tollgate-Running`: the revision it runs (its ETag is `If-None-Match`).
    pub running: Option<u64>,
    /// `Tollgate-Refused` and `Tollgate-Error`: the last revision it refused, and why.
    pub refused: Option<(u64, String)>,
}

/// The longest `Tollgate-Error` kept.
const ERROR_MAX: usize = 512;

impl Reporting {
    /// Reads the pull protocol's headers; a malformed one is a 400 naming it.
    pub fn from_headers(
        headers: &HeaderMap,
        (project, group, filter): (&str, &str, &str),
    ) -> ApiResult<Self> {
        let text = |name: &str| -> ApiResult<Option<String>> {
            headers
                .get(name)
                .map(|v| {
                    v.to_str()
                        .map(|s| s.trim().to_string())
                        .map_err(|_| ApiError::bad_request(format!("{name}: not ASCII")))
                })
                .transpose()
        };
        let number = |name: &str| -> ApiResult<Option<u64>> {
            text(name)?
                .map(|v| {
                    v.parse::<u64>().map_err(|_| {
                        ApiError::bad_request(format!("{name}: not a revision number"))
                    })
                })
                .transpose()
        };
        let gateway = text("tollgate-gateway")?;
        if let Some(id) = &gateway {
            crate::fleet::check_gateway_id(id).map_err(ApiError::bad_request)?;
        }
        let refused = match (number("tollgate-refused")?, text("tollgate-error")?) {
            (Some(n), why) => {
                let mut why = why.unwrap_or_default();
                if why.len() > ERROR_MAX {
                    let mut end = ERROR_MAX;
                    while !why.is_char_boundary(end) {
                        end -= 1;
                    }
                    why.truncate(end);
                }
                Some((n, why))
            }
            (None, _) => None,
        };
        Ok(Self {
            project: project.into(),
            group: group.into(),
            filter: filter.into(),
            gateway,
            running: number("tollgate-running")?,
            refused,
        })
    }

    /// Records the report in the fleet view.
    async fn record(&self, ctl: &Control, etag: Option<&str>) -> ApiResult<()> {
        let Some(gateway) = &self.gateway else {
            return Ok(());
        };
        let who = crate::fleet::Reporter {
            project: &self.project,
            group: &self.group,
            gateway,
            via: crate::fleet::Via::Pull,
        };
        let filter = self.filter.as_str();
        crate::fleet::update(ctl, who, |g| {
            g.connected = false;
            if let Some(revision) = self.running {
                let version = etag.unwrap_or("").trim_matches('"').to_string();
                let already = g.filters.get(filter).and_then(|f| f.revision) == Some(revision);
                if !already {
                    crate::fleet::apply_report(
                        g,
                        filter,
                        &crate::fleet::Report::Applied { revision, version },
                    );
                }
            }
            if let Some((revision, detail)) = &self.refused {
                let known = g
                    .filters
                    .get(filter)
                    .and_then(|f| f.error.as_ref())
                    .is_some_and(|e| e.revision == Some(*revision) && &e.detail == detail);
                if !known {
                    let failure = crate::fleet::Failure {
                        revision: Some(*revision),
                        version: String::new(),
                        detail: detail.clone(),
                        at: crate::ledger::now_unix(),
                    };
                    crate::fleet::apply_report(g, filter, &crate::fleet::Report::Refused(failure));
                }
            }
        })
        .await
    }
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
    let mut head = head.ok_or_else(|| ApiError::not_found(format!("`{id}`")))?;
    // Under a rollout, a gateway outside the canary gets the promoted revision.
    if let Pulled::Resolved(_, who) = what
        && let Some(gateway) = &who.gateway
    {
        let number = crate::rollout::revision_for(
            ctl,
            (&who.project, &who.group, &who.filter),
            gateway,
            head.number,
        )
        .await?;
        if number != head.number {
            head = docs::revision(&ctl.store, id, number).await?;
        }
    }
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
        Pulled::Resolved(_, who) => {
            let body = resolved_body(ctl, &who.project, &head).await?;
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
    let resolved = resolve_revision(ctl, project, head).await?;
    serde_json::to_vec(&resolved.value).map_err(ApiError::internal)
}

/// A config revision with its references resolved, and the secret texts in it.
pub async fn resolve_revision(
    ctl: &Control,
    project: &str,
    head: &Revision,
) -> ApiResult<crate::resolve::Resolved> {
    let stored = docs::blob(&ctl.store, &head.sha256).await?;
    let value: serde_json::Value = serde_json::from_slice(&stored).map_err(ApiError::internal)?;
    crate::resolve::resolve(ctl, project, &value).await
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
    let mut who = Reporting::from_headers(&headers, (&project, &group, &filter))?;
    if let Some((_, why)) = &mut who.refused {
        *why = crate::fleet::scrubbed(&ctl, (&project, &group, &filter), why).await;
    }
    let etag = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    who.record(&ctl, etag).await?;
    let pulled = match current_or_wait(&ctl, &headers, Pulled::Resolved(&id, &who)).await? {
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
