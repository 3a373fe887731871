//! Test support: a control service on an in-memory (or given) store, an admin token,
//! and a request helper over axum's `oneshot`.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use tollgate_control::auth::{self, Grant, Role};
use tollgate_control::store::{SharedStore, SqliteStore};
use tollgate_control::vault::MasterKey;
use tollgate_control::{AppState, Control, Settings};
use tower::ServiceExt as _;

pub const MASTER: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

#[derive(Clone)]
pub struct Harness {
    pub ctl: AppState,
    pub app: axum::Router,
    pub admin: String,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }
    pub fn etag(&self) -> String {
        self.headers
            .get("etag")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    }
}

impl Harness {
    pub async fn new() -> Self {
        Self::with(
            Arc::new(SqliteStore::memory().unwrap()),
            Settings::default(),
        )
        .await
    }

    pub async fn with(store: SharedStore, settings: Settings) -> Self {
        let ctl = Control::new(store, MasterKey::parse(MASTER).unwrap(), settings);
        let app = tollgate_control::app(ctl.clone());
        let mut h = Self {
            ctl,
            app,
            admin: String::new(),
        };
        h.admin = h
            .token(
                "admin",
                vec![Grant {
                    role: Role::Admin,
                    project: None,
                }],
            )
            .await;
        h
    }

    /// A token with `grants`, minted straight into storage.
    pub async fn token(&self, subject: &str, grants: Vec<Grant>) -> String {
        let (record, secret) = auth::mint(subject, grants, None, "test");
        tollgate_control::api::tokens::store_token(&self.ctl, &record, "test")
            .await
            .unwrap();
        secret
    }

    /// A gateway token of project `hcp`.
    pub async fn gateway(&self, subject: &str) -> String {
        self.token(
            subject,
            vec![Grant {
                role: Role::Gateway,
                project: Some("hcp".into()),
            }],
        )
        .await
    }

    pub async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let response = self
            .app
            .clone()
            .oneshot(req.body(Body::from(body)).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.send("GET", path, Some(token), &[], Vec::new()).await
    }

    pub async fn put_json(
        &self,
        path: &str,
        token: &str,
        if_match: Option<&str>,
        body: &Value,
    ) -> Reply {
        let mut headers = vec![("content-type", "application/json")];
        if let Some(m) = if_match {
            headers.push(("if-match", m));
        }
        self.send(
            "PUT",
            path,
            Some(token),
            &headers,
            serde_json::to_vec(body).unwrap(),
        )
        .await
    }

    pub async fn post_json(&self, path: &str, token: &str, body: &Value) -> Reply {
        self.send(
            "POST",
            path,
            Some(token),
            &[("content-type", "application/json")],
            serde_json::to_vec(body).unwrap(),
        )
        .await
    }

    /// A project `hcp` with group `prod-eu` (Envoy).
    pub async fn project(&self, require_approval: bool) {
        let r = self
            .put_json(
                "/v1/projects/hcp",
                &self.admin,
                None,
                &json!({"require_approval": require_approval}),
            )
            .await;
        assert!(r.status.is_success(), "{:?}", r.json());
        let r = self
            .put_json(
                "/v1/projects/hcp/groups/prod-eu",
                &self.admin,
                None,
                &json!({"host": "envoy"}),
            )
            .await;
        assert!(r.status.is_success(), "{:?}", r.json());
    }
}

pub fn repo_root() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The HCP policy bundle, packed as `.tar.gz`.
pub fn hcp_bundle() -> Vec<u8> {
    bundle_of(&repo_root().join("policies/hcp"))
}

pub fn bundle_of(dir: &Path) -> Vec<u8> {
    tollgate_rego_authz::bundle::Files::from_dir(dir, Default::default())
        .unwrap()
        .to_tar_gz()
        .unwrap()
}

pub fn files_tar_gz(files: &[(&str, &str)]) -> Vec<u8> {
    let mut f = tollgate_rego_authz::bundle::Files::default();
    for (p, t) in files {
        f.0.insert((*p).to_string(), t.as_bytes().to_vec());
    }
    f.to_tar_gz().unwrap()
}

/// The jwt-auth config the deploy directory ships.
pub fn jwt_config() -> Value {
    serde_json::from_slice(&std::fs::read(repo_root().join("deploy/jwt-auth/config.json")).unwrap())
        .unwrap()
}
