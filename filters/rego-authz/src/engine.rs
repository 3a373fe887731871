//! A policy compiled once: Rego modules and data loaded into a prepared regorus engine,
//! with the `io.jwt.*` builtins, reused by every request (never parsed per request).

use std::cell::RefCell;
use std::num::NonZeroU32;
use std::time::Duration;

use regorus::utils::limits::ExecutionTimerConfig;
use regorus::{Engine, Value};

use crate::jwt_builtins;

/// One Rego source file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// Its name in errors (`authz.rego`, `hcp/roles.rego`).
    pub name: String,
    pub text: String,
}

/// What a policy is made of, wherever it came from (inline config or a bundle).
#[derive(Debug, Clone, Default)]
pub struct Sources {
    pub modules: Vec<Module>,
    /// The base document under `data` (an object).
    pub data: serde_json::Value,
    /// Parse as Rego v0 (OPA before 1.0): `allow { … }` without `if`.
    pub rego_v0: bool,
    /// A bundle's roots (`/`-separated paths under `data`): every package must lie
    /// under one. `None` for inline policies.
    pub roots: Option<Vec<String>>,
}

/// Limits on one evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Wall time one evaluation may take.
    pub time: Duration,
}

/// Why a policy could not be compiled: the message names file, line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError(pub String);

impl std::fmt::Display for CompileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why an evaluation gave no decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvalError {
    /// The rule is undefined for this input (no default).
    Undefined,
    /// The evaluation went over its budget.
    OverBudget(String),
    /// A runtime error (a builtin's, a conflict, …), with regorus' location.
    Failed(String),
}

impl EvalError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Undefined => "policy_undefined",
            Self::OverBudget(_) => "policy_over_budget",
            Self::Failed(_) => "policy_error",
        }
    }
}

impl std::fmt::Display for EvalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Undefined => f.write_str("the decision is undefined for this request"),
            Self::OverBudget(m) => write!(f, "the evaluation went over its budget: {m}"),
            Self::Failed(m) => f.write_str(m),
        }
    }
}

/// A compiled policy and the rule that gives the decision.
pub struct Policy {
    engine: RefCell<Engine>,
    rule: String,
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("rule", &self.rule)
            .finish_non_exhaustive()
    }
}

/// Checks that `rule` is a reference to a rule under `data`: `data.envoy.authz.allow`.
pub fn check_rule_path(rule: &str) -> Result<(), String> {
    let mut parts = rule.split('.');
    if parts.next() != Some("data") {
        return Err("expected a rule path under `data`, like `data.envoy.authz.allow`".into());
    }
    let rest: Vec<&str> = parts.collect();
    if rest.is_empty() {
        return Err("expected a rule path under `data`, like `data.envoy.authz.allow`".into());
    }
    for part in rest {
        let mut chars = part.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("`{part}` is not a Rego identifier"));
        }
    }
    Ok(())
}

/// A fresh engine with our builtins and budget, the sources loaded.
pub fn load(sources: &Sources, budget: Budget) -> Result<Engine, CompileError> {
    let mut engine = Engine::new();
    engine.set_rego_v0(sources.rego_v0);
    // A builtin given bad arguments is an error, not a silent undefined: a policy that
    // fails closed says why.
    engine.set_strict_builtin_errors(false);
    jwt_builtins::register(&mut engine).map_err(|e| CompileError(e.to_string()))?;
    for m in &sources.modules {
        let package = engine
            .add_policy(m.name.clone(), m.text.clone())
            .map_err(|e| CompileError(e.to_string()))?;
        if let Some(roots) = &sources.roots {
            let path = package
                .strip_prefix("data.")
                .unwrap_or_default()
                .replace('.', "/");
            if !crate::bundle::under_roots(&path, roots) {
                return Err(CompileError(format!(
                    "{}: package `{package}` is outside the manifest's roots",
                    m.name
                )));
            }
        }
    }
    if !sources.data.is_null() {
        let data = to_regorus(&sources.data).map_err(CompileError)?;
        engine
            .add_data(data)
            .map_err(|e| CompileError(format!("the data document: {e}")))?;
    }
    engine.set_execution_timer_config(ExecutionTimerConfig {
        limit: budget.time,
        // A clock read per 64 steps: in wasm each read is a hostcall.
        check_interval: NonZeroU32::MIN.saturating_add(63),
    });
    Ok(engine)
}

impl Policy {
    /// Loads `sources` and prepares the engine by evaluating `rule` once against an
    /// empty input, so a missing rule is a compile error and no request pays for the
    /// preparation.
    pub fn compile(sources: &Sources, rule: &str, budget: Budget) -> Result<Self, CompileError> {
        check_rule_path(rule).map_err(CompileError)?;
        let mut engine = load(sources, budget)?;
        let packages = engine
            .get_packages()
            .map_err(|e| CompileError(e.to_string()))?;
        let defined = packages.iter().any(|p| {
            rule.strip_prefix(p.as_str())
                .is_some_and(|r| r.starts_with('.'))
        });
        if !defined {
            return Err(CompileError(format!(
                "no loaded package defines `{rule}` (packages: {})",
                if packages.is_empty() {
                    "none".to_string()
                } else {
                    packages.join(", ")
                }
            )));
        }
        engine.set_input(Value::new_object());
        if let Err(e) = engine.eval_rule(rule.to_string()) {
            let message = e.to_string();
            // Runtime errors on an empty input are the policy's business; a rule that
            // does not exist is the config's.
            if message.contains("not a valid rule path") || message.contains("not found") {
                return Err(CompileError(format!("`{rule}`: {message}")));
            }
        }
        Ok(Self {
            engine: RefCell::new(engine),
            rule: rule.to_string(),
        })
    }

    pub fn rule(&self) -> &str {
        &self.rule
    }

    /// Evaluates the rule for `input`.
    pub fn evaluate(&self, input: Value) -> Result<Value, EvalError> {
        let Ok(mut engine) = self.engine.try_borrow_mut() else {
            return Err(EvalError::Failed("the engine is busy".into()));
        };
        engine.set_input(input);
        let result = engine.eval_rule(self.rule.clone());
        // Drop the input now: it may hold the request's headers and token.
        engine.set_input(Value::Undefined);
        match result {
            Ok(Value::Undefined) => Err(EvalError::Undefined),
            Ok(v) => Ok(v),
            Err(e) => {
                let message = format!("{e:#}");
                if message.contains("time limit") || message.contains("TimeLimit") {
                    Err(EvalError::OverBudget(message))
                } else {
                    Err(EvalError::Failed(message))
                }
            }
        }
    }
}

/// serde_json → regorus, for inputs and data.
pub fn to_regorus(value: &serde_json::Value) -> Result<Value, String> {
    serde_json::from_value::<Value>(value.clone()).map_err(|e| e.to_string())
}

/// regorus → serde_json, for decisions and logs (`Undefined` has no JSON form).
pub fn to_json(value: &Value) -> Result<serde_json::Value, String> {
    if *value == Value::Undefined {
        return Err("undefined".into());
    }
    serde_json::to_value(value).map_err(|e| e.to_string())
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
