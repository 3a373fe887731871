//! A stand-in for Hitachi Content Platform's management API (MAPI), for the run
//! command and the end-to-end tests.
//!
//! Like HCP, it authenticates every request as a user of the tenant named by the
//! `Host` header (`<tenant>.<domain>`), from `Authorization: HCP
//! <base64(username)>:<md5hex(password)>`, and answers:
//! * 401 with `X-HCP-ErrorMessage` when the header is missing, malformed, names an
//!   unknown user, or carries the wrong password;
//! * 403 when the user's roles do not allow the operation or the path names another
//!   tenant.
//!
//! Endpoints (JSON; HCP also speaks XML):
//! * `GET /mapi/tenants`: the caller's tenant;
//! * `GET /mapi/tenants/{tenant}/namespaces`: namespace names (monitor or admin);
//! * `PUT /mapi/tenants/{tenant}/namespaces`: create one from `{"name": …}` (admin);
//! * `GET /mapi/tenants/{tenant}/statistics`: usage figures (monitor or admin);
//! * `POST /query`: a metadata query (`{"object": …}` or `{"operation": …}`), answered
//!   with the query and a result number that grows with every query run (monitor or
//!   admin of the tenant the host names);
//! * `GET /health`: no authentication.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context as _, Result};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use md5::{Digest, Md5};
use serde_json::json;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Monitor,
}

impl Role {
    /// HCP's name for the role, as tokens carry it in `roles` (policies/hcp reads it).
    pub fn hcp_name(self) -> &'static str {
        match self {
            Self::Admin => "administrator",
            Self::Monitor => "monitor",
        }
    }
}

#[derive(Debug, Clone)]
pub struct User {
    pub tenant: String,
    pub username: String,
    pub password: String,
    pub roles: Vec<Role>,
}

impl User {
    pub fn new(tenant: &str, username: &str, password: &str, roles: &[Role]) -> Self {
        Self {
            tenant: tenant.into(),
            username: username.into(),
            password: password.into(),
            roles: roles.to_vec(),
        }
    }
}

/// The demo's users: tenant `acme` with an admin (`alice`) and a monitor (`bob`),
/// tenant `globex` with an admin (`carol`). Demo passwords, nothing else.
/// Namespaces a tenant may hold (HCP has quotas too).
pub const MAX_NAMESPACES: usize = 1000;

pub fn demo_users() -> Vec<User> {
    vec![
        User::new(
            "acme",
            "alice",
            "alice-demo-pw",
            &[Role::Admin, Role::Monitor],
        ),
        User::new("acme", "bob", "bob-demo-pw", &[Role::Monitor]),
        User::new(
            "globex",
            "carol",
            "carol-demo-pw",
            &[Role::Admin, Role::Monitor],
        ),
    ]
}

struct Tenant {
    namespaces: Vec<String>,
}

struct Inner {
    /// Metadata queries run so far (each answer carries its number).
    queries: std::sync::atomic::AtomicU64,
    domain: String,
    users: Vec<User>,
    tenants: Mutex<BTreeMap<String, Tenant>>,
}

type Shared = Arc<Inner>;

pub struct HcpDemo {
    addr: SocketAddr,
    runtime: Option<tokio::runtime::Runtime>,
}

impl HcpDemo {
    /// Serves `users` for tenants under `domain` on 127.0.0.1 with a free port.
    pub fn start(domain: &str, users: Vec<User>) -> Result<Self> {
        Self::start_on(domain, users, 0)
    }

    pub fn start_on(domain: &str, users: Vec<User>, port: u16) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(("127.0.0.1", port)))
            .context("binding the demo HCP")?;
        let addr = listener.local_addr()?;
        let mut tenants = BTreeMap::new();
        for u in &users {
            tenants.entry(u.tenant.clone()).or_insert_with(|| Tenant {
                namespaces: vec!["default".into(), format!("{}-archive", u.tenant)],
            });
        }
        let state: Shared = Arc::new(Inner {
            queries: std::sync::atomic::AtomicU64::new(0),
            domain: domain.to_ascii_lowercase(),
            users,
            tenants: Mutex::new(tenants),
        });
        let app = Router::new()
            .route(
                "/health",
                get(|| async { axum::Json(json!({"status": "ok"})) }),
            )
            .route("/mapi/tenants", get(list_tenants))
            .route(
                "/mapi/tenants/{tenant}/namespaces",
                get(list_namespaces).put(create_namespace),
            )
            .route("/mapi/tenants/{tenant}/statistics", get(statistics))
            .route("/query", axum::routing::post(metadata_query))
            .with_state(state);
        runtime.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            addr,
            runtime: Some(runtime),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for HcpDemo {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_secs(1));
        }
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        [("x-hcp-errormessage", message.to_string())],
        axum::Json(json!({"errorMessage": message})),
    )
        .into_response()
}

/// Why a request is refused, as HCP answers it.
#[derive(Debug, Clone, Copy)]
enum Refusal {
    Unauthorized,
    Forbidden,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Self::Unauthorized => error(StatusCode::UNAUTHORIZED, "Authentication failed."),
            Self::Forbidden => error(
                StatusCode::FORBIDDEN,
                "You do not have permission to perform this operation.",
            ),
        }
    }
}

