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

    /// The config format this build reads, `tollgate.<filter>.v<n>`. A config may name
    /// it in a top-level `version` field (the type must declare that field); [`load`]
    /// checks it before anything else, so a config written for another format gets
    /// that error, not a confusing one about its fields.
    const VERSION: &'static str;

    /// Checks what serde cannot (ranges, regexes, cross-field rules) and precomputes.
    fn compile(self) -> Result<Self::Compiled, ConfigError>;
}

/// Checks a config's optional `version` field against the one this build reads
/// (`tollgate.<filter>.v<n>`). Absent means the current version; anything else is
/// refused, so a config written for another format is never half understood.
pub fn check_version(found: Option<&str>, expected: &str) -> Result<(), ConfigError> {
    match found {
        None => Ok(()),
        Some(v) if v == expected => Ok(()),
        Some(v) => Err(ConfigError::new(
            "version",
            format!("this filter reads `{expected}`, not `{v}`"),
        )),
    }
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

/// Whether `name` is an HTTP field name (an RFC 9110 token).
pub fn valid_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Parses then compiles: what `on_configure` and the control service both call.
pub fn load<T: Compile>(bytes: &[u8]) -> Result<T::Compiled, ConfigError> {
    #[derive(serde::Deserialize)]
    struct Versioned {
        #[serde(default)]
        version: Option<serde_json::Value>,
    }
    // Only the version, from a document that is an object; anything malformed is left
    // to the typed parse, which says what is wrong.
    if let Ok(Versioned { version: Some(v) }) = serde_json::from_slice::<Versioned>(bytes) {
        match v.as_str() {
            Some(found) => check_version(Some(found), T::VERSION)?,
            None => {
                return Err(ConfigError::new(
                    "version",
                    format!("expected the string `{}`", T::VERSION),
                ));
            }
        }
    }
    parse::<T>(bytes)?.compile()
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
