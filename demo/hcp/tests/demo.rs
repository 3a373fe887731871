//! The demo HCP answers like HCP: the right user gets data, a wrong password 401, a
//! monitor trying to write 403, another tenant's path 403.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test helpers

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use md5::{Digest, Md5};
use tollgate_envoy_harness::{HttpRequest, HttpResponse, send};
use tollgate_hcp_demo::{HcpDemo, demo_users};

fn hcp(user: &str, password: &str) -> String {
    let digest: String = Md5::digest(password.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("HCP {}:{digest}", STANDARD.encode(user))
}

fn call(demo: &HcpDemo, req: HttpRequest, tenant: &str, auth: Option<String>) -> HttpResponse {
    let mut req = req.header("host", &format!("{tenant}.hcp.test"));
    if let Some(a) = auth {
        req = req.header("authorization", &a);
    }
    send(demo.addr(), &req, Duration::from_secs(5)).unwrap()
}

#[test]
fn behaves_like_hcp() {
    let demo = HcpDemo::start("hcp.test", demo_users()).unwrap();
    let alice = || Some(hcp("alice", "alice-demo-pw"));
    let list = call(
        &demo,
        HttpRequest::get("/mapi/tenants/acme/namespaces"),
        "acme",
        alice(),
    );
    assert_eq!(list.status, 200);
    assert!(list.body_text().contains("acme-archive"));
    let wrong = call(
        &demo,
        HttpRequest::get("/mapi/tenants/acme/namespaces"),
        "acme",
        Some(hcp("alice", "nope")),
    );
    assert_eq!(wrong.status, 401);
    assert_eq!(
        wrong.header("x-hcp-errormessage"),
        Some("Authentication failed.")
    );
    assert_eq!(
        call(&demo, HttpRequest::get("/mapi/tenants"), "acme", None).status,
        401
    );
    // alice is not a user of globex, even with her right password.
    assert_eq!(
        call(
            &demo,
            HttpRequest::get("/mapi/tenants/globex/statistics"),
            "globex",
            alice()
        )
        .status,
        401
    );
    assert_eq!(
        call(
            &demo,
            HttpRequest::get("/mapi/tenants/globex/statistics"),
            "acme",
            alice()
        )
        .status,
        403
    );
    let create = HttpRequest::new("PUT", "/mapi/tenants/acme/namespaces")
        .header("content-type", "application/json");
    let bob = call(
        &demo,
        create.clone().body(br#"{"name":"reports"}"#.to_vec()),
        "acme",
        Some(hcp("bob", "bob-demo-pw")),
    );
    assert_eq!(bob.status, 403, "a monitor cannot create");
    let made = call(
        &demo,
        create.clone().body(br#"{"name":"reports"}"#.to_vec()),
        "acme",
        alice(),
    );
    assert_eq!(made.status, 201);
    assert_eq!(
        call(
            &demo,
            create.body(br#"{"name":"reports"}"#.to_vec()),
            "acme",
            alice()
        )
        .status,
        409
    );
    let stats = call(
        &demo,
        HttpRequest::get("/mapi/tenants/acme/statistics"),
        "acme",
        alice(),
    );
    assert!(
        stats.body_text().contains("\"namespaceCount\":3"),
        "{}",
        stats.body_text()
    );
    assert_eq!(
        call(&demo, HttpRequest::get("/health"), "acme", None).status,
        200
    );
}

/// Namespaces are bounded per tenant: a client cannot grow the demo's memory for ever.
#[test]
fn namespaces_stop_at_the_quota() {
    let demo = HcpDemo::start("hcp.test", demo_users()).unwrap();
    let alice = demo_users()
        .into_iter()
        .find(|u| u.username == "alice")
        .unwrap();
    let auth = hcp(&alice.username, &alice.password);
    let create = |i: usize| {
        let req = HttpRequest::new("PUT", "/mapi/tenants/acme/namespaces")
            .header("content-type", "application/json")
            .body(format!(r#"{{"name":"ns{i}"}}"#).into_bytes());
        call(&demo, req, "acme", Some(auth.clone())).status
    };
    let mut created = 0;
    for i in 0..tollgate_hcp_demo::MAX_NAMESPACES + 5 {
        if create(i) == 201 {
            created += 1;
        }
    }
    assert!(created <= tollgate_hcp_demo::MAX_NAMESPACES, "{created}");
    assert_eq!(create(99_999), 403);
}
