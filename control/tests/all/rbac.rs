//! The RBAC matrix: every route of the route table, called by every kind of caller.
//! Who may do what is written out here independently of the service's code; a caller
//! who may not gets 401/403 and nothing else, and one who may is never refused.

use serde_json::json;
use tollgate_control::auth::{Grant, Need, Role};
use tollgate_control::routes::ROUTES;

use crate::common::Harness;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Persona {
    Anonymous,
    BadToken,
    ViewerHere,
    ViewerElsewhere,
    AuthorHere,
    AuthorElsewhere,
    GatewayHere,
    GatewayElsewhere,
    PlatformAdmin,
    Admin,
}

use Persona::*;

const ALL: [Persona; 10] = [
    Anonymous,
    BadToken,
    ViewerHere,
    ViewerElsewhere,
    AuthorHere,
    AuthorElsewhere,
    GatewayHere,
    GatewayElsewhere,
    PlatformAdmin,
    Admin,
];

/// The specification: who may call a route needing `need` on project `hcp`.
fn may(need: Need, who: Persona) -> bool {
    match need {
        Need::Public => true,
        Need::Authenticated => !matches!(who, Anonymous | BadToken),
        Need::Admin => who == Admin,
        Need::PlatformAdmin => matches!(who, PlatformAdmin | Admin),
        Need::Author => matches!(who, AuthorHere | PlatformAdmin | Admin),
        Need::Viewer => matches!(who, ViewerHere | AuthorHere | PlatformAdmin | Admin),
        Need::Pull => matches!(
            who,
            ViewerHere | AuthorHere | GatewayHere | PlatformAdmin | Admin
        ),
        Need::Gateway => who == GatewayHere,
    }
}

fn grants(who: Persona) -> Vec<Grant> {
    let here = Some("hcp".to_string());
    let elsewhere = Some("other".to_string());
    let g = |role, project| vec![Grant { role, project }];
    match who {
        Anonymous | BadToken => vec![],
        ViewerHere => g(Role::Viewer, here),
        ViewerElsewhere => g(Role::Viewer, elsewhere),
        AuthorHere => g(Role::PolicyAuthor, here),
        AuthorElsewhere => g(Role::PolicyAuthor, elsewhere),
        GatewayHere => g(Role::Gateway, here),
        GatewayElsewhere => g(Role::Gateway, elsewhere),
        PlatformAdmin => g(Role::PlatformAdmin, None),
        Admin => g(Role::Admin, None),
    }
}

fn concrete(path: &str) -> String {
    path.replace("{project}", "hcp")
        .replace("{group}", "prod-eu")
        .replace("{filter}", "jwt-auth")
        .replace("{name}", "idp")
        .replace("{id}", "0000000000-00000000")
}