/// The authenticated user, as HCP decides it.
fn authenticate<'a>(state: &'a Inner, headers: &HeaderMap) -> Result<&'a User, Refusal> {
    let unauthorized = || Refusal::Unauthorized;
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let host = host.split(':').next().unwrap_or_default();
    let tenant = host
        .strip_suffix(&state.domain)
        .and_then(|t| t.strip_suffix('.'))
        .ok_or_else(unauthorized)?;
    let value = headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .ok_or_else(unauthorized)?;
    let (user_b64, pass_md5) = value
        .strip_prefix("HCP ")
        .and_then(|v| v.split_once(':'))
        .ok_or_else(unauthorized)?;
    let username = STANDARD
        .decode(user_b64)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(unauthorized)?;
    let user = state
        .users
        .iter()
        .find(|u| u.tenant == tenant && u.username == username)
        .ok_or_else(unauthorized)?;
    let expected = Md5::digest(user.password.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>();
    // Constant-time comparison of the digests.
    let same = expected.len() == pass_md5.len()
        && expected
            .bytes()
            .zip(pass_md5.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if same { Ok(user) } else { Err(unauthorized()) }
}

fn authorize<'a>(
    state: &'a Inner,
    headers: &HeaderMap,
    tenant: Option<&str>,
    role: &[Role],
) -> Result<&'a User, Refusal> {
    let user = authenticate(state, headers)?;
    if tenant.is_some_and(|t| t != user.tenant) || !user.roles.iter().any(|r| role.contains(r)) {
        return Err(Refusal::Forbidden);
    }
    Ok(user)
}

/// A read of `tenant` by a monitor or admin of that tenant.
fn read_tenant<T>(
    state: &Inner,
    headers: &HeaderMap,
    tenant: &str,
    read: impl FnOnce(Option<&Tenant>) -> T,
) -> Result<T, Refusal> {
    authorize(state, headers, Some(tenant), &[Role::Admin, Role::Monitor])?;
    let tenants = state.tenants.lock().unwrap_or_else(PoisonError::into_inner);
    Ok(read(tenants.get(tenant)))
}

async fn list_tenants(State(state): State<Shared>, headers: HeaderMap) -> Response {
    match authorize(&state, &headers, None, &[Role::Admin, Role::Monitor]) {
        Ok(user) => axum::Json(json!({"name": [user.tenant]})).into_response(),
        Err(r) => r.into_response(),
    }
}

async fn list_namespaces(
    State(state): State<Shared>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    let names = read_tenant(&state, &headers, &tenant, |t| {
        t.map(|t| t.namespaces.clone()).unwrap_or_default()
    });
    match names {
        Ok(names) => axum::Json(json!({"name": names})).into_response(),
        Err(r) => r.into_response(),
    }
}

async fn create_namespace(
    State(state): State<Shared>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = authorize(&state, &headers, Some(&tenant), &[Role::Admin]) {
        return r.into_response();
    }
    let name = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("name").and_then(|n| n.as_str()).map(String::from))
        .filter(|n| {
            !n.is_empty()
                && n.len() <= 63
                && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    let Some(name) = name else {
        return error(
            StatusCode::BAD_REQUEST,
            "The namespace name is missing or invalid.",
        );
    };
    let mut tenants = state.tenants.lock().unwrap_or_else(PoisonError::into_inner);
    let Some(t) = tenants.get_mut(&tenant) else {
        return error(StatusCode::NOT_FOUND, "The tenant does not exist.");
    };
    if t.namespaces.contains(&name) {
        return error(StatusCode::CONFLICT, "The namespace already exists.");
    }
    // Bounded, so a demo that runs for hours keeps its memory whatever clients send.
    if t.namespaces.len() >= MAX_NAMESPACES {
        return error(
            StatusCode::FORBIDDEN,
            "The tenant's namespace quota is reached.",
        );
    }
    t.namespaces.push(name.clone());
    (StatusCode::CREATED, axum::Json(json!({"name": name}))).into_response()
}

async fn statistics(
    State(state): State<Shared>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    let count = match read_tenant(&state, &headers, &tenant, |t| {
        t.map_or(0, |t| t.namespaces.len())
    }) {
        Ok(count) => count,
        Err(r) => return r.into_response(),
    };
    axum::Json(json!({
        "namespaceCount": count,
        "objectCount": 1200 * count,
        "storageCapacityUsed": 52_428_800 * count,
        "ingestedVolume": 48_234_496 * count,
    }))
    .into_response()
}

/// HCP's metadata query API, reduced: the kind of query is its top-level key.
async fn metadata_query(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = authorize(&state, &headers, None, &[Role::Admin, Role::Monitor]) {
        return r.into_response();
    }
    let query: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v @ serde_json::Value::Object(_)) => v,
        _ => return error(StatusCode::BAD_REQUEST, "The query is not a JSON object."),
    };
    let kind = ["object", "operation"]
        .into_iter()
        .find(|k| query.get(k).is_some());
    let Some(kind) = kind else {
        return error(
            StatusCode::BAD_REQUEST,
            "Expected an object or operation query.",
        );
    };
    let run = state
        .queries
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        + 1;
    let asked = query.get(kind).cloned().unwrap_or_default();
    axum::Json(json!({"queryKind": kind, "query": asked, "run": run})).into_response()
}
