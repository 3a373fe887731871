//! Validation before anything is stored, with the filters' own code (one definition of
//! "valid"): configs through the filter catalog for the group's host, Rego bundles
//! compiled by regorus with their `test_*` rules run by rego-authz's runner (the same
//! one `tollgate validate` and `tollgate policy test` use), JWKS sets by jwt-auth.

use serde_json::{Value, json};
use tollgate_rego_authz::bundle::{Bundle, Files, Limits, SIGNATURES_FILE};
use tollgate_rego_authz::runner::{self, TestResult};

use crate::error::{ApiError, ApiResult, code};
use crate::model::Group;
use crate::resolve;
use crate::state::Control;

/// What passed validation reports.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Checked {
    pub warnings: Vec<String>,
    pub tests: Vec<Value>,
}

/// How long one policy test may run here.
const TEST_BUDGET: std::time::Duration = std::time::Duration::from_secs(5);

fn tests_json(results: &[TestResult]) -> Vec<Value> {
    results
        .iter()
        .map(|r| {
            json!({
                "name": r.name,
                "passed": r.failure.is_none(),
                "failure": r.failure,
                "micros": u64::try_from(r.duration.as_micros()).unwrap_or(u64::MAX),
            })
        })
        .collect()
}

fn failed_tests(results: &[TestResult]) -> ApiResult<()> {
    let failed: Vec<&TestResult> = results.iter().filter(|r| r.failure.is_some()).collect();
    if failed.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = failed
        .iter()
        .map(|r| format!("{}: {}", r.name, r.failure.as_deref().unwrap_or("")))
        .collect();
    Err(ApiError::unprocessable(
        code::POLICY_TESTS_FAILED,
        format!(
            "{} of {} policy tests failed: {}",
            failed.len(),
            results.len(),
            names.join("; ")
        ),
    )
    .with_details(json!({ "tests": tests_json(results) })))
}

fn host_kind(name: &str) -> ApiResult<tollgate_kit::HostKind> {
    crate::validate::host_kind(name).map_err(|e| ApiError::bad_request(e.to_string()))
}

/// Checks a filter config as the group's gateways will load it.
pub async fn config(
    ctl: &Control,
    project: &str,
    group: &Group,
    filter: &str,
    value: &Value,
) -> ApiResult<Checked> {
    let Some(entry) = tollgate_catalog::find(filter) else {
        return Err(ApiError::not_found(format!(
            "filter `{filter}` (known: {})",
            tollgate_catalog::names().collect::<Vec<_>>().join(", ")
        )));
    };
    let host = host_kind(&group.host)?;
    let resolved = resolve::resolve(ctl, project, value).await?;
    let bytes = serde_json::to_vec(&resolved.value).map_err(ApiError::internal)?;
    let is_rego = filter == "rego-authz";
    let outcome = tokio::task::spawn_blocking(move || {
        let warnings = entry.check(&bytes, host);
        let tests = match &warnings {
            Ok(_) if is_rego => Some(runner::check_config(&bytes)),
            _ => None,
        };
        (warnings, tests)
    })
    .await
    .map_err(ApiError::internal)?;
    let warnings = match outcome.0 {
        Ok(w) => w.iter().map(|w| resolved.scrub(w)).collect(),
        Err(e) => {
            return Err(ApiError::unprocessable(
                code::INVALID_CONFIG,
                resolved.scrub(&e.to_string()),
            )
            .with_details(json!({ "path": e.path, "filter": filter, "host": group.host })));
        }
    };
    let tests = match outcome.1 {
        None => Vec::new(),
        Some(Err(e)) => {
            return Err(ApiError::unprocessable(
                code::INVALID_CONFIG,
                resolved.scrub(&e),
            ));
        }
        Some(Ok(report)) => {
            failed_tests(&report.results)?;
            tests_json(&report.results)
        }
    };
    Ok(Checked { warnings, tests })
}

/// Checks a JWKS set with jwt-auth's parser (weak keys refused, as in a config).
pub fn jwks(value: &Value) -> ApiResult<Checked> {
    let bytes = serde_json::to_vec(value).map_err(ApiError::internal)?;
    tollgate_jwt_auth::jwks::KeySet::from_config_jwks(&bytes)
        .map_err(|e| ApiError::unprocessable(code::INVALID_CONFIG, format!("JWKS: {e}")))?;
    Ok(Checked::default())
}

/// A bundle read, compiled and tested: its files (without any signature, which is ours
/// to make), the canonical archive of them, and the report.
pub struct CheckedBundle {
    pub files: Files,
    pub canonical: Vec<u8>,
    pub revision: String,
    pub checked: Checked,
}

/// Reads and checks a pushed `.tar.gz` (bounded: a hostile archive costs an error).
pub async fn bundle(bytes: Vec<u8>) -> ApiResult<CheckedBundle> {
    tokio::task::spawn_blocking(move || bundle_blocking(&bytes))
        .await
        .map_err(ApiError::internal)?
}

fn invalid_bundle(message: impl Into<String>) -> ApiError {
    ApiError::unprocessable(code::INVALID_BUNDLE, message)
}

fn bundle_blocking(bytes: &[u8]) -> ApiResult<CheckedBundle> {
    let mut files = Files::from_tar_gz(bytes, Limits::default()).map_err(invalid_bundle)?;
    files.0.remove(SIGNATURES_FILE);
    if !files.0.keys().any(|p| p.ends_with(".rego")) {
        return Err(invalid_bundle("the bundle holds no .rego module"));
    }
    let bundle = Bundle::from_files(files.clone()).map_err(invalid_bundle)?;
    let results = runner::run(
        &bundle.sources,
        tollgate_rego_authz::engine::Budget { time: TEST_BUDGET },
    )
    .map_err(|e| invalid_bundle(e.0))?;
    failed_tests(&results)?;
    let canonical = files.to_tar_gz().map_err(ApiError::internal)?;
    Ok(CheckedBundle {
        files,
        canonical,
        revision: bundle.manifest.revision,
        checked: Checked {
            warnings: Vec::new(),
            tests: tests_json(&results),
        },
    })
}
