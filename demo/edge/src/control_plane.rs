//! The main job's control service: `tollgate-control` in-process on a loopback port,
//! with embedded SQLite storage in the scratch directory. Before Envoy starts, the demo
//! configs, the JWE key (as a secret) and the HCP policy bundle are pushed through its
//! HTTP API, so they are validated by the filters' own code, versioned and signed; the
//! configs Envoy runs are the resolved, signed documents a gateway token fetches, with
//! their signatures checked against the service's published keys.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use base64::Engine as _;
use serde_json::{Value, json};
use tollgate_control::auth::{self, Grant, Role};
use tollgate_control::client::field;
use tollgate_control::store::SqliteStore;
use tollgate_control::vault::MasterKey;
use tollgate_control::{Control, Settings};

/// The project and gateway group the demo edge belongs to.
pub const PROJECT: &str = "hcp";
pub const GROUP: &str = "edge";

/// The HCP policy bundle (`policies/hcp`), embedded.
const BUNDLE_FILES: &[(&str, &str)] = &[
    (".manifest", include_str!("../../../policies/hcp/.manifest")),
    (
        "hcp/authz.rego",
        include_str!("../../../policies/hcp/hcp/authz.rego"),
    ),
    (
        "hcp/authz_test.rego",
        include_str!("../../../policies/hcp/hcp/authz_test.rego"),
    ),
];

pub struct ControlPlane {
    runtime: tokio::runtime::Runtime,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<Result<()>>>,
    pub url: String,
    /// The admin's API token, also written (0600) to `token_file`.
    admin: String,
    pub token_file: PathBuf,
    http: reqwest::Client,
}

/// A config as the gateway received it.
pub struct Published {
    pub filter: String,
    pub config: String,
    pub revision: u64,
}

impl ControlPlane {
    pub fn start(scratch: &Path) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let store = SqliteStore::open(&scratch.join("control.db"))?;
        let master = MasterKey::parse(&MasterKey::generate_text()).map_err(anyhow::Error::msg)?;
        let ctl = Control::new(std::sync::Arc::new(store), master, Settings::default());
        let (record, admin) = auth::mint(
            "demo-admin",
            vec![Grant {
                role: Role::Admin,
                project: None,
            }],
            None,
            "tollgate-demo",
        );
        let token_file = scratch.join("control-admin.token");
        let (listener, stop_rx) = runtime.block_on(async {
            tollgate_control::api::tokens::store_token(&ctl, &record, "tollgate-demo")
                .await
                .map_err(|e| anyhow::anyhow!(e.message))?;
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            anyhow::Ok((listener, tokio::sync::oneshot::channel::<()>()))
        })?;
        let url = format!("http://{}", listener.local_addr()?);
        let (stop, wait) = stop_rx;
        let served = runtime.spawn(tollgate_control::serve::serve(listener, ctl, async move {
            let _ = wait.await;
        }));
        tollgate_control::serve::write_private(&token_file, &format!("{admin}\n"))?;
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()?;
        Ok(Self {
            runtime,
            stop: Some(stop),
            served: Some(served),
            url,
            admin,
            token_file,
            http,
        })
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<(Vec<u8>, &str)>,
    ) -> Result<reqwest::Response> {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.url))
            .bearer_auth(token);
        if let Some((bytes, content_type)) = body {
            req = req.header("content-type", content_type).body(bytes);
        }
        let r = req
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        if !r.status().is_success() {
            let status = r.status();
            bail!(
                "{method} {path}: {status}: {}",
                r.text().await.unwrap_or_default()
            );
        }
        Ok(r)
    }

    async fn put_json(&self, path: &str, body: &Value) -> Result<Value> {
        let r = self
            .call(
                reqwest::Method::PUT,
                path,
                &self.admin,
                Some((serde_json::to_vec(body)?, "application/json")),
            )
            .await?;
        Ok(r.json().await?)
    }

    /// Pushes the demo's secret, bundle and configs, then fetches what the gateway runs.
    pub fn publish(&self, configs: &[(&str, &str)]) -> Result<Vec<Published>> {
        self.runtime.block_on(self.publish_async(configs))
    }

    async fn publish_async(&self, configs: &[(&str, &str)]) -> Result<Vec<Published>> {
        let project = format!("/v1/projects/{PROJECT}");
        let group = format!("{project}/groups/{GROUP}");
        self.put_json(&project, &json!({})).await?;
        self.put_json(&group, &json!({"host": "envoy"})).await?;
        let jwe_key =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(crate::demo_idp::JWE_KEY);
        self.put_json(
            &format!("{project}/secrets/demo-jwe-key"),
            &json!({"value": jwe_key}),
        )
        .await?;

        let mut files = tollgate_rego_authz::bundle::Files::default();
        for (path, text) in BUNDLE_FILES {
            files
                .0
                .insert((*path).to_string(), text.as_bytes().to_vec());
        }
        let bundle = files.to_tar_gz().map_err(anyhow::Error::msg)?;
        let pushed: Value = self
            .call(
                reqwest::Method::PUT,
                &format!("{group}/bundle"),
                &self.admin,
                Some((bundle, "application/gzip")),
            )
            .await?
            .json()
            .await?;
        let tests = field(&pushed, "/validation/tests")
            .as_array()
            .map_or(0, Vec::len);
        println!(
            "control: bundle policies/hcp pushed: revision {}, {tests} policy tests passed, signed",
            field(&pushed, "/revision/number")
        );

        for (filter, config) in configs {
            let value: Value =
                serde_json::from_str(config).with_context(|| format!("configs/{filter}.json"))?;
            let r = self
                .put_json(&format!("{group}/configs/{filter}"), &value)
                .await?;
            println!(
                "control: {filter} config pushed: revision {}",
                field(&r, "/revision/number")
            );
        }

        // The gateway's side: its own token, the published keys, signed documents.
        let gateway: Value = self
            .call(reqwest::Method::POST, "/v1/tokens", &self.admin, Some((serde_json::to_vec(&json!({"subject": "gateway-edge", "grants": [{"role": "gateway", "project": PROJECT}]}))?, "application/json")))
            .await?
            .json()
            .await?;
        let gateway_token = field(&gateway, "/token")
            .as_str()
            .context("no gateway token")?
            .to_string();
        let keys: Value = self
            .http
            .get(format!("{}/v1/signing-keys", self.url))
            .send()
            .await?
            .json()
            .await?;
        let mut out = Vec::new();
        for (filter, _) in configs {
            let r = self
                .call(
                    reqwest::Method::GET,
                    &format!("{group}/configs/{filter}/resolved"),
                    &gateway_token,
                    None,
                )
                .await?;
            let signature = r
                .headers()
                .get("tollgate-signature")
                .and_then(|v| v.to_str().ok())
                .context("no signature")?
                .to_string();
            let body = r.bytes().await?.to_vec();
            let revision =
                tollgate_control::gateway::verify_resolved(&signature, &body, &keys, filter)?;
            out.push(Published {
                filter: (*filter).to_string(),
                config: String::from_utf8(body)?,
                revision,
            });
        }
        Ok(out)
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(served) = self.served.take() {
            let _ = self.runtime.block_on(async {
                tokio::time::timeout(std::time::Duration::from_secs(10), served).await
            });
        }
    }
}
