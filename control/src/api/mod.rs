//! HTTP handlers, by resource. Which role each route needs is not here: it is in the
//! route table (`crate::routes::ROUTES`), checked before a handler runs.

pub mod changes;
pub mod distribution;
pub mod documents;
pub mod projects;
pub mod secrets;
pub mod system;
pub mod tokens;

use axum::http::HeaderMap;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::error::{ApiError, ApiResult, code};

/// Parses a JSON body; errors name the line, column and field path, and unknown
/// fields are refused by the target types.
pub fn json_body<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let inner = e.inner();
        let path = e.path().to_string();
        ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            code::INVALID_JSON,
            if path == "." {
                format!("the body is not valid: {inner}")
            } else {
                format!("the body is not valid at `{path}`: {inner}")
            },
        )
        .with_details(json!({"path": path, "line": inner.line(), "column": inner.column()}))
    })
}

/// The change message (`Tollgate-Message` header), bounded.
pub fn message(headers: &HeaderMap) -> ApiResult<String> {
    let raw = headers
        .get("tollgate-message")
        .map(|v| v.to_str().map(str::to_string))
        .transpose()
        .map_err(|_| ApiError::bad_request("Tollgate-Message must be visible ASCII"))?
        .unwrap_or_default();
    if raw.len() > 1000 {
        return Err(ApiError::bad_request(
            "Tollgate-Message is longer than 1000 bytes",
        ));
    }
    Ok(raw)
}

pub fn if_match(headers: &HeaderMap) -> ApiResult<crate::docs::Expected> {
    let value = headers
        .get(axum::http::header::IF_MATCH)
        .map(|v| v.to_str())
        .transpose()
        .map_err(|_| ApiError::bad_request("If-Match must be visible ASCII"))?;
    crate::docs::Expected::from_header(value)
}
