//! Small helpers over `serde_json` values shared by the filters.

use serde_json::{Map, Value};

/// The value at a dotted path (`realm.tenant`) in a JSON object.
pub fn lookup<'a>(object: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let first = object.get(parts.next()?)?;
    parts.try_fold(first, |v, p| v.get(p))
}
