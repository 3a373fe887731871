//! A policy's result read with OPA-Envoy's semantics: `true`/`false`, or an object with
//! `allowed` (required) and optionally `headers`, `request_headers_to_remove`,
//! `response_headers_to_add`, `http_status`, `body` and `dynamic_metadata`. Anything
//! else is an error, and an error fails closed.

use serde_json::{Map, Value as Json};

/// What the filter does with a request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decision {
    pub allowed: bool,
    /// Allowed: added to the request sent upstream. Denied: sent in the reply.
    pub headers: Vec<(String, String)>,
    /// Allowed: removed from the request sent upstream.
    pub remove: Vec<String>,
    /// Allowed: added to the response sent to the client.
    pub response_headers: Vec<(String, String)>,
    /// Denied: the reply's status (the configured default otherwise).
    pub status: Option<u32>,
    /// Denied: the reply's body, as the policy wrote it.
    pub body: Option<String>,
    /// Written to the metadata stream property (JSON object).
    pub metadata: Option<Json>,
}

fn header_name(name: &str, field: &str) -> Result<String, String> {
    let lower = name.to_ascii_lowercase();
    let token = !lower.is_empty()
        && lower
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !token {
        return Err(format!(
            "`{field}` names `{name}`, which is not a header name"
        ));
    }
    Ok(lower)
}

fn header_value(value: &str, name: &str) -> Result<String, String> {
    if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(format!("the value of header `{name}` has a line break"));
    }
    Ok(value.to_string())
}

fn headers_from_map(
    map: &Map<String, Json>,
    field: &str,
    out: &mut Vec<(String, String)>,
) -> Result<(), String> {
    for (k, v) in map {
        let name = header_name(k, field)?;
        match v {
            Json::String(s) => out.push((name.clone(), header_value(s, &name)?)),
            Json::Array(items) => {
                for item in items {
                    let Json::String(s) = item else {
                        return Err(format!("`{field}.{k}` must hold strings"));
                    };
                    out.push((name.clone(), header_value(s, &name)?));
                }
            }
            _ => {
                return Err(format!(
                    "`{field}.{k}` must be a string or a list of strings"
                ));
            }
        }
    }
    Ok(())
}

/// `headers` and `response_headers_to_add`: an object, or a list of objects.
fn headers(value: Option<&Json>, field: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    match value {
        None => {}
        Some(Json::Object(map)) => headers_from_map(map, field, &mut out)?,
        Some(Json::Array(list)) => {
            for item in list {
                let Json::Object(map) = item else {
                    return Err(format!("`{field}` must be an object or a list of objects"));
                };
                headers_from_map(map, field, &mut out)?;
            }
        }
        Some(_) => return Err(format!("`{field}` must be an object or a list of objects")),
    }
    Ok(out)
}

/// Reads a decision.
pub fn interpret(result: &Json) -> Result<Decision, String> {
    let map = match result {
        Json::Bool(allowed) => {
            return Ok(Decision {
                allowed: *allowed,
                ..Decision::default()
            });
        }
        Json::Object(map) => map,
        other => {
            return Err(format!(
                "the decision must be a boolean or an object, not {}",
                kind(other)
            ));
        }
    };
    let allowed = match map.get("allowed") {
        Some(Json::Bool(b)) => *b,
        Some(other) => return Err(format!("`allowed` must be a boolean, not {}", kind(other))),
        None => return Err("the decision object has no `allowed`".into()),
    };
    let remove = match map.get("request_headers_to_remove") {
        None => Vec::new(),
        Some(Json::Array(items)) => {
            let mut out = Vec::new();
            for item in items {
                let Json::String(s) = item else {
                    return Err("`request_headers_to_remove` must hold strings".into());
                };
                let name = header_name(s, "request_headers_to_remove")?;
                if name.starts_with(':') || name == "host" {
                    return Err(format!("`{name}` cannot be removed"));
                }
                out.push(name);
            }
            out
        }
        Some(_) => return Err("`request_headers_to_remove` must be a list".into()),
    };
    let status = match map.get("http_status") {
        None => None,
        Some(v) => match v.as_u64() {
            Some(s) if (100..=599).contains(&s) => Some(s as u32),
            _ => return Err(format!("`http_status` must be an HTTP status, not {v}")),
        },
    };
    let body = match map.get("body") {
        None => None,
        Some(Json::String(s)) => Some(s.clone()),
        Some(other) => return Err(format!("`body` must be a string, not {}", kind(other))),
    };
    let metadata = match map.get("dynamic_metadata") {
        None => None,
        Some(v @ Json::Object(_)) => Some(v.clone()),
        Some(other) => {
            return Err(format!(
                "`dynamic_metadata` must be an object, not {}",
                kind(other)
            ));
        }
    };
    Ok(Decision {
        allowed,
        headers: headers(map.get("headers"), "headers")?,
        remove,
        response_headers: headers(
            map.get("response_headers_to_add"),
            "response_headers_to_add",
        )?,
        status,
        body,
        metadata,
    })
}

fn kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "an object",
    }
}

#[cfg(test)]
#[path = "decision_tests.rs"]
mod tests;
