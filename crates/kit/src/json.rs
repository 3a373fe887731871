//! Small helpers over `serde_json` values shared by the filters.

use std::borrow::Cow;

use serde_json::{Map, Value};

/// The value at a dotted path (`realm.tenant`) in a JSON object.
pub fn lookup<'a>(object: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let first = object.get(parts.next()?)?;
    parts.try_fold(first, |v, p| v.get(p))
}

/// A claim's value as text: strings as they are, anything else as JSON; `null` and
/// absent are `None`.
pub fn claim_text<'a>(claims: &'a Map<String, Value>, path: &str) -> Option<Cow<'a, str>> {
    match lookup(claims, path)? {
        Value::Null => None,
        Value::String(s) => Some(Cow::Borrowed(s)),
        other => Some(Cow::Owned(other.to_string())),
    }
}

/// Whether the claim at `path` is `value`, or holds it if it is a list.
pub fn claim_holds(claims: &Map<String, Value>, path: &str, value: &str) -> bool {
    match lookup(claims, path) {
        Some(Value::Array(items)) => items.iter().any(|v| v.as_str() == Some(value)),
        Some(_) => claim_text(claims, path).is_some_and(|t| t == value),
        None => false,
    }
}

#[cfg(test)]
#[path = "json_tests.rs"]
mod tests;
