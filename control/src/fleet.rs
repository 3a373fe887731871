//! What gateways report: per gateway (Envoy's node id, or a pull client's gateway id)
//! and filter, the revision it runs and the last one it refused, with Envoy's or the
//! filter's reason; and the group's view over them (`GET …/groups/{g}/status`).
//!
//! Records live under [`QUIET_PREFIX`](crate::store::QUIET_PREFIX): a report wakes
//! no long poll or ECDS stream.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::model::Target;
use crate::state::{AppState, Control};
use crate::store::{Op, Txn};

/// How a gateway gets its documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// Envoy's ECDS stream.
    Ecds,
    /// The kit's pull client.
    Pull,
    /// The control service writes it through the host's admin API (APISIX).
    Admin,
}

/// A refused document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The revision it was, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<u64>,
    pub version: String,
    /// The gateway's reason (Envoy's `error_detail`, the filter's config error).
    pub detail: String,
    pub at: u64,
}

/// One filter on one gateway.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilterState {
    /// The revision it runs (acknowledged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<u64>,
    /// What exactly it runs (the resolved document's version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_at: Option<u64>,
    /// The last refusal, cleared when a later document is applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Failure>,
}

/// One gateway, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gateway {
    pub gateway: String,
    pub project: String,
    pub group: String,
    pub via: Via,
    /// An ECDS stream was open at the last contact (pull clients: always false).
    pub connected: bool,
    pub last_contact: u64,
    pub filters: BTreeMap<String, FilterState>,
}

/// What a gateway reports about a filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    Applied { revision: u64, version: String },
    Refused(Failure),
}

/// A gateway id as a key segment: at most 256 printable ASCII characters.
pub fn check_gateway_id(id: &str) -> Result<(), String> {
    if !tollgate_kit::pull::block::valid_gateway_id(id) {
        return Err(format!(
            "gateway id `{}`: use 1 to 256 printable ASCII characters",
            id.escape_default()
        ));
    }
    Ok(())
}

fn key(project: &str, group: &str, gateway: &str) -> String {
    format!("{}{project}/{group}/{gateway}", crate::store::QUIET_PREFIX)
}

/// Who is reporting.
#[derive(Debug, Clone, Copy)]
pub struct Reporter<'a> {
    pub project: &'a str,
    pub group: &'a str,
    pub gateway: &'a str,
    pub via: Via,
}

/// Applies `change` to the gateway's record (created on first contact), retrying
/// when another stream of the same gateway wrote in between (bounded).
pub async fn update(
    ctl: &Control,
    who: Reporter<'_>,
    change: impl Fn(&mut Gateway),
) -> ApiResult<()> {
    let key = key(who.project, who.group, who.gateway);
    for _ in 0..8 {
        let (mut record, version) = match crate::records::get::<Gateway>(&ctl.store, &key).await? {
            Some(found) => found,
            None => (
                Gateway {
                    gateway: who.gateway.into(),
                    project: who.project.into(),
                    group: who.group.into(),
                    via: who.via,
                    connected: false,
                    last_contact: 0,
                    filters: BTreeMap::new(),
                },
                0,
            ),
        };
        record.via = who.via;
        record.last_contact = crate::ledger::now_unix();
        change(&mut record);
        let value = serde_json::to_vec(&record).map_err(ApiError::internal)?;
        let txn = Txn::default().compare(key.clone(), version);
        let txn = Txn {
            ops: vec![Op::Put {
                key: key.clone(),
                value,
            }],
            ..txn
        };
        if ctl.store.txn(txn).await? {
            return Ok(());
        }
    }
    Err(ApiError::internal(format!(
        "the record of gateway `{}` kept changing",
        who.gateway
    )))
}

/// Records what a gateway said about `filter`.
pub fn apply_report(record: &mut Gateway, filter: &str, report: &Report) {
    let state = record.filters.entry(filter.into()).or_default();
    match report {
        Report::Applied { revision, version } => {
            state.revision = Some(*revision);
            state.version = Some(version.clone());
            state.applied_at = Some(crate::ledger::now_unix());
            state.error = None;
        }
        Report::Refused(failure) => state.error = Some(failure.clone()),
    }
}

