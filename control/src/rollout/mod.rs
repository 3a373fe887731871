//! Staged rollouts: with a group's rollout policy, a new revision of a filter config
//! goes to the policy's canary gateways first. The others keep the last promoted
//! revision (ECDS serves each gateway its own). After the bake time, if every canary
//! applied it and its error rate (its own counters, [`crate::signals`]) did not rise
//! past the margin, the revision is promoted to the whole group. A canary that refuses
//! it (NACK) or whose errors rise rolls it back: a new revision with the promoted
//! content, recorded in the audit log with the reason.
//!
//! Records: `rollout-policy/<project>/<group>` (the policy) and
//! `rollout/<project>/<group>/<filter>` (what is promoted, what bakes).

pub mod controller;
pub mod decide;

use axum::Extension;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::audit::{Event, Outcome};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::model::Target;
use crate::state::{AppState, Control};

fn default_bake() -> u64 {
    300
}
fn default_rise() -> f64 {
    0.05
}
fn default_min_requests() -> u32 {
    20
}

/// A group's rollout policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// The canary gateways (node ids): they get a new revision first.
    pub canary: Vec<String>,
    /// How long canaries run it before it is promoted. Default 300.
    #[serde(default = "default_bake")]
    pub bake_seconds: u64,
    /// How far a canary's error rate (5xx and denials per request) may rise over its
    /// rate before the rollout, in parts of one. Default 0.05 (5 points).
    #[serde(default = "default_rise")]
    pub max_error_rise: f64,
    /// Requests a canary must serve before its rate counts. Default 20.
    #[serde(default = "default_min_requests")]
    pub min_requests: u32,
    /// Promote only after each canary served `min_requests` under the new revision.
    /// Default false: a quiet canary does not hold a rollout forever.
    #[serde(default)]
    pub require_traffic: bool,
}

/// Where one filter's rollout stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// No revision is baking.
    Idle,
    Baking,
}

/// One filter's rollout, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rollout {
    /// What gateways outside the canary run.
    pub promoted: u64,
    pub phase: Phase,
    /// The revision baking on the canaries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate: Option<u64>,
    /// When it began baking (Unix seconds).
    #[serde(default)]
    pub started: u64,
    /// The last decision's reason or progress.
    #[serde(default)]
    pub note: String,
    /// The last finished rollouts, newest first (at most 20).
    #[serde(default)]
    pub history: Vec<Value>,
}

impl Rollout {
    /// Nothing baking; `revision` is what the group runs.
    pub fn promoted(revision: u64) -> Self {
        Self {
            promoted: revision,
            phase: Phase::Idle,
            candidate: None,
            started: 0,
            note: String::new(),
            history: Vec::new(),
        }
    }
}

pub fn policy_key(project: &str, group: &str) -> String {
    format!("rollout-policy/{project}/{group}")
}

pub fn state_key(project: &str, group: &str, filter: &str) -> String {
    format!("rollout/{project}/{group}/{filter}")
}

fn check_policy(p: &Policy) -> ApiResult<()> {
    if p.canary.is_empty() {
        return Err(ApiError::bad_request("canary: name at least one gateway"));
    }
    for id in &p.canary {
        crate::fleet::check_gateway_id(id).map_err(ApiError::bad_request)?;
    }
    if !(0.0..=1.0).contains(&p.max_error_rise) {
        return Err(ApiError::bad_request("max_error_rise: between 0 and 1"));
    }
    Ok(())
}

/// `PUT /v1/projects/{project}/groups/{group}/rollout-policy`. Each filter's current
/// revision becomes its promoted one.
pub async fn put_policy(
    State(ctl): State<AppState>,
    Extension(who): Extension<Principal>,
    Path((project, group)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let policy: Policy = crate::api::json_body(&body)?;
    check_policy(&policy)?;
    crate::api::projects::load_group(&ctl, &project, &group).await?;
    for filter in tollgate_catalog::names() {
        let key = state_key(&project, &group, filter);
        if ctl.store.get(&key).await?.is_some() {
            continue;
        }
        let id = Target::config_id(&project, &group, filter);
        if let (Some(head), _) = crate::docs::head(&ctl.store, &id).await? {
            let state = Rollout::promoted(head.number);
            let value = serde_json::to_vec(&state).map_err(ApiError::internal)?;
            ctl.store
                .txn(
                    crate::store::Txn::default()
                        .compare(key.clone(), 0)
                        .put(key, value),
                )
                .await?;
        }
    }
    let key = policy_key(&project, &group);
    let event = Event {
        actor: who.subject.clone(),
        action: "rollout.policy".into(),
        target: key.clone(),
        outcome: Outcome::Applied,
        detail: json!(policy),
    };
    let status =
        crate::ledger::put_record(&ctl.store, &key, &policy, &event, "the rollout policy").await?;
    Ok((status, Json(json!(policy))))
}

pub async fn policy(ctl: &Control, project: &str, group: &str) -> ApiResult<Option<Policy>> {
    Ok(crate::records::get(&ctl.store, &policy_key(project, group))
        .await?
        .map(|(p, _)| p))
}

pub async fn state(
    ctl: &Control,
    project: &str,
    group: &str,
    filter: &str,
) -> ApiResult<Option<(Rollout, u64)>> {
    crate::records::get(&ctl.store, &state_key(project, group, filter)).await
}

/// The revision `gateway` should run of a filter whose head is `head`: the head for
/// canaries and groups without a policy, else the promoted one.
pub async fn revision_for(
    ctl: &Control,
    (project, group, filter): (&str, &str, &str),
    gateway: &str,
    head: u64,
) -> ApiResult<u64> {
    let Some(policy) = policy(ctl, project, group).await? else {
        return Ok(head);
    };
    if policy.canary.iter().any(|c| c == gateway) {
        return Ok(head);
    }
    Ok(state(ctl, project, group, filter)
        .await?
        .map_or(head, |(s, _)| s.promoted.min(head)))
}

/// `GET /v1/projects/{project}/groups/{group}/rollout`: the policy and each filter's
/// rollout.
pub async fn get(
    State(ctl): State<AppState>,
    Path((project, group)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    crate::api::projects::load_group(&ctl, &project, &group).await?;
    let policy = policy(&ctl, &project, &group).await?;
    let mut filters = serde_json::Map::new();
    for filter in tollgate_catalog::names() {
        if let Some((s, _)) = state(&ctl, &project, &group, filter).await? {
            filters.insert(filter.into(), json!(s));
        }
    }
    Ok(Json(json!({"policy": policy, "filters": filters})))
}
