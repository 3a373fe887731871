//! `parsed_path`, `parsed_query` and `parsed_body` as OPA-Envoy builds them (Go's
//! `net/url`): the path is split on `/` after percent-decoding, so `%2F` splits too;
//! the query keeps repeated keys in order, `+` is a space, a key without `=` has the
//! value `""`, and a pair Go refuses (a bad escape, a `;`) is dropped, not fatal.
//!
//! One deliberate difference: a path starting with `//` is a path here; Go would read
//! its first segment as a host, which would let `//admin/x` pass as `/x`.

use serde_json::{Map, Value as Json};
use tollgate_kit::percent::hex_digit;

/// Why a path cannot be parsed (OPA-Envoy refuses the request too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadPath(pub String);

/// Strict percent-decoding: a `%` not followed by two hex digits is an error.
fn unescape(s: &str, plus_is_space: bool) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'%' => {
                let hi = bytes.get(i + 1).copied().and_then(hex_digit)?;
                let lo = bytes.get(i + 2).copied().and_then(hex_digit)?;
                out.push(hi << 4 | lo);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    // Go keeps invalid UTF-8 in strings; JSON cannot, so it is replaced.
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// Splits `:path` into its path and its raw query (the fragment dropped, as Go does).
pub fn split(path: &str) -> (&str, &str) {
    let without_fragment = path.split_once('#').map_or(path, |(p, _)| p);
    without_fragment
        .split_once('?')
        .unwrap_or((without_fragment, ""))
}

/// `parsed_path`: the decoded path without its leading slashes, split on `/`.
pub fn path_segments(path: &str) -> Result<Vec<Json>, BadPath> {
    if path.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err(BadPath("the path has a control character".into()));
    }
    let (raw, _) = split(path);
    let decoded =
        unescape(raw, false).ok_or_else(|| BadPath("the path has a bad %-escape".into()))?;
    Ok(decoded
        .trim_start_matches('/')
        .split('/')
        .map(|s| Json::String(s.to_string()))
        .collect())
}

/// Parses `a=1&a=2&b` into `{"a": ["1", "2"], "b": [""]}` (Go's `url.ParseQuery`).
pub fn query_map(query: &str) -> Map<String, Json> {
    let mut map = Map::new();
    for pair in query.split('&') {
        if pair.is_empty() || pair.contains(';') {
            continue;
        }
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (Some(k), Some(v)) = (unescape(k, true), unescape(v, true)) else {
            continue;
        };
        if let Json::Array(values) = map.entry(k).or_insert_with(|| Json::Array(Vec::new())) {
            values.push(Json::String(v));
        }
    }
    map
}

/// `parsed_query` of a `:path`.
pub fn query(path: &str) -> Map<String, Json> {
    query_map(split(path).1)
}

/// What `parsed_body` holds for a body of `content_type`.
#[derive(Debug, Clone, PartialEq)]
pub enum ParsedBody {
    /// No body, or one we do not parse (neither JSON nor a form): `parsed_body` absent.
    None,
    /// The body was cut at the limit (or is still incomplete): `truncated_body: true`.
    Truncated,
    Value(Json),
}

/// Why a body the policy would see cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadBody(pub String);

/// Parses `body` as OPA-Envoy does: JSON (`application/json`) or a form
/// (`application/x-www-form-urlencoded`); `declared` is the request's Content-Length.
pub fn body(
    content_type: Option<&str>,
    declared: Option<u64>,
    body: &[u8],
    truncated: bool,
) -> Result<ParsedBody, BadBody> {
    let Some(ct) = content_type.map(str::to_ascii_lowercase) else {
        return Ok(ParsedBody::None);
    };
    let json = ct.contains("application/json");
    let form = ct.contains("application/x-www-form-urlencoded");
    if !json && !form {
        return Ok(ParsedBody::None);
    }
    if body.is_empty() && !truncated {
        return Ok(ParsedBody::None);
    }
    if truncated || declared.is_some_and(|n| n > body.len() as u64) {
        return Ok(ParsedBody::Truncated);
    }
    if json {
        serde_json::from_slice(body)
            .map(ParsedBody::Value)
            .map_err(|e| BadBody(format!("the JSON body does not parse: {e}")))
    } else {
        let text =
            std::str::from_utf8(body).map_err(|_| BadBody("the form body is not UTF-8".into()))?;
        Ok(ParsedBody::Value(Json::Object(query_map(text))))
    }
}

#[cfg(test)]
#[path = "parsed_tests.rs"]
mod tests;
