//! Request matching shared by every filter's route rules: a path prefix, an exact path
//! or a regex (all on the path without its query), optionally narrowed to methods.

use serde::Deserialize;

use crate::config::ConfigError;

/// Exactly one of `prefix`, `path`, `regex`, optionally with `methods`.
///
/// ```json
/// {"prefix": "/api/", "methods": ["GET", "HEAD"]}
/// ```
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct MatchConfig {
    /// Path prefix. Example: `"/api/"`.
    #[serde(default)]
    pub prefix: Option<String>,
    /// Exact path, without the query. Example: `"/health"`.
    #[serde(default)]
    pub path: Option<String>,
    /// Regex on the path without the query. Example: `"^/tenants/[^/]+/admin"`.
    #[serde(default)]
    pub regex: Option<String>,
    /// Methods, any case; empty: any. Default: `[]`. Example: `["GET", "HEAD"]`.
    #[serde(default)]
    pub methods: Vec<String>,
}

#[derive(Debug, Clone)]
pub enum PathMatch {
    Prefix(String),
    Exact(String),
    Regex(regex_lite::Regex),
}

/// A compiled [`MatchConfig`].
#[derive(Debug, Clone)]
pub struct Matcher {
    pub path: PathMatch,
    /// Upper case.
    pub methods: Vec<String>,
}

/// The path without query or fragment.
pub fn path_only(path: &str) -> &str {
    path.split(['?', '#']).next().unwrap_or(path)
}

impl MatchConfig {
    /// Compiles the matcher; `at` is the config path used in errors (`rules[2].match`).
    pub fn compile(self, at: &str) -> Result<Matcher, ConfigError> {
        let path = match (self.prefix, self.path, self.regex) {
            (Some(p), None, None) => PathMatch::Prefix(p),
            (None, Some(p), None) => PathMatch::Exact(p),
            (None, None, Some(re)) => {
                PathMatch::Regex(regex_lite::Regex::new(&re).map_err(|e| {
                    ConfigError::new(format!("{at}.regex"), format!("invalid regex: {e}"))
                })?)
            }
            _ => {
                return Err(ConfigError::new(
                    at,
                    "expected exactly one of `prefix`, `path`, `regex`",
                ));
            }
        };
        Ok(Matcher {
            path,
            methods: self
                .methods
                .iter()
                .map(|m| m.to_ascii_uppercase())
                .collect(),
        })
    }
}

impl Matcher {
    /// Whether the request fits; `path` is `:path`, query included.
    pub fn matches(&self, method: &str, path: &str) -> bool {
        let p = path_only(path);
        let path_ok = match &self.path {
            PathMatch::Prefix(prefix) => p.starts_with(prefix.as_str()),
            PathMatch::Exact(exact) => p == exact,
            PathMatch::Regex(re) => re.is_match(p),
        };
        path_ok
            && (self.methods.is_empty()
                || self.methods.iter().any(|m| m.eq_ignore_ascii_case(method)))
    }
}

/// A host or `host:port` (`[v6]:port` too) without its port.
pub fn without_port(address: &str) -> &str {
    if let Some(rest) = address.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match address.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            host
        }
        _ => address,
    }
}

/// Whether `authority` (port ignored, any case) is one of `patterns`: exact names or
/// `*.suffix` (at least one label before the suffix); no patterns: any host.
pub fn host_matches(patterns: &[String], authority: &str) -> bool {
    if patterns.is_empty() {
        return true;
    }
    let host = without_port(authority).to_ascii_lowercase();
    patterns.iter().any(|p| match p.strip_prefix("*.") {
        Some(suffix) => host
            .strip_suffix(suffix)
            .is_some_and(|rest| rest.len() > 1 && rest.ends_with('.')),
        None => *p == host,
    })
}

#[cfg(test)]
#[path = "route_tests.rs"]
mod tests;