/// A gateway's reason for refusing a config, with every secret the group's config
/// resolves to replaced by `<secret>`: a reason may quote what it refused, and
/// secrets never reach the fleet view.
pub async fn scrubbed(
    ctl: &Control,
    (project, group, filter): (&str, &str, &str),
    detail: &str,
) -> String {
    let id = Target::config_id(project, group, filter);
    let Ok((Some(head), _)) = crate::docs::head(&ctl.store, &id).await else {
        return detail.to_string();
    };
    match crate::api::distribution::resolve_revision(ctl, project, &head).await {
        Ok(resolved) => resolved.scrub(detail),
        // Cannot tell what is secret: keep nothing of the reason.
        Err(_) => "(reason withheld: the config's secrets could not be read to scrub it)".into(),
    }
}

/// Every gateway of a group.
pub async fn gateways(ctl: &Control, project: &str, group: &str) -> ApiResult<Vec<Gateway>> {
    let prefix = format!("{}{project}/{group}/", crate::store::QUIET_PREFIX);
    crate::records::list(&ctl.store, &prefix, 100_000).await
}

/// The group's current revision of each filter that has a config.
async fn current_revisions(
    ctl: &Control,
    project: &str,
    group: &str,
) -> ApiResult<BTreeMap<String, u64>> {
    let mut out = BTreeMap::new();
    for filter in tollgate_catalog::names() {
        let id = Target::config_id(project, group, filter);
        if let (Some(head), _) = crate::docs::head(&ctl.store, &id).await? {
            out.insert(filter.to_string(), head.number);
        }
    }
    Ok(out)
}

/// The group's view: each gateway, whether it runs the current revision of each
/// filter, what it refused and why, and whether it is stale.
pub fn view(
    current: &BTreeMap<String, u64>,
    gateways: &[Gateway],
    now: u64,
    stale_after: Duration,
) -> Value {
    let (mut up_to_date, mut failed, mut stale) = (0, 0, 0);
    let rows: Vec<Value> = gateways
        .iter()
        .map(|g| {
            // Open streams refresh their contact: a "connected" gateway unheard of past
            // the limit was left so by a replica that died.
            let is_stale = now.saturating_sub(g.last_contact) > stale_after.as_secs();
            let mut behind = false;
            let mut refused = false;
            let filters: BTreeMap<&str, Value> = current
                .iter()
                .map(|(filter, want)| {
                    let state = g.filters.get(filter).cloned().unwrap_or_default();
                    let is_current = state.revision == Some(*want);
                    behind |= !is_current;
                    refused |= state.error.is_some();
                    (
                        filter.as_str(),
                        json!({
                            "revision": state.revision,
                            "current": is_current,
                            "version": state.version,
                            "applied_at": state.applied_at,
                            "error": state.error,
                        }),
                    )
                })
                .collect();
            up_to_date += usize::from(!behind && !is_stale);
            failed += usize::from(refused);
            stale += usize::from(is_stale);
            json!({
                "gateway": g.gateway,
                "via": g.via,
                "connected": g.connected,
                "last_contact": g.last_contact,
                "stale": is_stale,
                "up_to_date": !behind,
                "filters": filters,
            })
        })
        .collect();
    json!({
        "revisions": current,
        "summary": {
            "gateways": gateways.len(),
            "up_to_date": up_to_date,
            "failed": failed,
            "stale": stale,
        },
        "gateways": rows,
    })
}

/// `GET /v1/projects/{project}/groups/{group}/status`.
pub async fn status(
    State(ctl): State<AppState>,
    Path((project, group)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    crate::api::projects::load_group(&ctl, &project, &group).await?;
    let current = current_revisions(&ctl, &project, &group).await?;
    let gateways = gateways(&ctl, &project, &group).await?;
    let mut body = view(
        &current,
        &gateways,
        crate::ledger::now_unix(),
        ctl.settings.ecds.stale_after,
    );
    if let Some(o) = body.as_object_mut() {
        o.insert("project".into(), project.into());
        o.insert("group".into(), group.into());
    }
    Ok(Json(body))
}

#[cfg(test)]
#[path = "fleet_tests.rs"]
mod tests;
