//! The `tollgate` CLI's side of the API: a small client that keeps the session from
//! `tollgate login`, sends requests, and turns the API's error shape into exit codes a
//! script can use.

use std::path::PathBuf;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Exit codes (stable, documented in `tollgate --help`).
pub mod exit {
    pub const OK: u8 = 0;
    /// Anything not listed below (bad local files, network errors).
    pub const FAILURE: u8 = 1;
    /// Command-line usage (clap's own).
    pub const USAGE: u8 = 2;
    /// The server refused the content: invalid config or bundle, failing policy test.
    pub const INVALID: u8 = 3;
    /// Someone changed it first (409), or `--if-match` is needed (428).
    pub const CONFLICT: u8 = 4;
    /// Not logged in, or not allowed (401, 403).
    pub const DENIED: u8 = 5;
    pub const NOT_FOUND: u8 = 6;
    /// The server is unavailable, rate-limits, or failed (429, 5xx).
    pub const UNAVAILABLE: u8 = 7;
}

/// An error with the exit code it maps to.
#[derive(Debug)]
pub struct CliError {
    pub code: u8,
    pub message: String,
    /// The server's error body, for `--json`.
    pub body: Option<Value>,
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

impl CliError {
    pub fn local(e: impl std::fmt::Display) -> Self {
        Self {
            code: exit::FAILURE,
            message: e.to_string(),
            body: None,
        }
    }

    fn from_status(status: u16, body: Value) -> Self {
        let code = match status {
            400 | 413 | 422 => exit::INVALID,
            409 | 412 | 428 => exit::CONFLICT,
            401 | 403 => exit::DENIED,
            404 => exit::NOT_FOUND,
            _ => exit::UNAVAILABLE,
        };
        let message = field(&body, "/error/message")
            .as_str()
            .map_or_else(|| format!("the server answered {status}"), str::to_string);
        Self {
            code,
            message,
            body: Some(body),
        }
    }
}

/// A member of a JSON answer by JSON pointer (`/a/b`); `null` when absent.
pub fn field<'a>(v: &'a Value, pointer: &str) -> &'a Value {
    v.pointer(pointer).unwrap_or(&Value::Null)
}

pub type CliResult<T> = Result<T, CliError>;

/// What `tollgate login` keeps (mode 0600).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub server: String,
    pub token: String,
    pub expires: u64,
}

/// `$TOLLGATE_CONFIG_DIR`, else `$XDG_CONFIG_HOME/tollgate`, else `~/.config/tollgate`.
pub fn config_dir() -> PathBuf {
    if let Ok(d) = std::env::var("TOLLGATE_CONFIG_DIR") {
        return PathBuf::from(d);
    }
    if let Ok(d) = std::env::var("XDG_CONFIG_HOME") {
        return PathBuf::from(d).join("tollgate");
    }
    std::env::var("HOME").map_or_else(
        |_| PathBuf::from(".tollgate"),
        |h| PathBuf::from(h).join(".config/tollgate"),
    )
}

pub fn session_path() -> PathBuf {
    config_dir().join("session.json")
}

pub fn save_session(session: &Session) -> anyhow::Result<()> {
    let path = session_path();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let _ = std::fs::remove_file(&path);
    crate::serve::write_private(&path, &serde_json::to_string_pretty(session)?)
}

pub struct Client {
    http: reqwest::Client,
    pub server: String,
    token: Option<String>,
}

/// A response that succeeded.
pub struct Ok2xx {
    pub status: u16,
    pub etag: Option<String>,
    pub body: Value,
}

impl Client {
    /// The server and token: flags and `TOLLGATE_SERVER`/`TOLLGATE_TOKEN` first, then
    /// the saved session.
    pub fn new(server: Option<String>, token: Option<String>) -> anyhow::Result<Self> {
        let session: Option<Session> = std::fs::read(session_path())
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        let server = server
            .or_else(|| session.as_ref().map(|s| s.server.clone()))
            .context("no server: run `tollgate login --server URL` or pass --server")?;
        let token = token.or_else(|| session.map(|s| s.token));
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(120))
            .build()?;
        Ok(Self {
            http,
            server: server.trim_end_matches('/').to_string(),
            token,
        })
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        headers: &[(&str, String)],
        body: Option<(Vec<u8>, &str)>,
    ) -> CliResult<Ok2xx> {
        let mut req = self.http.request(method, format!("{}{path}", self.server));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        if let Some((bytes, content_type)) = body {
            req = req.header("content-type", content_type).body(bytes);
        }
        let response = req.send().await.map_err(|e| CliError {
            code: exit::UNAVAILABLE,
            message: format!("{}: {e}", self.server),
            body: None,
        })?;
        let status = response.status().as_u16();
        let etag = response
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(|s| s.trim_matches('"').to_string());
        let text = response.text().await.map_err(CliError::local)?;
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if (200..300).contains(&status) {
            Ok(Ok2xx { status, etag, body })
        } else {
            Err(CliError::from_status(status, body))
        }
    }

    pub async fn get(&self, path: &str) -> CliResult<Ok2xx> {
        self.send(reqwest::Method::GET, path, &[], None).await
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> CliResult<Ok2xx> {
        let bytes = serde_json::to_vec(body).map_err(CliError::local)?;
        self.send(
            reqwest::Method::POST,
            path,
            &[],
            Some((bytes, "application/json")),
        )
        .await
    }

    /// The current revision number of a document, `None` when it does not exist.
    pub async fn current_revision(&self, path: &str) -> CliResult<Option<u64>> {
        match self.get(path).await {
            Ok(r) => Ok(field(&r.body, "/revision/number").as_u64()),
            Err(e) if e.code == exit::NOT_FOUND => Ok(None),
            Err(e) => Err(e),
        }
    }
}
