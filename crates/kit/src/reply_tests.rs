use super::*;
use crate::mock::MockHost;

#[test]
fn refusals_are_json_with_details_and_no_store() {
    let host = MockHost::new();
    let body = error_body("token_expired", "the token \"x\" expired");
    refuse(
        &host,
        "jwt-auth",
        &Refusal {
            status: 401,
            code: "token_expired",
            body: &body,
            www_authenticate: "Bearer realm=\"tollgate\"",
        },
    );
    let reply = host.state.borrow().local_reply.clone().unwrap();
    assert_eq!(reply.status, 401);
    assert_eq!(reply.details, "tollgate_jwt_auth.token_expired");
    let parsed: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(parsed["error"], "token_expired");
    assert_eq!(parsed["message"], "the token \"x\" expired");
    let get = |n: &str| crate::pairs::first(&reply.headers, n).to_string();
    assert_eq!(get("content-type"), "application/json");
    assert_eq!(get("cache-control"), "no-store");
    assert_eq!(get("www-authenticate"), "Bearer realm=\"tollgate\"");
}

#[test]
fn no_www_authenticate_unless_given() {
    let host = MockHost::new();
    refuse(
        &host,
        "hcp-auth",
        &Refusal {
            status: 400,
            code: "path_invalid",
            body: "{}",
            www_authenticate: "",
        },
    );
    let reply = host.state.borrow().local_reply.clone().unwrap();
    assert!(!reply.headers.iter().any(|(n, _)| n == "www-authenticate"));
}

#[test]
fn internal_errors_are_500_and_logged_without_request_data() {
    let host = MockHost::new();
    internal_error(&host, "hcp-auth", "cannot read the request body");
    let state = host.state.borrow();
    let reply = state.local_reply.clone().unwrap();
    assert_eq!(reply.status, 500);
    assert_eq!(reply.details, "tollgate_hcp_auth.internal");
    assert!(
        state
            .logs
            .iter()
            .any(|(level, line)| *level == LogLevel::Error
                && line == "hcp-auth: cannot read the request body; refusing the request")
    );
}

#[test]
fn a_refusal_the_host_cannot_send_is_logged() {
    let host = MockHost::new().failing("proxy_send_local_response", crate::Status::InternalFailure);
    internal_error(&host, "jwt-auth", "x");
    assert!(
        host.state
            .borrow()
            .logs
            .iter()
            .any(|(_, line)| line.starts_with("jwt-auth: cannot refuse a request"))
    );
}