#[tokio::test]
async fn every_route_refuses_exactly_the_callers_it_should() {
    let settings = tollgate_control::Settings {
        rate_per_second: 100_000,
        rate_burst: 100_000,
        long_poll_max: std::time::Duration::ZERO,
        ..Default::default()
    };
    let h = Harness::with(
        std::sync::Arc::new(tollgate_control::store::SqliteStore::memory().unwrap()),
        settings,
    )
    .await;
    h.project(false).await;
    h.put_json("/v1/projects/other", &h.admin, None, &json!({}))
        .await;
    let mut tokens = Vec::new();
    for who in ALL {
        let token = match who {
            Anonymous => None,
            BadToken => Some("tgt_0000_nope".to_string()),
            _ => Some(h.token(&format!("{who:?}"), grants(who)).await),
        };
        tokens.push((who, token));
    }
    let mut checked = 0;
    let mut failures = Vec::new();
    // Writes first by everyone refused, then reads; the admin's calls go last so a
    // successful write does not change what others see.
    for route in ROUTES {
        for (who, token) in &tokens {
            let path = concrete(route.path);
            let body = serde_json::to_vec(&json!({})).unwrap();
            let r = h
                .send(
                    route.method,
                    &path,
                    token.as_deref(),
                    &[("content-type", "application/json")],
                    body,
                )
                .await;
            let status = r.status.as_u16();
            let expected_allowed = may(route.need, *who);
            let refused = status == 401 || status == 403;
            if expected_allowed == refused {
                failures.push(format!(
                    "{} {} as {who:?}: {status} {}",
                    route.method,
                    route.path,
                    String::from_utf8_lossy(&r.body)
                ));
            }
            if !expected_allowed {
                let want = if matches!(who, Anonymous | BadToken) {
                    401
                } else {
                    403
                };
                if status != want {
                    failures.push(format!(
                        "{} {} as {who:?}: {status}, expected {want}",
                        route.method, route.path
                    ));
                }
            }
            checked += 1;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(checked, ROUTES.len() * ALL.len());

    // Denials were audited (not the anonymous ones: nothing to attribute them to).
    let records = h.get("/v1/audit?limit=1000", &h.admin).await.json();
    let denied = records["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["outcome"] == "denied")
        .count();
    assert!(denied > 50, "{denied}");
}

#[test]
fn routes_are_unique_and_documented_in_openapi() {
    let doc = tollgate_control::openapi::document();
    let mut seen = std::collections::BTreeSet::new();
    for r in ROUTES {
        assert!(
            seen.insert((r.method, r.path)),
            "{} {} twice",
            r.method,
            r.path
        );
        let op = &doc["paths"][r.path][r.method.to_lowercase()];
        assert_eq!(
            op["x-tollgate-role"],
            format!("{:?}", r.need),
            "{} {}",
            r.method,
            r.path
        );
        // Project routes name the project first, so the role is checked against it.
        if r.path.contains("{project}") {
            assert!(tollgate_control::routes::project_scoped(r.path));
        }
    }
}

#[tokio::test]
async fn sessions_from_login_work_until_the_api_token_is_revoked() {
    let h = Harness::new().await;
    h.project(false).await;
    let r = h
        .post_json(
            "/v1/tokens",
            &h.admin,
            &json!({"subject": "alice", "grants": [{"role": "viewer", "project": "hcp"}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.json());
    let api_token = r.json()["token"].as_str().unwrap().to_string();
    let id = r.json()["record"]["id"].as_str().unwrap().to_string();
    assert!(
        !String::from_utf8_lossy(&h.get("/v1/tokens", &h.admin).await.body)
            .contains(&api_token[20..])
    );

    let r = h.post_json("/v1/login", &api_token, &json!({})).await;
    assert_eq!(r.status, 200);
    let session = r.json()["token"].as_str().unwrap().to_string();
    assert_eq!(
        h.get("/v1/whoami", &session).await.json()["subject"],
        "alice"
    );
    assert_eq!(h.get("/v1/projects/hcp", &session).await.status, 200);

    // A forged session (signed by another key) and a bad grant shape are refused.
    let forged = {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
        use ed25519_dalek::pkcs8::EncodePrivateKey as _;
        let der = key.to_pkcs8_der().unwrap();
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
        header.kid = jsonwebtoken::decode_header(&session).unwrap().kid;
        let claims: serde_json::Value = json!({"iss": "tollgate-control", "aud": "tollgate-control", "sub": "alice", "tid": id, "iat": 1, "exp": 4_000_000_000u64});
        jsonwebtoken::encode(
            &header,
            &claims,
            &jsonwebtoken::EncodingKey::from_ed_der(der.as_bytes()),
        )
        .unwrap()
    };
    assert_eq!(h.get("/v1/whoami", &forged).await.status, 401);
    let r = h
        .post_json(
            "/v1/tokens",
            &h.admin,
            &json!({"subject": "x", "grants": [{"role": "viewer"}]}),
        )
        .await;
    assert_eq!(r.status, 400);

    let r = h
        .send(
            "DELETE",
            &format!("/v1/tokens/{id}"),
            Some(&h.admin),
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(h.get("/v1/whoami", &session).await.status, 401);
    assert_eq!(h.get("/v1/whoami", &api_token).await.status, 401);
}

#[tokio::test]
async fn requests_over_the_rate_get_429() {
    let settings = tollgate_control::Settings {
        rate_per_second: 1,
        rate_burst: 3,
        ..Default::default()
    };
    let h = Harness::with(
        std::sync::Arc::new(tollgate_control::store::SqliteStore::memory().unwrap()),
        settings,
    )
    .await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(h.get("/v1/whoami", &h.admin).await.status.as_u16());
    }
    assert_eq!(&statuses[..3], &[200, 200, 200]);
    assert!(statuses[3..].contains(&429), "{statuses:?}");
    let r = h.get("/v1/whoami", &h.admin).await;
    assert_eq!(r.code(), "rate_limited");
    assert_eq!(r.headers["retry-after"], "1");
}

#[tokio::test]
async fn global_roles_take_no_project_and_project_roles_need_one() {
    let h = Harness::new().await;
    for grant in [
        json!({"role": "admin", "project": "hcp"}),
        json!({"role": "platform-admin", "project": "hcp"}),
        json!({"role": "gateway"}),
    ] {
        let r = h
            .post_json(
                "/v1/tokens",
                &h.admin,
                &json!({"subject": "x", "grants": [grant]}),
            )
            .await;
        assert_eq!(r.status, 400, "{grant}: {}", r.json());
    }
    let r = h.post_json("/v1/tokens", &h.admin, &json!({"subject": "x", "grants": [{"role": "platform-admin"}, {"role": "viewer", "project": "hcp"}]})).await;
    assert_eq!(r.status, 201, "{}", r.json());
}

#[tokio::test]
async fn callers_see_only_their_projects() {
    let h = Harness::new().await;
    h.project(false).await;
    h.put_json("/v1/projects/other", &h.admin, None, &json!({}))
        .await;
    let viewer = h
        .token(
            "v",
            vec![Grant {
                role: Role::Viewer,
                project: Some("hcp".into()),
            }],
        )
        .await;
    let names = |v: &serde_json::Value| -> Vec<String> {
        v["projects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().or(p.as_str()).unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&h.get("/v1/projects", &viewer).await.json()), ["hcp"]);
    assert_eq!(names(&h.get("/v1/status", &viewer).await.json()), ["hcp"]);
    assert_eq!(
        names(&h.get("/v1/projects", &h.admin).await.json()),
        ["hcp", "other"]
    );
    let nobody = h.token("n", vec![]).await;
    assert!(names(&h.get("/v1/projects", &nobody).await.json()).is_empty());
}

#[tokio::test]
async fn expired_tokens_are_refused_and_sessions_live_their_ttl() {
    let h = Harness::new().await;
    let r = h
        .post_json(
            "/v1/tokens",
            &h.admin,
            &json!({"subject": "x", "grants": [], "expires_in_seconds": 0}),
        )
        .await;
    let expired = r.json()["token"].as_str().unwrap().to_string();
    let r = h.get("/v1/whoami", &expired).await;
    assert_eq!(r.status, 401);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
    let r = h
        .post_json(
            "/v1/tokens",
            &h.admin,
            &json!({"subject": "y", "grants": [], "expires_in_seconds": 3600}),
        )
        .await;
    let fresh = r.json()["token"].as_str().unwrap().to_string();
    assert_eq!(h.get("/v1/whoami", &fresh).await.status, 200);

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let session = h.post_json("/v1/login", &fresh, &json!({})).await.json();
    let expires = session["expires"].as_u64().unwrap();
    let ttl = tollgate_control::Settings::default().session_ttl_seconds;
    assert!(
        expires >= now + ttl - 5 && expires <= now + ttl + 5,
        "{expires} vs {now} + {ttl}"
    );
}
