//! Projects and gateway groups.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, body::Bytes};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::audit::{Event, Outcome};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::ledger;
use crate::model::{Group, Project, check_name, group_key, project_key};
use crate::records;
use crate::state::{AppState, Control};

pub async fn load_project(ctl: &Control, name: &str) -> ApiResult<(Project, u64)> {
    records::get(&ctl.store, &project_key(name))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("project `{name}`")))
}

pub async fn load_group(ctl: &Control, project: &str, group: &str) -> ApiResult<Group> {
    records::get(&ctl.store, &group_key(project, group))
        .await?
        .map(|(g, _)| g)
        .ok_or_else(|| ApiError::not_found(format!("group `{group}` of project `{project}`")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectBody {
    /// Pushes by policy authors need a platform admin's approval. Default: false.
    #[serde(default)]
    require_approval: bool,
}

/// `PUT /v1/projects/{project}`: creates or updates a project.
pub async fn put_project(
    State(ctl): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(project): Path<String>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    check_name("project", &project)?;
    let body: ProjectBody = super::json_body(&body)?;
    let existing: Option<(Project, u64)> = records::get(&ctl.store, &project_key(&project)).await?;
    let (status, version, created, created_by) = match existing {
        Some((p, version)) => (StatusCode::OK, version, p.created, p.created_by),
        None => (
            StatusCode::CREATED,
            0,
            ledger::now_rfc3339(),
            who.subject.clone(),
        ),
    };
    let record = Project {
        name: project.clone(),
        require_approval: body.require_approval,
        created,
        created_by,
    };
    let event = Event {
        actor: who.subject.clone(),
        action: "project.put".into(),
        target: project_key(&project),
        outcome: Outcome::Applied,
        detail: json!({"require_approval": record.require_approval}),
    };
    let value = serde_json::to_vec(&record).map_err(ApiError::internal)?;
    ledger::put_guarded(
        &ctl.store,
        &project_key(&project),
        version,
        value,
        &event,
        &format!("project `{project}`"),
    )
    .await?;
    Ok((status, Json(json!(record))))
}

pub async fn get_project(
    State(ctl): State<AppState>,
    Path(project): Path<String>,
) -> ApiResult<Json<Value>> {
    let (p, _) = load_project(&ctl, &project).await?;
    Ok(Json(json!(p)))
}

/// `GET /v1/projects`: the projects the caller can see.
pub async fn list_projects(
    State(ctl): State<AppState>,
    Extension(who): Extension<Principal>,
) -> ApiResult<Json<Value>> {
    let mut projects: Vec<Project> = records::list(&ctl.store, "projects/", 10_000).await?;
    projects.retain(|p| who.sees(&p.name));
    Ok(Json(json!({ "projects": projects })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupBody {
    /// `envoy`, `kong` or `apisix`. Default: `envoy`.
    #[serde(default = "default_host")]
    host: String,
}

fn default_host() -> String {
    "envoy".into()
}

/// `PUT /v1/projects/{project}/groups/{group}`.
pub async fn put_group(
    State(ctl): State<AppState>,
    Extension(who): Extension<Principal>,
    Path((project, group)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    check_name("group", &group)?;
    let body: GroupBody = super::json_body(&body)?;
    crate::validate::host_kind(&body.host).map_err(|e| ApiError::bad_request(e.to_string()))?;
    load_project(&ctl, &project).await?;
    let key = group_key(&project, &group);
    let existing: Option<(Group, u64)> = records::get(&ctl.store, &key).await?;
    let (status, version, created, created_by) = match existing {
        Some((g, version)) => (StatusCode::OK, version, g.created, g.created_by),
        None => (
            StatusCode::CREATED,
            0,
            ledger::now_rfc3339(),
            who.subject.clone(),
        ),
    };
    let record = Group {
        name: group.clone(),
        project: project.clone(),
        host: body.host,
        created,
        created_by,
    };
    let event = Event {
        actor: who.subject.clone(),
        action: "group.put".into(),
        target: key.clone(),
        outcome: Outcome::Applied,
        detail: json!({"host": record.host}),
    };
    let value = serde_json::to_vec(&record).map_err(ApiError::internal)?;
    ledger::put_guarded(
        &ctl.store,
        &key,
        version,
        value,
        &event,
        &format!("group `{group}`"),
    )
    .await?;
    Ok((status, Json(json!(record))))
}

pub async fn list_groups(
    State(ctl): State<AppState>,
    Path(project): Path<String>,
) -> ApiResult<Json<Value>> {
    load_project(&ctl, &project).await?;
    let groups: Vec<Group> =
        records::list(&ctl.store, &format!("groups/{project}/"), 10_000).await?;
    Ok(Json(json!({ "groups": groups })))
}

/// `GET /v1/projects/{project}/groups/{group}`: the group and its documents' current
/// revisions.
pub async fn get_group(
    State(ctl): State<AppState>,
    Path((project, group)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let g = load_group(&ctl, &project, &group).await?;
    let mut configs = serde_json::Map::new();
    for filter in tollgate_catalog::names() {
        let id = crate::model::Target::Config {
            group: group.clone(),
            filter: filter.into(),
        }
        .id(&project);
        if let (Some(head), _) = crate::docs::head(&ctl.store, &id).await? {
            configs.insert(filter.into(), json!(head));
        }
    }
    let bundle_id = crate::model::Target::Bundle {
        group: group.clone(),
    }
    .id(&project);
    let (bundle, _) = crate::docs::head(&ctl.store, &bundle_id).await?;
    Ok(Json(
        json!({ "group": g, "configs": configs, "bundle": bundle }),
    ))
}
