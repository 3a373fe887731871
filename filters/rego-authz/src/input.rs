//! The OPA-Envoy input document, field for field, built from plain request data: what
//! `envoy.ext_authz` would send in a `CheckRequest` (in protojson form: empty fields
//! left out, `size` as a string), plus `parsed_path`, `parsed_query`, `parsed_body`,
//! `truncated_body`, `version`, and Tollgate's `token`.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value as Json, json};

use crate::parsed::{self, BadBody, BadPath, ParsedBody};

/// A request body as read for the policy.
#[derive(Debug, Clone, Default)]
pub struct Body<'a> {
    pub bytes: &'a [u8],
    /// The body went past the configured limit (only the limit was read).
    pub truncated: bool,
}

/// What the input is built from: one header read, a few properties, maybe the body.
#[derive(Debug, Clone, Default)]
pub struct Request<'a> {
    /// Every header, names lower-case, pseudo-headers included.
    pub headers: &'a [(String, String)],
    /// `ip:port` of the peer and of the listener.
    pub source: Option<&'a str>,
    pub destination: Option<&'a str>,
    /// `HTTP/1.1`, `HTTP/2`, … when the host tells.
    pub protocol: Option<&'a str>,
    /// Seconds and nanoseconds since the epoch, for `attributes.request.time`.
    pub time: Option<(u64, u32)>,
    pub body: Option<Body<'a>>,
    /// The verified payload jwt-auth forwarded (base64url JSON), if any.
    pub token_payload: Option<&'a str>,
}

/// Why no input could be built: the request is malformed (answered 400).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadRequest {
    Path(String),
    Body(String),
}

impl From<BadPath> for BadRequest {
    fn from(e: BadPath) -> Self {
        Self::Path(e.0)
    }
}

impl From<BadBody> for BadRequest {
    fn from(e: BadBody) -> Self {
        Self::Body(e.0)
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Envoy's `headers` map: one key per name, repeated values joined with `,`.
fn header_map(headers: &[(String, String)]) -> Map<String, Json> {
    let mut map = Map::new();
    for (k, v) in headers {
        let key = k.to_ascii_lowercase();
        match map.get_mut(&key) {
            Some(Json::String(existing)) => {
                existing.push(',');
                existing.push_str(v);
            }
            _ => {
                map.insert(key, Json::String(v.clone()));
            }
        }
    }
    map
}

/// `{"socketAddress": {"address": …, "portValue": …}}` from `ip:port` (`[v6]:port`).
fn socket_address(text: &str) -> Json {
    let (ip, port) = match text.rsplit_once(':') {
        Some((ip, port)) if !ip.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => (
            ip.trim_start_matches('[').trim_end_matches(']'),
            port.parse::<u32>().ok(),
        ),
        _ => (text, None),
    };
    let mut sa = Map::new();
    sa.insert("address".into(), Json::String(ip.to_string()));
    if let Some(p) = port.filter(|p| *p != 0) {
        sa.insert("portValue".into(), json!(p));
    }
    json!({ "address": { "socketAddress": sa } })
}

/// RFC 3339 in UTC with nanoseconds, as protojson writes a Timestamp.
pub fn rfc3339(secs: u64, nanos: u32) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let frac = if nanos == 0 {
        String::new()
    } else if nanos.is_multiple_of(1_000_000) {
        format!(".{:03}", nanos / 1_000_000)
    } else if nanos.is_multiple_of(1_000) {
        format!(".{:06}", nanos / 1_000)
    } else {
        format!(".{nanos:09}")
    };
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}{frac}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

fn put_str(map: &mut Map<String, Json>, key: &str, value: Option<&str>) {
    if let Some(v) = value.filter(|v| !v.is_empty()) {
        map.insert(key.into(), Json::String(v.to_string()));
    }
}

/// Decodes jwt-auth's payload header; a value that is not base64url JSON is ignored.
pub fn token(payload: &str) -> Option<Json> {
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    match serde_json::from_slice(&bytes) {
        Ok(v @ Json::Object(_)) => Some(v),
        _ => None,
    }
}

/// Builds the input document.
pub fn build(req: &Request<'_>) -> Result<Json, BadRequest> {
    let headers = req.headers;
    let path = header(headers, ":path").unwrap_or("/");
    let mut http = Map::new();
    put_str(&mut http, "id", header(headers, "x-request-id"));
    put_str(&mut http, "method", header(headers, ":method"));
    http.insert("headers".into(), Json::Object(header_map(headers)));
    put_str(&mut http, "path", Some(path));
    put_str(
        &mut http,
        "host",
        header(headers, ":authority").or_else(|| header(headers, "host")),
    );
    put_str(&mut http, "scheme", header(headers, ":scheme"));
    put_str(&mut http, "protocol", req.protocol);
    let declared = header(headers, "content-length").and_then(|v| v.trim().parse::<u64>().ok());
    let size = declared.or_else(|| req.body.as_ref().map(|b| b.bytes.len() as u64));
    if let Some(size) = size.filter(|s| *s > 0) {
        // protojson writes int64 as a string.
        http.insert("size".into(), Json::String(size.to_string()));
    }
    let mut parsed_body = ParsedBody::None;
    if let Some(body) = &req.body {
        match std::str::from_utf8(body.bytes) {
            Ok(text) => put_str(&mut http, "body", Some(text)),
            Err(_) => {
                http.insert("raw_body".into(), Json::String(STANDARD.encode(body.bytes)));
            }
        }
        parsed_body = parsed::body(
            header(headers, "content-type"),
            declared,
            body.bytes,
            body.truncated,
        )?;
    }
    let mut request = Map::new();
    if let Some((secs, nanos)) = req.time {
        request.insert("time".into(), Json::String(rfc3339(secs, nanos)));
    }
    request.insert("http".into(), Json::Object(http));
    let mut attributes = Map::new();
    if let Some(s) = req.source {
        attributes.insert("source".into(), socket_address(s));
    }
    if let Some(d) = req.destination {
        attributes.insert("destination".into(), socket_address(d));
    }
    attributes.insert("request".into(), Json::Object(request));
    let mut input = Map::new();
    input.insert("attributes".into(), Json::Object(attributes));
    input.insert(
        "parsed_path".into(),
        Json::Array(parsed::path_segments(path)?),
    );
    input.insert("parsed_query".into(), Json::Object(parsed::query(path)));
    match parsed_body {
        ParsedBody::None => {
            input.insert("truncated_body".into(), Json::Bool(false));
        }
        ParsedBody::Truncated => {
            input.insert("truncated_body".into(), Json::Bool(true));
        }
        ParsedBody::Value(v) => {
            input.insert("parsed_body".into(), v);
            input.insert("truncated_body".into(), Json::Bool(false));
        }
    }
    input.insert(
        "version".into(),
        json!({"encoding": "protojson", "ext_authz": "v3"}),
    );
    if let Some(t) = req.token_payload.and_then(token) {
        input.insert("token".into(), t);
    }
    Ok(Json::Object(input))
}

#[cfg(test)]
#[path = "input_tests.rs"]
mod tests;
