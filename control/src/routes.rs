//! Every route, with the role it needs, in one table. The router is built from it and
//! each route's authorization layer is made from its row, so a route cannot exist
//! without a declared role; the RBAC matrix test walks the same table.

use std::net::SocketAddr;
use std::time::Instant;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, MatchedPath, RawPathParams, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, post, put};
use serde_json::json;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::api::{changes, distribution, documents as docs, projects, secrets, system, tokens};
use crate::audit::{Event, Outcome};
use crate::auth::{self, Need};
use crate::error::{ApiError, code};
use crate::state::AppState;
use crate::{apisix, fleet, modules, rollout};

pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub need: Need,
    pub summary: &'static str,
    pub handler: fn() -> MethodRouter<AppState>,
}

macro_rules! route {
    ($method:literal, $path:literal, $need:ident, $summary:literal, $make:expr) => {
        Route {
            method: $method,
            path: $path,
            need: Need::$need,
            summary: $summary,
            handler: || $make,
        }
    };
}

const P: &str = "/v1/projects/{project}";

/// The API. Paths under `/v1/projects/{project}` are checked against that project.
#[rustfmt::skip]
pub static ROUTES: &[Route] = &[
    route!("GET", "/v1/health", Public, "Liveness", get(system::health)),
    route!("GET", "/v1/ready", Public, "Readiness: storage answers", get(system::ready)),
    route!("GET", "/metrics", Public, "Prometheus metrics", get(system::metrics)),
    route!("GET", "/v1/openapi.json", Public, "This API's OpenAPI document", get(system::openapi)),
    route!("GET", "/v1/modules/{sha256}", Public, "A filter's wasm module by SHA-256 (what ECDS resources name)", get(modules::get)),
    route!("GET", "/v1/signing-keys", Public, "Public keys that verify distributed documents", get(system::signing_keys)),
    route!("POST", "/v1/signing-keys/rotate", Admin, "Rotate the distribution signing key", post(system::rotate_signing_key)),
    route!("POST", "/v1/login", Authenticated, "A short-lived session token for an API token", post(tokens::login)),
    route!("GET", "/v1/whoami", Authenticated, "The caller and its grants", get(tokens::whoami)),
    route!("GET", "/v1/status", Authenticated, "Storage, audit head, visible projects", get(system::status)),
    route!("GET", "/v1/tokens", Admin, "API tokens (never their secrets)", get(tokens::list)),
    route!("POST", "/v1/tokens", Admin, "Issue an API token (its secret is shown once)", post(tokens::create)),
    route!("DELETE", "/v1/tokens/{id}", Admin, "Revoke an API token and its sessions", delete(tokens::revoke)),
    route!("GET", "/v1/audit", PlatformAdmin, "Audit records", get(system::audit_list)),
    route!("GET", "/v1/audit/verify", PlatformAdmin, "Verify the audit hash chain", get(system::audit_verify)),
    route!("GET", "/v1/projects", Authenticated, "Projects the caller can see", get(projects::list_projects)),
    route!("PUT", "/v1/projects/{project}", PlatformAdmin, "Create or update a project", put(projects::put_project)),
    route!("GET", "/v1/projects/{project}", Viewer, "A project", get(projects::get_project)),
    route!("GET", "/v1/projects/{project}/groups", Viewer, "A project's gateway groups", get(projects::list_groups)),
    route!("PUT", "/v1/projects/{project}/groups/{group}", PlatformAdmin, "Create or update a gateway group", put(projects::put_group)),
    route!("GET", "/v1/projects/{project}/groups/{group}", Viewer, "A group and its documents' current revisions", get(projects::get_group)),
    route!("GET", "/v1/projects/{project}/groups/{group}/apisix", Viewer, "The group's APISIX Admin API target", get(apisix::get)),
    route!("PUT", "/v1/projects/{project}/groups/{group}/apisix", PlatformAdmin, "Set the group's APISIX Admin API target (the key as a secret reference)", put(apisix::put)),
    route!("POST", "/v1/projects/{project}/groups/{group}/apisix/sync", Author, "Push the group's configs to its APISIX now", post(apisix::sync_now)),
    route!("GET", "/v1/projects/{project}/groups/{group}/rollout", Viewer, "The group's rollout policy and each filter's rollout", get(rollout::get)),
    route!("PUT", "/v1/projects/{project}/groups/{group}/rollout-policy", PlatformAdmin, "Set the group's staged rollout: canaries, bake time, error margin", put(rollout::put_policy)),
    route!("GET", "/v1/projects/{project}/groups/{group}/status", Viewer, "The fleet: which gateways run which revision, which refused one and why, which are stale", get(fleet::status)),
    route!("GET", "/v1/projects/{project}/groups/{group}/configs/{filter}", Viewer, "A filter config (current or ?revision=N)", get(docs::get)),
    route!("PUT", "/v1/projects/{project}/groups/{group}/configs/{filter}", Author, "Push a filter config (If-Match)", put(docs::put)),
    route!("GET", "/v1/projects/{project}/groups/{group}/configs/{filter}/revisions", Viewer, "A config's revisions", get(docs::revisions)),
    route!("GET", "/v1/projects/{project}/groups/{group}/configs/{filter}/diff", Viewer, "Diff two revisions of a config", get(docs::diff_of)),
    route!("POST", "/v1/projects/{project}/groups/{group}/configs/{filter}/rollback", Author, "Roll a config back (a new revision)", post(docs::roll_back)),
    route!("GET", "/v1/projects/{project}/groups/{group}/configs/{filter}/resolved", Gateway, "The signed config with references resolved (gateways)", get(distribution::resolved)),
    route!("GET", "/v1/projects/{project}/groups/{group}/bundle", Viewer, "The group's bundle: revision and files", get(docs::get)),
    route!("PUT", "/v1/projects/{project}/groups/{group}/bundle", Author, "Push a Rego bundle (.tar.gz, If-Match)", put(docs::put)),
    route!("GET", "/v1/projects/{project}/groups/{group}/bundle/revisions", Viewer, "A bundle's revisions", get(docs::revisions)),
    route!("GET", "/v1/projects/{project}/groups/{group}/bundle/diff", Viewer, "Diff two revisions of a bundle", get(docs::diff_of)),
    route!("POST", "/v1/projects/{project}/groups/{group}/bundle/rollback", Author, "Roll a bundle back (a new revision)", post(docs::roll_back)),
    route!("GET", "/v1/projects/{project}/groups/{group}/bundle.tar.gz", Pull, "The signed bundle (OPA bundle service: ETag, 304, long polling)", get(distribution::bundle)),
    route!("GET", "/v1/projects/{project}/jwks/{name}", Viewer, "A JWKS set", get(docs::get)),
    route!("PUT", "/v1/projects/{project}/jwks/{name}", Author, "Push a JWKS set (If-Match)", put(docs::put)),
    route!("GET", "/v1/projects/{project}/jwks/{name}/revisions", Viewer, "A JWKS set's revisions", get(docs::revisions)),
    route!("GET", "/v1/projects/{project}/jwks/{name}/diff", Viewer, "Diff two revisions of a JWKS set", get(docs::diff_of)),
    route!("POST", "/v1/projects/{project}/jwks/{name}/rollback", Author, "Roll a JWKS set back", post(docs::roll_back)),
    route!("GET", "/v1/projects/{project}/secrets", Viewer, "Secrets' names and versions (never values)", get(secrets::list)),
    route!("PUT", "/v1/projects/{project}/secrets/{name}", PlatformAdmin, "Set a secret (a new version)", put(secrets::put)),
    route!("GET", "/v1/projects/{project}/changes", Viewer, "Change requests", get(changes::list)),
    route!("GET", "/v1/projects/{project}/changes/{id}", Viewer, "A change request with its diff and validation", get(changes::get)),
    route!("POST", "/v1/projects/{project}/changes/{id}/approve", PlatformAdmin, "Approve and apply a change request", post(changes::approve)),
    route!("POST", "/v1/projects/{project}/changes/{id}/reject", PlatformAdmin, "Reject a change request with a reason", post(changes::reject)),
];

