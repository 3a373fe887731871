//! Secrets: set (a new version) and list (metadata only). No route returns a value.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, body::Bytes};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::projects::load_project;
use crate::auth::Principal;
use crate::error::ApiResult;
use crate::secrets;
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretBody {
    /// A string, or a JSON value such as a JWK.
    value: Value,
}

pub async fn put(
    State(ctl): State<AppState>,
    Extension(who): Extension<Principal>,
    Path((project, name)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    crate::model::check_name("secret", &name)?;
    load_project(&ctl, &project).await?;
    let body: SecretBody = super::json_body(&body)?;
    let record = secrets::set(&ctl, &project, &name, &body.value, &who.subject).await?;
    let status = if record.versions.len() == 1 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(json!({ "secret": record.metadata(ctl.settings.secret_grace_seconds) })),
    ))
}

pub async fn list(
    State(ctl): State<AppState>,
    Path(project): Path<String>,
) -> ApiResult<Json<Value>> {
    load_project(&ctl, &project).await?;
    let grace = ctl.settings.secret_grace_seconds;
    let list: Vec<Value> = secrets::list(&ctl, &project)
        .await?
        .iter()
        .map(|r| r.metadata(grace))
        .collect();
    Ok(Json(json!({ "secrets": list })))
}
