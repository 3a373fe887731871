//! APISIX by push: its wasm host has no timers and no shared data, so its filters
//! cannot pull. The control service writes a group's resolved configs into APISIX
//! through its Admin API instead: one object holding every Tollgate plugin of the group
//! (`tollgate-<filter>: {"conf": "<resolved JSON>"}`), as a plugin config, a global
//! rule, or a route's plugins. APISIX stores it in its etcd and every APISIX node
//! applies it without a restart.
//!
//! * `PUT /v1/projects/{p}/groups/{g}/apisix` (platform admins) names the Admin API,
//!   its key (a secret reference, never a literal) and where the plugins go.
//! * A follower pushes whenever what the group would send changes (a revision, a
//!   rotated secret), and `POST …/apisix/sync` pushes now. Each outcome is in the fleet
//!   view: the revisions APISIX took, or its `error_msg`.

use std::collections::BTreeMap;
use std::time::Duration;

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
use crate::fleet::{self, Failure, Report, Reporter, Via};
use crate::model::Target;
use crate::state::{AppState, Control};

/// Where the group's plugins go in APISIX.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Attach {
    /// `PUT /apisix/admin/plugin_configs/{id}`: routes bind it with `plugin_config_id`.
    PluginConfig(String),
    /// `PUT /apisix/admin/global_rules/{id}`: every route.
    GlobalRule(String),
    /// `PATCH /apisix/admin/routes/{id}` with `plugins`: one route (its other plugins
    /// are replaced by the group's).
    Route(String),
}

/// A group's APISIX Admin API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApisixTarget {
    /// `http://127.0.0.1:9180` (APISIX 3's admin listener).
    pub admin_url: String,
    /// The Admin API key, as a secret of the project: `{"secret": "apisix-admin"}`.
    pub admin_key: Value,
    pub attach: Attach,
}

fn key(project: &str, group: &str) -> String {
    format!("apisix/{project}/{group}")
}

/// The name APISIX's `config.yaml` gives a filter's wasm plugin (`deploy/*/apisix.yaml`).
pub fn plugin_name(filter: &str) -> String {
    format!("tollgate-{filter}")
}

/// An Admin API request: method, path under the admin URL, JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminRequest {
    pub method: &'static str,
    pub path: String,
    pub body: Value,
}

/// One filter's resolved config as it goes to APISIX.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub filter: String,
    pub revision: u64,
    /// The resolved config's digest (what the fleet view names).
    pub version: String,
    pub json: String,
}

/// The request that makes APISIX run `configs` (pure: the contract test checks it).
pub fn admin_request(
    attach: &Attach,
    (project, group): (&str, &str),
    configs: &[Resolved],
) -> AdminRequest {
    let plugins: serde_json::Map<String, Value> = configs
        .iter()
        .map(|c| (plugin_name(&c.filter), json!({ "conf": c.json })))
        .collect();
    let revisions = configs
        .iter()
        .map(|c| format!("{} r{}", c.filter, c.revision))
        .collect::<Vec<_>>()
        .join(", ");
    let desc = format!("tollgate {project}/{group}: {revisions}");
    match attach {
        Attach::PluginConfig(id) => AdminRequest {
            method: "PUT",
            path: format!("/apisix/admin/plugin_configs/{id}"),
            body: json!({ "desc": desc, "plugins": plugins }),
        },
        Attach::GlobalRule(id) => AdminRequest {
            method: "PUT",
            path: format!("/apisix/admin/global_rules/{id}"),
            body: json!({ "plugins": plugins }),
        },
        Attach::Route(id) => AdminRequest {
            method: "PATCH",
            path: format!("/apisix/admin/routes/{id}"),
            body: json!({ "plugins": plugins }),
        },
    }
}