/// Whether `path` is one of a project's (its first parameter is the project).
pub fn project_scoped(path: &str) -> bool {
    path.starts_with(P)
}

/// The service: the route table, each row behind its authorization, and the layers
/// every request goes through (request id, trace, metrics and error shape, timeout,
/// body limit).
pub fn app(ctl: AppState) -> Router {
    let mut router: Router<AppState> = Router::new();
    for r in ROUTES {
        let layer = middleware::from_fn_with_state((ctl.clone(), r.need), authorize);
        router = router.route(r.path, (r.handler)().route_layer(layer));
    }
    let timeout = ctl.settings.request_timeout;
    let limit = ctl.settings.max_body_bytes;
    router
        .fallback(|| async { ApiError::not_found("route") })
        .layer(DefaultBodyLimit::max(limit))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, timeout))
        .layer(middleware::from_fn_with_state(ctl.clone(), observe))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(ctl)
}

fn client_key(req: &Request) -> String {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "anonymous".to_string(), |c| format!("ip:{}", c.0.ip()))
}

/// Authenticates (when the route needs it), rate-limits, and checks the route's role.
/// Denials are audited.
async fn authorize(
    State((ctl, need)): State<(AppState, Need)>,
    params: RawPathParams,
    mut req: Request,
    next: Next,
) -> Response {
    // Path parameters become storage keys: only names (letters, digits, `-`, `_`, `.`,
    // never `/` however encoded) get that far.
    if let Some((name, _)) = params.iter().find(|(_, v)| !plain_segment(v)) {
        return ApiError::bad_request(format!("the `{name}` in this path is not a valid name"))
            .into_response();
    }
    let project = params
        .iter()
        .find(|(k, _)| *k == "project")
        .map(|(_, v)| v.to_string());
    if need == Need::Public {
        if ctl.limiter.check_key(&client_key(&req)).is_err() {
            return rate_limited();
        }
        return next.run(req).await;
    }
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    let Some(bearer) = bearer else {
        if ctl.limiter.check_key(&client_key(&req)).is_err() {
            return rate_limited();
        }
        return ApiError::unauthenticated(
            "send `Authorization: Bearer <token>` (see `tollgate login`)",
        )
        .into_response();
    };
    let principal =
        match auth::authenticate(&ctl.store, &bearer, ctl.settings.key_grace_seconds).await {
            Ok(p) => p,
            Err(e) => {
                if ctl.limiter.check_key(&client_key(&req)).is_err() {
                    return rate_limited();
                }
                if e.status == StatusCode::UNAUTHORIZED {
                    audit_denial(&ctl, "(invalid token)", attempt(&req), &e.message).await;
                }
                return e.into_response();
            }
        };
    if ctl
        .limiter
        .check_key(&format!("token:{}", principal.token_id))
        .is_err()
    {
        return rate_limited();
    }
    if !principal.allowed(need, project.as_deref()) {
        audit_denial(
            &ctl,
            &principal.subject,
            attempt(&req),
            "the caller's grants do not allow this",
        )
        .await;
        return ApiError::forbidden(format!("{need:?} access is needed here")).into_response();
    }
    req.extensions_mut().insert(principal);
    next.run(req).await
}

