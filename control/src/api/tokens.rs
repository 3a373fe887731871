//! API tokens (issued by an admin, shown once), sessions (`POST /v1/login`), `whoami`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, body::Bytes};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::audit::{Event, Outcome};
use crate::auth::{self, Grant, Principal, TokenRecord, token_key};
use crate::error::{ApiError, ApiResult};
use crate::ledger;
use crate::signing::{self, Ring};
use crate::state::{AppState, Control};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// Who uses it (a person, a CI job, a gateway group).
    subject: String,
    grants: Vec<Grant>,
    /// Lifetime; absent: until revoked.
    #[serde(default)]
    expires_in_seconds: Option<u64>,
}

/// Stores a minted token; the audit record names it, never its secret.
pub async fn store_token(ctl: &Control, record: &TokenRecord, actor: &str) -> ApiResult<()> {
    let event = Event {
        actor: actor.into(),
        action: "token.create".into(),
        target: token_key(&record.id),
        outcome: Outcome::Applied,
        detail: json!({"subject": record.subject, "grants": record.grants, "expires": record.expires}),
    };
    let value = serde_json::to_vec(record).map_err(ApiError::internal)?;
    ledger::put_guarded(
        &ctl.store,
        &token_key(&record.id),
        0,
        value,
        &event,
        "a new token's id",
    )
    .await
}

pub async fn create(
    State(ctl): State<AppState>,
    Extension(who): Extension<Principal>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let body: NewToken = super::json_body(&body)?;
    if body.subject.trim().is_empty() || body.subject.len() > 200 {
        return Err(ApiError::bad_request(
            "`subject` must be 1 to 200 characters",
        ));
    }
    auth::check_grants(&body.grants)?;
    let expires = body
        .expires_in_seconds
        .map(|s| ledger::now_unix().saturating_add(s));
    let (record, secret) = auth::mint(&body.subject, body.grants, expires, &who.subject);
    store_token(&ctl, &record, &who.subject).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "token": secret, "record": record.public() })),
    ))
}

pub async fn list(State(ctl): State<AppState>) -> ApiResult<Json<Value>> {
    let records: Vec<TokenRecord> = crate::records::list(&ctl.store, "tokens/", 100_000).await?;
    let tokens: Vec<Value> = records.iter().map(TokenRecord::public).collect();
    Ok(Json(json!({ "tokens": tokens })))
}

pub async fn revoke(
    State(ctl): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let (mut record, version): (TokenRecord, u64) =
        crate::records::get(&ctl.store, &token_key(&id))
            .await?
            .ok_or_else(|| ApiError::not_found(format!("token `{id}`")))?;
    if record.revoked.is_some() {
        return Ok(Json(json!({ "token": record.public() })));
    }
    record.revoked = Some(ledger::now_unix());
    let event = Event {
        actor: who.subject.clone(),
        action: "token.revoke".into(),
        target: token_key(&id),
        outcome: Outcome::Applied,
        detail: json!({"subject": record.subject}),
    };
    let value = serde_json::to_vec(&record).map_err(ApiError::internal)?;
    ledger::put_guarded(
        &ctl.store,
        &token_key(&id),
        version,
        value,
        &event,
        &format!("token `{id}`"),
    )
    .await?;
    Ok(Json(json!({ "token": record.public() })))
}

/// `POST /v1/login`: a short-lived session token for the caller's API token.
pub async fn login(
    State(ctl): State<AppState>,
    Extension(who): Extension<Principal>,
) -> ApiResult<Json<Value>> {
    let signer = signing::signer(&ctl.store, &ctl.master, Ring::Session).await?;
    let claims = auth::session_claims(&who, ctl.settings.session_ttl_seconds);
    let token = signing::sign_claims(&signer, &json!(claims))?;
    Ok(Json(
        json!({ "token": token, "expires": claims.exp, "subject": who.subject, "grants": who.grants }),
    ))
}

pub async fn whoami(Extension(who): Extension<Principal>) -> Json<Value> {
    Json(json!({ "subject": who.subject, "token": who.token_id, "grants": who.grants }))
}
