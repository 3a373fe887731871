//! The one list of Tollgate's filters.
//!
//! `tollgate validate`, `tollgate filters` (which `scripts/build-wasm` and CI read), the
//! schema files in `deploy/`, the main job and the deploy-config tests all iterate
//! [`FILTERS`]; nothing else lists filters by hand. Adding a filter is a crate in
//! `filters/`, an entry here, its README and its configs in `deploy/<name>/`.
//!
//! Validation links each filter's own config code, so "valid" has one definition: the
//! one the filter runs in `on_configure`.

use tollgate_kit::config::ConfigError;
use tollgate_kit::{HostFacts, HostKind};

/// One filter as the rest of the project sees it.
#[derive(Debug, Clone, Copy)]
pub struct Filter {
    /// The name operators use: in configs, `deploy/<name>/`, `dist/<name>.wasm`.
    pub name: &'static str,
    /// The cargo package that builds it (a `cdylib` for wasm32-wasip1).
    pub package: &'static str,
    /// One line for listings.
    pub summary: &'static str,
    /// The config format this build reads (`tollgate.<filter>.v<n>`).
    pub config_version: &'static str,
    /// Whether it may hold a request's headers while it reads the body, which Envoy
    /// allows only with `allow_on_headers_stop_iteration: true` (response-cache's POST
    /// reads).
    pub holds_headers_for_body: bool,
    /// Parses and compiles a config as the filter does on `host`; the warnings it
    /// would log.
    check: fn(&[u8], HostFacts) -> Result<Vec<String>, ConfigError>,
    /// The config's JSON Schema, derived from its Rust types.
    schema: fn() -> schemars::Schema,
}

/// Every filter that ships, in the order the edge chains them.
pub static FILTERS: &[Filter] = &[
    Filter {
        name: "jwt-auth",
        holds_headers_for_body: false,
        package: "tollgate-jwt-auth",
        summary: "verifies JWTs (Envoy jwt_authn semantics, remote JWKS, encrypted tokens)",
        config_version: tollgate_jwt_auth::config::VERSION,
        check: |bytes, facts| tollgate_jwt_auth::config::load(bytes, facts).map(|c| c.warnings),
        schema: || schemars::schema_for!(tollgate_jwt_auth::config::JwtAuthConfig),
    },
    Filter {
        name: "rate-limit",
        holds_headers_for_body: false,
        package: "tollgate-rate-limit",
        summary: "limits request rates, exact across the proxy's workers (GCRA in shared data)",
        config_version: tollgate_rate_limit::config::VERSION,
        check: |bytes, facts| tollgate_rate_limit::config::load(bytes, facts).map(|c| c.warnings),
        schema: || schemars::schema_for!(tollgate_rate_limit::config::RateLimitConfig),
    },
    Filter {
        name: "rego-authz",
        holds_headers_for_body: false,
        package: "tollgate-rego-authz",
        summary: "evaluates Rego policies in the proxy (OPA-Envoy input and decisions, OPA bundles)",
        config_version: tollgate_rego_authz::config::VERSION,
        check: |bytes, facts| tollgate_rego_authz::config::load(bytes, facts).map(|c| c.warnings),
        schema: || schemars::schema_for!(tollgate_rego_authz::config::RegoAuthzConfig),
    },
    Filter {
        name: "response-cache",
        holds_headers_for_body: true,
        package: "tollgate-response-cache",
        summary: "caches responses per verified identity (RFC 9111, invalidation on writes, shared by every worker)",
        config_version: tollgate_response_cache::config::VERSION,
        check: |bytes, facts| {
            tollgate_response_cache::config::load(bytes, facts).map(|c| c.warnings)
        },
        schema: || schemars::schema_for!(tollgate_response_cache::config::ResponseCacheConfig),
    },
    Filter {
        name: "pii-mask",
        holds_headers_for_body: false,
        package: "tollgate-pii-mask",
        summary: "masks PII and secrets in bodies as they stream (validated detectors, JSON field rules, pseudonyms)",
        config_version: tollgate_pii_mask::config::VERSION,
        check: |bytes, facts| tollgate_pii_mask::config::load(bytes, facts).map(|c| c.warnings),
        schema: || schemars::schema_for!(tollgate_pii_mask::config::PiiMaskConfig),
    },
    Filter {
        name: "hcp-auth",
        holds_headers_for_body: false,
        package: "tollgate-hcp-auth",
        summary: "turns verified credentials into HCP management auth and S3 SigV4",
        config_version: tollgate_hcp_auth::config::VERSION,
        check: |bytes, facts| tollgate_hcp_auth::config::load(bytes, facts).map(|_| Vec::new()),
        schema: || schemars::schema_for!(tollgate_hcp_auth::config::HcpAuthConfig),
    },
];

/// The filter called `name`.
pub fn find(name: &str) -> Option<&'static Filter> {
    FILTERS.iter().find(|f| f.name == name)
}

/// Every filter's name, for listings and argument parsers.
pub fn names() -> impl Iterator<Item = &'static str> {
    FILTERS.iter().map(|f| f.name)
}

impl Filter {
    /// The file `scripts/build-wasm` writes to `dist/`.
    pub fn wasm_file(&self) -> String {
        format!("{}.wasm", self.name)
    }

    /// Checks `bytes` as this filter's config on `host`, as the filter would in
    /// `on_configure`: an error names the field's path; `Ok` carries the warnings.
    pub fn check(&self, bytes: &[u8], host: HostKind) -> Result<Vec<String>, ConfigError> {
        (self.check)(bytes, HostFacts::of(host))
    }

    /// The config's JSON Schema (draft 2020-12), pretty-printed with a final newline:
    /// the exact text of `deploy/<name>/config.schema.json`.
    pub fn schema_text(&self) -> String {
        let mut schema = (self.schema)();
        schema.insert(
            "$id".into(),
            format!("https://tollgate.dev/schemas/{}.json", self.config_version).into(),
        );
        let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
        text.push('\n');
        text
    }
}

#[cfg(test)]
#[path = "lib_tests.rs"]
mod tests;