fn plain_segment(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 128
        && value != "."
        && value != ".."
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn rate_limited() -> Response {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        code::RATE_LIMITED,
        "too many requests; slow down",
    )
    .into_response()
}

/// What a denial record says about the request (taken out of it: a request body is
/// not `Sync`, so the request cannot be held across the audit write).
fn attempt(req: &Request) -> (String, String, String) {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("", MatchedPath::as_str);
    (
        route.to_string(),
        req.method().to_string(),
        req.uri().path().to_string(),
    )
}

async fn audit_denial(
    ctl: &AppState,
    actor: &str,
    (route, method, path): (String, String, String),
    why: &str,
) {
    let event = Event {
        actor: actor.into(),
        action: "access.denied".into(),
        target: route,
        outcome: Outcome::Denied,
        detail: json!({"method": method, "path": path, "why": why}),
    };
    ctl.metrics.event("access", "denied");
    if let Err(e) = crate::ledger::record(&ctl.store, &event).await {
        tracing::error!(error = %e, "could not audit a denial");
    }
}

/// Metrics per route template, and one error shape for errors axum or tower make
/// (413, 408, 405, 415, 400 from extractors) that are not JSON yet.
async fn observe(State(ctl): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "(unmatched)".to_string(), |m| m.as_str().to_string());
    let method = req.method().to_string();
    let response = next.run(req).await;
    let status = response.status();
    ctl.metrics
        .request(&route, &method, status.as_u16(), started.elapsed());
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if (status.is_client_error() || status.is_server_error()) && !is_json {
        let (code, message) = match status {
            StatusCode::PAYLOAD_TOO_LARGE => (
                code::TOO_LARGE,
                format!(
                    "the body is larger than {} bytes",
                    ctl.settings.max_body_bytes
                ),
            ),
            StatusCode::REQUEST_TIMEOUT => (code::TIMEOUT, "the request took too long".into()),
            StatusCode::METHOD_NOT_ALLOWED => {
                (code::BAD_REQUEST, "method not allowed on this route".into())
            }
            s if s.is_server_error() => (code::INTERNAL, "internal error".into()),
            _ => (
                code::BAD_REQUEST,
                status
                    .canonical_reason()
                    .unwrap_or("bad request")
                    .to_string(),
            ),
        };
        let mut replaced = ApiError::new(status, code, message).into_response();
        for name in [header::ALLOW, header::RETRY_AFTER] {
            if let Some(v) = response.headers().get(&name) {
                replaced.headers_mut().insert(name, v.clone());
            }
        }
        return replaced;
    }
    response
}
