//! Secrets: values configs reference by name (`{"secret": "hcp-jwe-key"}`), sealed
//! under the master key, never returned by a read API. Setting an existing name adds a
//! version; the previous ones stay resolvable (pinned with `"version": N`) for the
//! grace period, so gateways can roll over.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::audit::{Event, Outcome};
use crate::error::{ApiError, ApiResult, code};
use crate::ledger::{self, CommitError};
use crate::state::Control;
use crate::store::{Compare, Op};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SecretVersion {
    pub version: u64,
    pub created: u64,
    pub created_by: String,
    #[serde(default)]
    pub retired: Option<u64>,
    /// `nonce || ciphertext` under the master key, base64.
    pub sealed: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SecretRecord {
    pub name: String,
    pub versions: Vec<SecretVersion>,
}

pub fn key(project: &str, name: &str) -> String {
    format!("secrets/{project}/{name}")
}

fn bound_to(project: &str, name: &str, version: u64) -> String {
    format!("secrets/{project}/{name}/v{version}")
}

impl SecretRecord {
    /// What read APIs show: versions and dates, never values.
    pub fn metadata(&self, grace: u64) -> Value {
        json!({
            "name": self.name,
            "versions": self.versions.iter().map(|v| json!({
                "version": v.version,
                "created": v.created,
                "created_by": v.created_by,
                "current": v.retired.is_none(),
                "usable_until": v.retired.map(|r| r.saturating_add(grace)),
            })).collect::<Vec<_>>(),
        })
    }
}

pub async fn load(
    ctl: &Control,
    project: &str,
    name: &str,
) -> ApiResult<Option<(SecretRecord, u64)>> {
    crate::records::get(&ctl.store, &key(project, name)).await
}

pub async fn list(ctl: &Control, project: &str) -> ApiResult<Vec<SecretRecord>> {
    crate::records::list(&ctl.store, &format!("secrets/{project}/"), 10_000).await
}

/// Adds a version of `name` holding `value` (a JSON value: a string or a JWK object).
pub async fn set(
    ctl: &Control,
    project: &str,
    name: &str,
    value: &Value,
    actor: &str,
) -> ApiResult<SecretRecord> {
    let plaintext = serde_json::to_vec(value).map_err(ApiError::internal)?;
    for _ in 0..8 {
        let (mut record, version) = load(ctl, project, name).await?.unwrap_or_else(|| {
            (
                SecretRecord {
                    name: name.into(),
                    versions: Vec::new(),
                },
                0,
            )
        });
        let now = ledger::now_unix();
        let next = record.versions.last().map_or(1, |v| v.version + 1);
        for v in &mut record.versions {
            v.retired.get_or_insert(now);
        }
        let sealed = ctl
            .master
            .seal(&plaintext, &bound_to(project, name, next))
            .map_err(ApiError::internal)?;
        record.versions.push(SecretVersion {
            version: next,
            created: now,
            created_by: actor.into(),
            retired: None,
            sealed: STANDARD.encode(sealed),
        });
        // Versions past their grace can never resolve again: drop them.
        let grace = ctl.settings.secret_grace_seconds;
        record
            .versions
            .retain(|v| v.retired.is_none_or(|r| r.saturating_add(grace) > now));
        let event = Event {
            actor: actor.into(),
            action: "secret.set".into(),
            target: key(project, name),
            outcome: Outcome::Applied,
            detail: json!({ "version": next }),
        };
        let guard = [Compare {
            key: key(project, name),
            version,
        }];
        let ops = [Op::Put {
            key: key(project, name),
            value: serde_json::to_vec(&record).map_err(ApiError::internal)?,
        }];
        match ledger::commit(&ctl.store, &guard, &ops, &event).await {
            Ok(_) => return Ok(record),
            Err(CommitError::Conflict) => continue,
            Err(CommitError::Store(e)) => return Err(e.into()),
        }
    }
    Err(ApiError::new(
        axum::http::StatusCode::CONFLICT,
        code::CONFLICT,
        format!("secret `{name}` is being changed concurrently; try again"),
    ))
}

/// The value of `name` (its current version, or `version` while it is usable).
pub async fn resolve(
    ctl: &Control,
    project: &str,
    name: &str,
    version: Option<u64>,
    at: &str,
) -> ApiResult<Value> {
    let missing = |why: String| {
        ApiError::unprocessable(code::MISSING_REFERENCE, format!("{at}: {why}"))
            .with_details(json!({ "path": at, "secret": name }))
    };
    let Some((record, _)) = load(ctl, project, name).await? else {
        return Err(missing(format!(
            "secret `{name}` does not exist in project `{project}`"
        )));
    };
    let now = ledger::now_unix();
    let grace = ctl.settings.secret_grace_seconds;
    let chosen = match version {
        None => record.versions.iter().find(|v| v.retired.is_none()),
        Some(n) => record.versions.iter().find(|v| v.version == n),
    };
    let Some(chosen) = chosen.filter(|v| v.retired.is_none_or(|r| r.saturating_add(grace) > now))
    else {
        return Err(missing(format!(
            "secret `{name}` has no usable version{}",
            version.map(|n| format!(" {n}")).unwrap_or_default()
        )));
    };
    let sealed = STANDARD
        .decode(&chosen.sealed)
        .map_err(ApiError::internal)?;
    let plain = ctl
        .master
        .open(&sealed, &bound_to(project, name, chosen.version))
        .map_err(ApiError::internal)?;
    serde_json::from_slice(&plain).map_err(ApiError::internal)
}
