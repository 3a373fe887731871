//! Change requests: in a project that requires approval, a policy author's push is
//! validated, then waits (with its diff and validation results) for a platform admin
//! to approve it (it applies, if its base is still current) or reject it with a reason.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, body::Bytes};
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::api::documents::{Apply, Content, Prepared, apply, diff_contents, prepare};
use crate::api::projects::load_project;
use crate::audit::{Event, Outcome};
use crate::auth::Principal;
use crate::docs::{self, Expected, Revision};
use crate::error::{ApiError, ApiResult, code};
use crate::ledger::{self, CommitError};
use crate::model::Target;
use crate::state::{AppState, Control};
use crate::store::{Compare, Op};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Approved,
    Rejected,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChangeRequest {
    pub id: String,
    pub project: String,
    pub target: Target,
    /// The revision the change was made against (`None`: a new document).
    pub base: Option<u64>,
    pub sha256: String,
    pub author: String,
    pub created: String,
    pub message: String,
    #[serde(default)]
    pub rollback_of: Option<u64>,
    pub status: Status,
    pub diff: String,
    pub validation: Value,
    #[serde(default)]
    pub decided_by: Option<String>,
    #[serde(default)]
    pub decided: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    /// The revision an approval made.
    #[serde(default)]
    pub revision: Option<u64>,
}

fn key(project: &str, id: &str) -> String {
    format!("changes/{project}/{id}")
}

/// Stores a validated push as a pending change request.
#[allow(clippy::too_many_arguments)]
pub async fn propose(
    ctl: &Control,
    who: &Principal,
    project: &str,
    target: Target,
    head: Option<&Revision>,
    prepared: Prepared,
    message: String,
    rollback_of: Option<u64>,
) -> ApiResult<ChangeRequest> {
    let current = match head {
        Some(h) => Some(docs::blob(&ctl.store, &h.sha256).await?),
        None => None,
    };
    let diff = diff_contents(&target, current.as_deref(), &prepared.bytes)?;
    let mut rand = [0u8; 4];
    OsRng.fill_bytes(&mut rand);
    let id = format!("{:010}-{}", ledger::now_unix(), hex::encode(rand));
    let sha256 = docs::digest(&prepared.bytes);
    let change = ChangeRequest {
        id: id.clone(),
        project: project.into(),
        target: target.clone(),
        base: head.map(|h| h.number),
        sha256: sha256.clone(),
        author: who.subject.clone(),
        created: ledger::now_rfc3339(),
        message,
        rollback_of,
        status: Status::Pending,
        diff,
        validation: json!(prepared.checked),
        decided_by: None,
        decided: None,
        reason: None,
        revision: None,
    };
    let event = Event {
        actor: who.subject.clone(),
        action: format!("{}.propose", target.action()),
        target: target.id(project),
        outcome: Outcome::Proposed,
        detail: json!({"change": id, "sha256": sha256, "base": change.base}),
    };
    let ops = [
        Op::Put {
            key: docs::blob_key(&sha256),
            value: prepared.bytes,
        },
        Op::Put {
            key: key(project, &id),
            value: serde_json::to_vec(&change).map_err(ApiError::internal)?,
        },
    ];
    let guard = [Compare {
        key: key(project, &id),
        version: 0,
    }];
    match ledger::commit(&ctl.store, &guard, &ops, &event).await {
        Ok(_) => Ok(change),
        Err(CommitError::Conflict) => Err(ApiError::internal("change id collision")),
        Err(CommitError::Store(e)) => Err(e.into()),
    }
}

async fn load(ctl: &Control, project: &str, id: &str) -> ApiResult<(ChangeRequest, u64)> {
    crate::records::get(&ctl.store, &key(project, id))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("change `{id}`")))
}

