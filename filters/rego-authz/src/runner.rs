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
