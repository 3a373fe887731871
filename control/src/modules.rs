//! The filters' wasm modules, served by content.
//!
//! An ECDS resource names its module by SHA-256 and a URL on this service
//! (`GET /v1/modules/{sha256}`). Envoy fetches it once, checks the digest, and caches it
//! by digest, so a config change that keeps the module costs no download, and a VM
//! whose code is unchanged is reused (its shared data survives the update).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// One filter's module.
#[derive(Debug)]
pub struct Module {
    pub filter: &'static str,
    pub sha256: String,
    pub bytes: Bytes,
}

/// The modules this service hands out, by filter and by digest.
#[derive(Debug, Default)]
pub struct Modules {
    by_filter: BTreeMap<&'static str, Arc<Module>>,
}

impl Modules {
    /// Reads `<dir>/<filter>.wasm` for every catalog filter present there. A filter
    /// without a module can still be pulled; ECDS refuses it by name.
    pub fn load(dir: &Path) -> Result<Self> {
        let mut by_filter = BTreeMap::new();
        for filter in tollgate_catalog::FILTERS {
            let path = dir.join(filter.wasm_file());
            if !path.exists() {
                continue;
            }
            let bytes = std::fs::read(&path)
                .with_context(|| format!("reading the module {}", path.display()))?;
            let module = Module {
                filter: filter.name,
                sha256: crate::docs::digest(&bytes),
                bytes: Bytes::from(bytes),
            };
            by_filter.insert(filter.name, Arc::new(module));
        }
        Ok(Self { by_filter })
    }

    pub fn for_filter(&self, filter: &str) -> Option<&Arc<Module>> {
        self.by_filter.get(filter)
    }

    pub fn by_sha256(&self, sha256: &str) -> Option<&Arc<Module>> {
        self.by_filter.values().find(|m| m.sha256 == sha256)
    }

    pub fn len(&self) -> usize {
        self.by_filter.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_filter.is_empty()
    }
}

/// `GET /v1/modules/{sha256}`: a module by digest. Public: the modules are the
/// published filters, and the digest is the only name a gateway needs.
pub async fn get(
    State(ctl): State<AppState>,
    UrlPath(sha256): UrlPath<String>,
) -> ApiResult<Response> {
    let module = ctl
        .settings
        .ecds
        .modules
        .by_sha256(&sha256)
        .ok_or_else(|| ApiError::not_found(format!("no module with SHA-256 `{sha256}`")))?;
    let mut response = module.bytes.clone().into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/wasm"),
    );
    // Content-addressed: it never changes under this name.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", module.sha256)) {
        h.insert(header::ETAG, v);
    }
    Ok(response)
}
