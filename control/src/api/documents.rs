//! Versioned documents (filter configs, bundles, JWKS sets): read, push, history, diff
//! and rollback. A push is validated first; then it applies, or, in a project that
//! requires approval and from a policy author, becomes a change request.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, body::Bytes};
use serde::Deserialize;
use serde_json::{Value, json};
use tollgate_rego_authz::bundle::{Files, Limits};

use crate::api::projects::{load_group, load_project};
use crate::auth::{Need, Principal};
use crate::checks::{self, Checked};
use crate::docs::{self, Expected, Revision, Write};
use crate::error::{ApiError, ApiResult};
use crate::model::Target;
use crate::signing::{self, Ring};
use crate::state::{AppState, Control};
use crate::store::Op;

/// What a push carries.
pub enum Content {
    Json(Value),
    Bundle(Vec<u8>),
}

/// Content validated and ready to store.
pub struct Prepared {
    /// The stored form: pretty JSON, or the canonical unsigned archive.
    pub bytes: Vec<u8>,
    pub files: Option<Files>,
    pub checked: Checked,
}

/// Validates `content` for `target`; nothing is stored.
pub async fn prepare(
    ctl: &Control,
    project: &str,
    target: &Target,
    content: Content,
) -> ApiResult<Prepared> {
    match (target, content) {
        (Target::Config { group, filter }, Content::Json(value)) => {
            let g = load_group(ctl, project, group).await?;
            let checked = checks::config(ctl, project, &g, filter, &value).await?;
            Ok(Prepared {
                bytes: pretty(&value)?,
                files: None,
                checked,
            })
        }
        (Target::Jwks { .. }, Content::Json(value)) => {
            let checked = checks::jwks(&value)?;
            Ok(Prepared {
                bytes: pretty(&value)?,
                files: None,
                checked,
            })
        }
        (Target::Bundle { group }, Content::Bundle(bytes)) => {
            load_group(ctl, project, group).await?;
            let b = checks::bundle(bytes).await?;
            Ok(Prepared {
                bytes: b.canonical,
                files: Some(b.files),
                checked: b.checked,
            })
        }
        _ => Err(ApiError::internal("content does not match its target")),
    }
}

fn pretty(value: &Value) -> ApiResult<Vec<u8>> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(ApiError::internal)?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Signs a bundle's files in OPA's `.signatures.json` format with the distribution key.
async fn signed_bundle(ctl: &Control, mut files: Files) -> ApiResult<Vec<u8>> {
    let signer = signing::signer(&ctl.store, &ctl.master, Ring::Distribution).await?;
    tollgate_rego_authz::signature::sign(
        &mut files,
        jsonwebtoken::Algorithm::EdDSA,
        &signer.encoding,
        Some(&signer.kid),
    )
    .map_err(ApiError::internal)?;
    files.to_tar_gz().map_err(ApiError::internal)
}

/// Stores `prepared` as the next revision of `target`.
pub struct Apply<'a> {
    pub project: &'a str,
    pub target: &'a Target,
    pub expected: Expected,
    pub author: &'a str,
    pub message: String,
    pub rollback_of: Option<u64>,
    pub change: Option<String>,
    pub extra: Vec<Op>,
    pub extra_guards: Vec<crate::store::Compare>,
}

pub async fn apply(ctl: &Control, a: Apply<'_>, prepared: Prepared) -> ApiResult<(Revision, bool)> {
    let distributed = match prepared.files {
        Some(files) => Some(signed_bundle(ctl, files).await?),
        None => None,
    };
    docs::write(
        &ctl.store,
        Write {
            id: a.target.id(a.project),
            expected: a.expected,
            content: prepared.bytes,
            distributed,
            author: a.author.into(),
            message: a.message,
            rollback_of: a.rollback_of,
            change: a.change,
            action: a.target.action(),
            extra: a.extra,
            extra_guards: a.extra_guards,
            extra_detail: json!({ "rollback_of": a.rollback_of }),
        },
    )
    .await
}

/// A push as received.
struct Push {
    target: Target,
    content: Content,
    expected: Expected,
    message: String,
    rollback_of: Option<u64>,
}

