//! Runs a policy's unit tests (`test_*` rules, as `opa test` does) on regorus, the
//! engine the filter runs: `tollgate validate` and the project's own tests call this.
//!
//! A test passes when its rule is `true`; undefined, `false` or an error fails it.
//! Tests are found at the start of a line, as `opa fmt` writes rules; `todo_test_*`
//! rules are skipped, as in OPA.

use std::time::{Duration, Instant};

use regorus::Value;

use crate::engine::{self, Budget, CompileError, Sources};

/// One test's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestResult {
    /// `data.<package>.test_<name>`.
    pub name: String,
    /// `None` when it passed; why it failed otherwise.
    pub failure: Option<String>,
    pub duration: Duration,
}

fn package_of(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let rest = line.trim_start().strip_prefix("package ")?;
        let name = rest.split('#').next()?.trim();
        (!name.is_empty()).then(|| format!("data.{name}"))
    })
}

fn test_names(text: &str) -> Vec<String> {
    let mut names: Vec<String> = text
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("test_")?;
            let ident: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            Some(format!("test_{ident}"))
        })
        .collect();
    names.dedup();
    names
}

/// Runs every test in `sources`; each evaluation gets `budget`.
pub fn run(sources: &Sources, budget: Budget) -> Result<Vec<TestResult>, CompileError> {
    let mut engine = engine::load(sources, budget)?;
    let mut results = Vec::new();
    for module in &sources.modules {
        let Some(package) = package_of(&module.text) else {
            continue;
        };
        let mut seen = std::collections::BTreeSet::new();
        for test in test_names(&module.text) {
            if !seen.insert(test.clone()) {
                continue;
            }
            let name = format!("{package}.{test}");
            engine.set_input(Value::new_object());
            let start = Instant::now();
            let outcome = engine.eval_rule(name.clone());
            let duration = start.elapsed();
            let failure = match outcome {
                Ok(Value::Bool(true)) => None,
                Ok(Value::Undefined) => Some("undefined".to_string()),
                Ok(v) => Some(format!("the rule is {v}, not true")),
                Err(e) => Some(format!("{e:#}")),
            };
            results.push(TestResult {
                name,
                failure,
                duration,
            });
        }
    }
    results.sort_by(|a, b| a.name.cmp(&b.name));
    results.dedup_by(|a, b| a.name == b.name);
    Ok(results)
}

#[cfg(test)]
#[path = "runner_tests.rs"]
mod tests;

/// What `tollgate validate` reports for a bundle or a config's policy.
#[derive(Debug, Clone)]
pub struct Report {
    pub revision: Option<String>,
    pub modules: usize,
    pub results: Vec<TestResult>,
}

impl Report {
    pub fn failed(&self) -> usize {
        self.results.iter().filter(|r| r.failure.is_some()).count()
    }
}

/// The time one test may take in `tollgate validate`.
const TEST_BUDGET: Budget = Budget {
    time: Duration::from_secs(5),
};

/// Reads a bundle (a directory or a `.tar.gz`), compiles it and runs its tests.
#[cfg(not(target_arch = "wasm32"))]
pub fn check_bundle(path: &std::path::Path) -> Result<Report, String> {
    use crate::bundle::{Bundle, Files, Limits};
    let files = if path.is_dir() {
        Files::from_dir(path, Limits::default())?
    } else {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Files::from_tar_gz(&bytes, Limits::default())?
    };
    let bundle = Bundle::from_files(files)?;
    let revision = Some(bundle.manifest.revision.clone()).filter(|r| !r.is_empty());
    let results = run(&bundle.sources, TEST_BUDGET).map_err(|e| e.0)?;
    Ok(Report {
        revision,
        modules: bundle.sources.modules.len(),
        results,
    })
}

/// Runs the tests in a rego-authz config's policy (inline modules or bundle).
pub fn check_config(bytes: &[u8]) -> Result<Report, String> {
    let config: crate::config::RegoAuthzConfig =
        tollgate_kit::config::parse(bytes).map_err(|e| e.to_string())?;
    let (sources, manifest) = config.policy.sources().map_err(|e| e.to_string())?;
    let results = run(&sources, TEST_BUDGET).map_err(|e| e.0)?;
    Ok(Report {
        revision: manifest.map(|m| m.revision).filter(|r| !r.is_empty()),
        modules: sources.modules.len(),
        results,
    })
}
