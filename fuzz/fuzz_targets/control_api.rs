//! The control service takes bodies, headers and paths from any client: arbitrary bytes
//! as the body of every write route (a config, a bundle, a project, a token, a secret,
//! a rollback, a rejection), with arbitrary `If-Match`, give an answer in the API's
//! error shape or a success, never a panic; and whatever happened, the audit chain
//! still verifies.
#![no_main]

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::Request;
use libfuzzer_sys::fuzz_target;
use tollgate_control::auth::{self, Grant, Role};
use tollgate_control::store::{SharedStore, SqliteStore};
use tollgate_control::vault::MasterKey;
use tollgate_control::{Control, Settings};
use tower::ServiceExt as _;

struct Service {
    runtime: tokio::runtime::Runtime,
    app: axum::Router,
    store: SharedStore,
    admin: String,
}

fn service() -> &'static Service {
    static SERVICE: OnceLock<Service> = OnceLock::new();
    SERVICE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let store: SharedStore = Arc::new(SqliteStore::memory().unwrap());
        let settings = Settings { rate_per_second: 1_000_000_000, rate_burst: 1_000_000_000, ..Default::default() };
        let ctl = Control::new(store.clone(), MasterKey::parse(&MasterKey::generate_text()).unwrap(), settings);
        let (record, admin) = auth::mint("fuzz", vec![Grant { role: Role::Admin, project: None }], None, "fuzz");
        let app = tollgate_control::app(ctl.clone());
        let s = Service { runtime, app, store, admin };
        s.runtime.block_on(async {
            tollgate_control::api::tokens::store_token(&ctl, &record, "fuzz").await.unwrap();
            for (path, body) in [("/v1/projects/p", "{}"), ("/v1/projects/p/groups/g", "{}")] {
                call(&s, "PUT", path, "", body.as_bytes().to_vec()).await;
            }
        });
        s
    })
}

async fn call(s: &Service, method: &str, path: &str, if_match: &str, body: Vec<u8>) -> u16 {
    let mut req = Request::builder().method(method).uri(path).header("authorization", format!("Bearer {}", s.admin));
    if !if_match.is_empty() {
        if let Ok(v) = axum::http::HeaderValue::from_str(if_match) {
            req = req.header("if-match", v);
        }
    }
    let response = s.app.clone().oneshot(req.body(Body::from(body)).unwrap()).await.unwrap();
    let status = response.status().as_u16();
    let bytes = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
    if status >= 400 {
        let v: serde_json::Value = serde_json::from_slice(&bytes).expect("errors are JSON");
        assert!(v["error"]["code"].is_string() && v["error"]["message"].is_string(), "{v}");
    }
    status
}

const ROUTES: &[(&str, &str)] = &[
    ("PUT", "/v1/projects/p/groups/g/configs/jwt-auth"),
    ("PUT", "/v1/projects/p/groups/g/configs/rego-authz"),
    ("PUT", "/v1/projects/p/groups/g/configs/hcp-auth"),
    ("PUT", "/v1/projects/p/groups/g/bundle"),
    ("PUT", "/v1/projects/p/jwks/k"),
    ("PUT", "/v1/projects/p/secrets/s"),
    ("PUT", "/v1/projects/q"),
    ("PUT", "/v1/projects/p/groups/h"),
    ("POST", "/v1/tokens"),
    ("POST", "/v1/projects/p/groups/g/configs/jwt-auth/rollback"),
    ("POST", "/v1/projects/p/changes/0000000000-00000000/reject"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let (route_method, route_path) = ROUTES[usize::from(selector) % ROUTES.len()];
    let (if_match, body) = match rest.iter().position(|b| *b == b'\n') {
        Some(i) if i < 16 => (String::from_utf8_lossy(&rest[..i]).into_owned(), rest[i + 1..].to_vec()),
        _ => (String::new(), rest.to_vec()),
    };
    let s = service();
    s.runtime.block_on(async {
        call(s, route_method, route_path, &if_match, body).await;
        let v = tollgate_control::audit::verify(&s.store).await.unwrap();
        assert!(v.intact, "{v:?}");
    });
});