fn check_target(t: &ApisixTarget) -> ApiResult<()> {
    let url = t.admin_url.trim_end_matches('/');
    let host = url.strip_prefix("http://").unwrap_or("");
    if host.is_empty() || host.contains('/') {
        return Err(ApiError::bad_request(format!(
            "admin_url `{}`: expected http://host:port",
            t.admin_url
        )));
    }
    let is_reference = t.admin_key.as_object().is_some_and(|o| {
        o.get("secret").is_some_and(Value::is_string)
            && o.keys().all(|k| k == "secret" || k == "version")
    });
    if !is_reference {
        return Err(ApiError::bad_request(
            "admin_key: give a secret reference ({\"secret\": \"name\"}); the key is never stored or shown in clear",
        ));
    }
    let id = match &t.attach {
        Attach::PluginConfig(id) | Attach::GlobalRule(id) | Attach::Route(id) => id,
    };
    if id.is_empty()
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    {
        return Err(ApiError::bad_request(format!(
            "attach: the id `{id}` must be letters, digits, `-`, `_` or `.`"
        )));
    }
    Ok(())
}

/// `PUT /v1/projects/{project}/groups/{group}/apisix`.
pub async fn put(
    State(ctl): State<AppState>,
    Extension(who): Extension<Principal>,
    Path((project, group)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let target: ApisixTarget = crate::api::json_body(&body)?;
    check_target(&target)?;
    let g = crate::api::projects::load_group(&ctl, &project, &group).await?;
    if g.host != "apisix" {
        return Err(ApiError::bad_request(format!(
            "group `{group}` runs {}: the Admin API push is for APISIX groups",
            g.host
        )));
    }
    // The key must resolve now, not at the first push.
    crate::resolve::resolve(&ctl, &project, &target.admin_key).await?;
    let key = key(&project, &group);
    let event = Event {
        actor: who.subject.clone(),
        action: "apisix.put".into(),
        target: key.clone(),
        outcome: Outcome::Applied,
        detail: json!({"admin_url": target.admin_url, "attach": target.attach}),
    };
    let status =
        crate::ledger::put_record(&ctl.store, &key, &target, &event, "the APISIX target").await?;
    Ok((status, Json(json!(target))))
}

/// `GET /v1/projects/{project}/groups/{group}/apisix`.
pub async fn get(
    State(ctl): State<AppState>,
    Path((project, group)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let (target, _) = crate::records::get::<ApisixTarget>(&ctl.store, &key(&project, &group))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no APISIX target for group `{group}`")))?;
    Ok(Json(json!(target)))
}

/// Every filter config of the group, resolved.
async fn resolved_configs(ctl: &Control, project: &str, group: &str) -> ApiResult<Vec<Resolved>> {
    let mut out = Vec::new();
    for filter in tollgate_catalog::names() {
        let id = Target::config_id(project, group, filter);
        let (Some(head), _) = crate::docs::head(&ctl.store, &id).await? else {
            continue;
        };
        let body = crate::api::distribution::resolved_body(ctl, project, &head).await?;
        let json = String::from_utf8(body).map_err(ApiError::internal)?;
        out.push(Resolved {
            filter: filter.into(),
            revision: head.number,
            version: crate::docs::digest(json.as_bytes()),
            json,
        });
    }
    Ok(out)
}

/// The gateway id APISIX has in the fleet view: its Admin API.
fn gateway_id(target: &ApisixTarget) -> String {
    format!(
        "apisix@{}",
        target
            .admin_url
            .trim_start_matches("http://")
            .trim_end_matches('/')
    )
}

/// What one push did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pushed {
    pub status: u16,
    /// APISIX's `error_msg`, when it refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub revisions: BTreeMap<String, u64>,
}

/// Pushes the group's configs to its APISIX now and records the outcome.
pub async fn sync(ctl: &Control, project: &str, group: &str) -> ApiResult<Pushed> {
    let (target, _) = crate::records::get::<ApisixTarget>(&ctl.store, &key(project, group))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no APISIX target for group `{group}`")))?;
    let configs = resolved_configs(ctl, project, group).await?;
    let request = admin_request(&target.attach, (project, group), &configs);
    let admin_key = crate::resolve::resolve(ctl, project, &target.admin_key).await?;
    let admin_key = admin_key
        .value
        .as_str()
        .ok_or_else(|| ApiError::bad_request("admin_key: the secret must be a string"))?
        .to_string();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(ApiError::internal)?;
    let method =
        reqwest::Method::from_bytes(request.method.as_bytes()).map_err(ApiError::internal)?;
    let url = format!("{}{}", target.admin_url.trim_end_matches('/'), request.path);
    let outcome = client
        .request(method, &url)
        .header("x-api-key", admin_key)
        .json(&request.body)
        .send()
        .await;
    let (status, error) = match outcome {
        Ok(r) if r.status().is_success() => (r.status().as_u16(), None),
        Ok(r) => {
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            let message = body
                .get("error_msg")
                .and_then(Value::as_str)
                .map_or_else(|| format!("APISIX answered {status}"), str::to_string);
            (status, Some(message))
        }
        // Never the URL's query or the key: reqwest's error names the URL only.
        Err(e) => (
            0,
            Some(format!("the Admin API did not answer: {}", e.without_url())),
        ),
    };
    let reporter = Reporter {
        project,
        group,
        gateway: &gateway_id(&target),
        via: Via::Admin,
    };
    let reports: Vec<(String, Report)> = configs
        .iter()
        .map(|c| {
            let report = match &error {
                None => Report::Applied {
                    revision: c.revision,
                    version: c.version.clone(),
                },
                Some(detail) => Report::Refused(Failure {
                    revision: Some(c.revision),
                    version: c.version.clone(),
                    detail: detail.clone(),
                    at: crate::ledger::now_unix(),
                }),
            };
            (c.filter.clone(), report)
        })
        .collect();
    fleet::update(ctl, reporter, |g| {
        for (filter, report) in &reports {
            fleet::apply_report(g, filter, report);
        }
    })
    .await?;
    Ok(Pushed {
        status,
        error,
        revisions: configs
            .iter()
            .map(|c| (c.filter.clone(), c.revision))
            .collect(),
    })
}

/// `POST /v1/projects/{project}/groups/{group}/apisix/sync`.
pub async fn sync_now(
    State(ctl): State<AppState>,
    Path((project, group)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let pushed = sync(&ctl, &project, &group).await?;
    Ok(Json(json!(pushed)))
}

/// Pushes every APISIX group whose configs changed since its last successful push,
/// on every change notice and every `period` (which retries failed pushes), until the
/// service shuts down.
pub async fn follow(ctl: AppState, period: Duration) {
    let mut sent: BTreeMap<String, String> = BTreeMap::new();
    let mut shutdown = ctl.shutting_down();
    let mut changed = Box::pin(ctl.store.changed("", period));
    loop {
        let targets = ctl.store.range("apisix/", 10_000).await.unwrap_or_default();
        for (k, _) in targets {
            let Some((project, group)) = k.strip_prefix("apisix/").and_then(|r| r.split_once('/'))
            else {
                continue;
            };
            let want = match resolved_configs(&ctl, project, group).await {
                Ok(configs) => configs
                    .iter()
                    .map(|c| format!("{}={}", c.filter, c.version))
                    .collect::<Vec<_>>()
                    .join(","),
                Err(_) => continue,
            };
            let want = format!(
                "{want}|{}",
                ctl.store
                    .get(&k)
                    .await
                    .ok()
                    .flatten()
                    .map_or(0, |e| e.version)
            );
            if sent.get(&k) == Some(&want) {
                continue;
            }
            match sync(&ctl, project, group).await {
                // Done, or refused (4xx): not sent again until it changes. Anything
                // else (APISIX down, 5xx) is retried on the next turn.
                Ok(p) if p.error.is_none() || (400..500).contains(&p.status) => {
                    if let Some(e) = &p.error {
                        tracing::warn!(project, group, error = e, "APISIX refused the push");
                    }
                    sent.insert(k.clone(), want);
                }
                Ok(p) => tracing::warn!(project, group, error = p.error, "APISIX refused the push"),
                Err(e) => tracing::warn!(project, group, "APISIX push: {}", e.message),
            }
        }
        tokio::select! {
            () = &mut changed => changed = Box::pin(ctl.store.changed("", period)),
            _ = shutdown.changed() => return,
        }
    }
}