pub async fn list(
    State(ctl): State<AppState>,
    Path(project): Path<String>,
) -> ApiResult<Json<Value>> {
    load_project(&ctl, &project).await?;
    let changes: Vec<ChangeRequest> =
        crate::records::list(&ctl.store, &format!("changes/{project}/"), 10_000).await?;
    Ok(Json(json!({ "changes": changes })))
}

pub async fn get(
    State(ctl): State<AppState>,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let (change, _) = load(&ctl, &project, &id).await?;
    Ok(Json(json!({ "change": change })))
}

fn not_pending(change: &ChangeRequest) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        code::CONFLICT,
        format!("change `{}` is already {:?}", change.id, change.status).to_lowercase(),
    )
    .with_details(json!({ "change": change }))
}

/// `POST …/changes/{id}/approve`: re-validates (references may have changed) and
/// applies against the change's base; a base that moved is a 409 and the change stays
/// pending.
pub async fn approve(
    State(ctl): State<AppState>,
    Extension(who): Extension<Principal>,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let (mut change, version) = load(&ctl, &project, &id).await?;
    if change.status != Status::Pending {
        return Err(not_pending(&change));
    }
    let bytes = docs::blob(&ctl.store, &change.sha256).await?;
    let content = if change.target.is_json() {
        Content::Json(serde_json::from_slice(&bytes).map_err(ApiError::internal)?)
    } else {
        Content::Bundle(bytes)
    };
    let prepared = prepare(&ctl, &project, &change.target, content).await?;
    let expected = change.base.map_or(Expected::Nothing, Expected::Revision);
    let (head, _) = docs::head(&ctl.store, &change.target.id(&project)).await?;
    // The change was made against its base; anything else now current is a conflict
    // (not a missing If-Match: the approver sends none).
    if head.as_ref().map(|h| h.number) != change.base {
        return Err(docs::conflict(&change.target.id(&project), head.as_ref()));
    }
    let next = head.as_ref().map_or(1, |h| h.number + 1);
    change.status = Status::Approved;
    change.decided_by = Some(who.subject.clone());
    change.decided = Some(ledger::now_rfc3339());
    change.revision = Some(next);
    let record = serde_json::to_vec(&change).map_err(ApiError::internal)?;
    let (revision, _) = apply(
        &ctl,
        Apply {
            project: &project,
            target: &change.target,
            expected,
            author: &change.author,
            message: change.message.clone(),
            rollback_of: change.rollback_of,
            change: Some(id.clone()),
            extra: vec![Op::Put {
                key: key(&project, &id),
                value: record,
            }],
            extra_guards: vec![Compare {
                key: key(&project, &id),
                version,
            }],
        },
        prepared,
    )
    .await?;
    Ok((
        StatusCode::OK,
        Json(json!({ "change": change, "revision": revision })),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RejectBody {
    reason: String,
}

pub async fn reject(
    State(ctl): State<AppState>,
    Extension(who): Extension<Principal>,
    Path((project, id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let body: RejectBody = super::json_body(&body)?;
    if body.reason.trim().is_empty() {
        return Err(ApiError::bad_request("a rejection needs a reason"));
    }
    let (mut change, version) = load(&ctl, &project, &id).await?;
    if change.status != Status::Pending {
        return Err(not_pending(&change));
    }
    change.status = Status::Rejected;
    change.decided_by = Some(who.subject.clone());
    change.decided = Some(ledger::now_rfc3339());
    change.reason = Some(body.reason.clone());
    let event = Event {
        actor: who.subject.clone(),
        action: format!("{}.reject", change.target.action()),
        target: change.target.id(&project),
        outcome: Outcome::Rejected,
        detail: json!({"change": id, "reason": body.reason}),
    };
    let value = serde_json::to_vec(&change).map_err(ApiError::internal)?;
    ledger::put_guarded(
        &ctl.store,
        &key(&project, &id),
        version,
        value,
        &event,
        &format!("change `{id}`"),
    )
    .await?;
    Ok(Json(json!({ "change": change })))
}