/// Applies, or proposes when the project requires approval of this author.
async fn submit(ctl: &Control, who: &Principal, project: &str, push: Push) -> ApiResult<Response> {
    let Push {
        target,
        content,
        expected,
        message,
        rollback_of,
    } = push;
    let (p, _) = load_project(ctl, project).await?;
    let id = target.id(project);
    // Check the precondition before the (possibly slow) validation.
    let (head, _) = docs::head(&ctl.store, &id).await?;
    docs::check_expected(&id, head.as_ref(), expected)?;
    let prepared = prepare(ctl, project, &target, content).await?;
    if p.require_approval && !who.allowed(Need::PlatformAdmin, None) {
        let change = crate::api::changes::propose(
            ctl,
            who,
            project,
            target,
            head.as_ref(),
            prepared,
            message,
            rollback_of,
        )
        .await?;
        return Ok((StatusCode::ACCEPTED, Json(json!({ "change": change }))).into_response());
    }
    let checked = prepared.checked.clone();
    let (revision, created) = apply(
        ctl,
        Apply {
            project,
            target: &target,
            expected,
            author: &who.subject,
            message,
            rollback_of,
            change: None,
            extra: Vec::new(),
            extra_guards: Vec::new(),
        },
        prepared,
    )
    .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(revision_response(
        status,
        &revision,
        json!({
            "revision": revision, "unchanged": !created, "validation": checked,
        }),
    ))
}

