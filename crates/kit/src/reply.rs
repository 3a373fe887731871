//! Local replies: how every filter refuses a request. A JSON error body
//! (`{"error": "<code>", "message": "…"}`) with `cache-control: no-store`, and the
//! response details `tollgate_<filter>.<code>` that Envoy's access log can print. The
//! message is the filter's; it must never echo a token, a credential or the path.

use crate::host::{Host, LocalReply};
use crate::types::LogLevel;

/// The JSON error body every filter answers with.
pub fn error_body(code: &str, message: &str) -> String {
    serde_json::json!({ "error": code, "message": message }).to_string()
}

/// A refusal as the proxy sends it.
#[derive(Debug, Clone, Copy)]
pub struct Refusal<'a> {
    pub status: u16,
    /// Stable, `snake_case`: metrics, error bodies, response details.
    pub code: &'a str,
    /// From [`error_body`].
    pub body: &'a str,
    /// `WWW-Authenticate` for 401 and 403 from authentication filters; `""`: none.
    pub www_authenticate: &'a str,
}

/// Sends `refusal` for `filter` (`jwt-auth`); a host that cannot send it is logged.
pub fn refuse(host: &dyn Host, filter: &str, refusal: &Refusal<'_>) {
    refuse_with(host, filter, refusal, &[]);
}

/// [`refuse`] with more response headers (`Retry-After`, rate-limit headers).
pub fn refuse_with(host: &dyn Host, filter: &str, refusal: &Refusal<'_>, extra: &[(&str, &str)]) {
    let details = format!("tollgate_{}.{}", filter.replace('-', "_"), refusal.code);
    let mut headers: Vec<(&str, &str)> = vec![
        ("content-type", "application/json"),
        ("cache-control", "no-store"),
    ];
    if !refusal.www_authenticate.is_empty() {
        headers.push(("www-authenticate", refusal.www_authenticate));
    }
    headers.extend_from_slice(extra);
    let reply = LocalReply {
        status: u32::from(refusal.status),
        details: &details,
        headers: &headers,
        body: refusal.body.as_bytes(),
        grpc_status: None,
    };
    if let Err(e) = host.send_local_response(&reply) {
        host.log(
            LogLevel::Error,
            &format!("{filter}: cannot refuse a request: {e}"),
        );
    }
}

/// Fails a request closed (500, code `internal`) after logging `why` at error level.
/// `why` must not contain request data: it may hold credentials.
pub fn internal_error(host: &dyn Host, filter: &str, why: &str) {
    host.log(
        LogLevel::Error,
        &format!("{filter}: {why}; refusing the request"),
    );
    let body = error_body("internal", "the request could not be processed");
    refuse(
        host,
        filter,
        &Refusal {
            status: 500,
            code: "internal",
            body: &body,
            www_authenticate: "",
        },
    );
}

#[cfg(test)]
#[path = "reply_tests.rs"]
mod tests;
