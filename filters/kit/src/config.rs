//! Config loading: bytes → typed config (serde, `deny_unknown_fields`) → compiled form.
//!
//! Errors carry the path of the offending field (`rules[2].match.prefix`) and what was
//! expected, so an operator can fix a config from the error alone. The control service
//! calls the same [`load`] to validate, so "valid" has one definition.

use std::fmt;

use serde::de::DeserializeOwned;

/// A config error: where it is and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Dotted path to the field, `""` for the document root.
    pub path: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }

    /// Prefixes the path with `parent`, for errors raised by a nested `compile()`.
    pub fn within(mut self, parent: &str) -> Self {
        self.path = match (parent.is_empty(), self.path.is_empty()) {
            (true, _) => self.path,
            (false, true) => parent.to_string(),
            (false, false) if self.path.starts_with('[') => format!("{parent}{}", self.path),
            (false, false) => format!("{parent}.{}", self.path),
        };
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "invalid config: {}", self.message)
        } else {
            write!(f, "invalid config at `{}`: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

/// A typed config that compiles into the form a filter uses per request.
pub trait Compile: DeserializeOwned {
    type Compiled;

    /// Checks what serde cannot (ranges, regexes, cross-field rules) and precomputes.
    fn compile(self) -> Result<Self::Compiled, ConfigError>;
}

/// Parses JSON config bytes into `T`. An empty config is parsed as `{}` so a filter
/// whose fields all have defaults needs none. A config must be a JSON object: serde would
/// otherwise accept a struct written as an array, with baffling errors.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ConfigError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    let text = match first {
        None => b"{}".as_slice(),
        Some(b'{') => bytes,
        Some(_) => return Err(ConfigError::new("", "expected a JSON object")),
    };
    let mut de = serde_json::Deserializer::from_slice(text);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let inner = err.inner();
        // Valid JSON that still fails "syntax" has the wrong shape, most often a choice
        // (`{"dir": …}` or `{"pem": …}`) given two forms: name the field.
        let shape =
            inner.is_syntax() && serde_json::from_slice::<serde::de::IgnoredAny>(text).is_ok();
        // Real syntax errors have no field; the message carries line and column.
        let path = if (inner.is_syntax() && !shape) || inner.is_eof() {
            String::new()
        } else {
            err.path().to_string()
        };
        let path = if path == "." || path == "?" {
            String::new()
        } else {
            path
        };
        let message = if shape {
            format!("expected exactly one of the allowed forms ({inner})")
        } else {
            inner.to_string()
        };
        ConfigError::new(path, message)
    })?;
    de.end()
        .map_err(|err| ConfigError::new("", err.to_string()))?;
    Ok(value)
}

/// Parses then compiles: what `on_configure` and the control service both call.
pub fn load<T: Compile>(bytes: &[u8]) -> Result<T::Compiled, ConfigError> {
    parse::<T>(bytes)?.compile()
}

/// Runs a filter's table of config errors (a JSON array of `{"name", "config", "path",
/// "contains"}`), shared by the filters' case-file tests. Returns one line per case
/// that was accepted or failed differently; empty means every case held.
pub fn error_case_failures<T: Compile>(cases_json: &str) -> Vec<String> {
    let cases: Vec<serde_json::Value> = match serde_json::from_str(cases_json) {
        Ok(cases) => cases,
        Err(e) => return vec![format!("the case file is not a JSON array: {e}")],
    };
    let text = |case: &serde_json::Value, field: &str| {
        case.get(field)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let mut failures = Vec::new();
    for case in &cases {
        let name = text(case, "name");
        let config = case
            .get("config")
            .map(ToString::to_string)
            .unwrap_or_default();
        match load::<T>(config.as_bytes()) {
            Ok(_) => failures.push(format!("{name}: accepted")),
            Err(e) => {
                if e.path != text(case, "path") || !e.message.contains(&text(case, "contains")) {
                    failures.push(format!("{name}: got `{}`: {}", e.path, e.message));
                }
            }
        }
    }
    failures
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