fn revision_response(status: StatusCode, revision: &Revision, body: Value) -> Response {
    let mut response = (status, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", revision.number)) {
        response.headers_mut().insert(header::ETAG, v);
    }
    response
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevisionQuery {
    revision: Option<u64>,
}

/// The current revision (or `?revision=N`) of `target`, with its content.
async fn read(
    ctl: &Control,
    project: &str,
    target: &Target,
    q: RevisionQuery,
) -> ApiResult<Response> {
    load_project(ctl, project).await?;
    let id = target.id(project);
    let revision = match q.revision {
        Some(n) => docs::revision(&ctl.store, &id, n).await?,
        None => docs::head(&ctl.store, &id)
            .await?
            .0
            .ok_or_else(|| ApiError::not_found(format!("`{id}`")))?,
    };
    let bytes = docs::blob(&ctl.store, &revision.sha256).await?;
    let body = if target.is_json() {
        let content: Value = serde_json::from_slice(&bytes).map_err(ApiError::internal)?;
        json!({ "revision": revision, "content": content })
    } else {
        let files = Files::from_tar_gz(&bytes, Limits::default()).map_err(ApiError::internal)?;
        let list: Vec<Value> = files
            .0
            .iter()
            .map(|(path, data)| json!({"path": path, "bytes": data.len(), "sha256": docs::digest(data)}))
            .collect();
        json!({ "revision": revision, "files": list })
    };
    Ok(revision_response(StatusCode::OK, &revision, body))
}

async fn history(ctl: &Control, project: &str, target: &Target) -> ApiResult<Json<Value>> {
    load_project(ctl, project).await?;
    let list = docs::revisions(&ctl.store, &target.id(project), 100_000).await?;
    Ok(Json(json!({ "revisions": list })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiffQuery {
    from: Option<u64>,
    to: Option<u64>,
}

/// Text of a revision for diffing: JSON as stored, a bundle file by file.
fn diff_text(
    target: &Target,
    bytes: &[u8],
) -> ApiResult<std::collections::BTreeMap<String, String>> {
    if target.is_json() {
        return Ok([(String::new(), String::from_utf8_lossy(bytes).into_owned())].into());
    }
    let files = Files::from_tar_gz(bytes, Limits::default()).map_err(ApiError::internal)?;
    Ok(files
        .0
        .into_iter()
        .map(|(p, d)| (p, String::from_utf8_lossy(&d).into_owned()))
        .collect())
}

/// A unified diff between two contents (per file for bundles).
pub fn diff_contents(target: &Target, from: Option<&[u8]>, to: &[u8]) -> ApiResult<String> {
    let old = match from {
        Some(b) => diff_text(target, b)?,
        None => Default::default(),
    };
    let new = diff_text(target, to)?;
    let mut names: Vec<&String> = old.keys().chain(new.keys()).collect();
    names.sort();
    names.dedup();
    let mut out = String::new();
    for name in names {
        let a = old.get(name).map_or("", String::as_str);
        let b = new.get(name).map_or("", String::as_str);
        if a != b {
            let label = if name.is_empty() {
                "content"
            } else {
                name.as_str()
            };
            out.push_str(&docs::diff_text(
                a,
                b,
                &format!("a/{label}"),
                &format!("b/{label}"),
            ));
        }
    }
    Ok(out)
}

async fn diff(
    ctl: &Control,
    project: &str,
    target: &Target,
    q: DiffQuery,
) -> ApiResult<Json<Value>> {
    load_project(ctl, project).await?;
    let id = target.id(project);
    let to = match q.to {
        Some(n) => docs::revision(&ctl.store, &id, n).await?,
        None => docs::head(&ctl.store, &id)
            .await?
            .0
            .ok_or_else(|| ApiError::not_found(format!("`{id}`")))?,
    };
    let from_number = q.from.unwrap_or(to.number.saturating_sub(1));
    let from = if from_number == 0 {
        None
    } else {
        Some(docs::revision(&ctl.store, &id, from_number).await?)
    };
    let from_bytes = match &from {
        Some(r) => Some(docs::blob(&ctl.store, &r.sha256).await?),
        None => None,
    };
    let to_bytes = docs::blob(&ctl.store, &to.sha256).await?;
    let text = diff_contents(target, from_bytes.as_deref(), &to_bytes)?;
    Ok(Json(
        json!({ "from": from_number, "to": to.number, "diff": text }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollbackBody {
    /// The revision whose content becomes current again.
    to: u64,
    #[serde(default)]
    message: Option<String>,
}

async fn rollback(
    ctl: &Control,
    who: &Principal,
    project: &str,
    target: Target,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<Response> {
    let body: RollbackBody = super::json_body(body)?;
    let expected = super::if_match(headers)?;
    let id = target.id(project);
    let old = docs::revision(&ctl.store, &id, body.to).await?;
    let bytes = docs::blob(&ctl.store, &old.sha256).await?;
    let content = if target.is_json() {
        Content::Json(serde_json::from_slice(&bytes).map_err(ApiError::internal)?)
    } else {
        Content::Bundle(bytes)
    };
    let message = body
        .message
        .unwrap_or_else(|| format!("roll back to revision {}", body.to));
    submit(
        ctl,
        who,
        project,
        Push {
            target,
            content,
            expected,
            message,
            rollback_of: Some(body.to),
        },
    )
    .await
}

fn parse_json_content(body: &[u8]) -> ApiResult<Content> {
    let value: Value = super::json_body(body)?;
    Ok(Content::Json(value))
}

/// The document a route names: its project and target, from the path (a config has
/// `{group}` and `{filter}`, a JWKS set `{name}`, a bundle `{group}` alone). One
/// extractor, so one handler per verb serves every kind of document.
pub struct Doc {
    pub project: String,
    pub target: Target,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Doc {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let params = axum::extract::RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        };
        let project = get("project")
            .ok_or_else(|| ApiError::internal("a document route without {project}"))?;
        let target = match (get("group"), get("filter"), get("name")) {
            (Some(group), Some(filter), None) => Target::Config { group, filter },
            (Some(group), None, None) => Target::Bundle { group },
            (None, None, Some(name)) => {
                crate::model::check_name("JWKS set", &name)?;
                Target::Jwks { name }
            }
            _ => {
                return Err(ApiError::internal(
                    "a document route with unexpected parameters",
                ));
            }
        };
        Ok(Self { project, target })
    }
}

/// `PUT` of a document: JSON for configs and JWKS sets, a `.tar.gz` for bundles.
pub async fn put(
    State(ctl): State<AppState>,
    Extension(who): Extension<Principal>,
    headers: HeaderMap,
    doc: Doc,
    body: Bytes,
) -> ApiResult<Response> {
    let content = if doc.target.is_json() {
        parse_json_content(&body)?
    } else {
        Content::Bundle(body.to_vec())
    };
    let push = Push {
        target: doc.target,
        content,
        expected: super::if_match(&headers)?,
        message: super::message(&headers)?,
        rollback_of: None,
    };
    submit(&ctl, &who, &doc.project, push).await
}

pub async fn get(
    State(ctl): State<AppState>,
    doc: Doc,
    Query(q): Query<RevisionQuery>,
) -> ApiResult<Response> {
    read(&ctl, &doc.project, &doc.target, q).await
}

pub async fn revisions(State(ctl): State<AppState>, doc: Doc) -> ApiResult<Json<Value>> {
    history(&ctl, &doc.project, &doc.target).await
}

pub async fn diff_of(
    State(ctl): State<AppState>,
    doc: Doc,
    Query(q): Query<DiffQuery>,
) -> ApiResult<Json<Value>> {
    diff(&ctl, &doc.project, &doc.target, q).await
}

pub async fn roll_back(
    State(ctl): State<AppState>,
    Extension(who): Extension<Principal>,
    headers: HeaderMap,
    doc: Doc,
    body: Bytes,
) -> ApiResult<Response> {
    rollback(&ctl, &who, &doc.project, doc.target, &headers, &body).await
}
