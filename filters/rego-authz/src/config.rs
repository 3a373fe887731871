//! rego-authz's configuration: parsed with `deny_unknown_fields`, then compiled once
//! (the policy included: a config whose policy does not compile is refused, and the
//! previous one keeps serving). Every field is documented with its default and example.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;
use tollgate_kit::config::{Compile, ConfigError};
use tollgate_kit::{HostFacts, HostKind};

use crate::bundle::{Bundle, Files, Limits, Manifest};
use crate::engine::{Budget, Module, Policy, Sources};
use crate::signature::{Verification, VerificationKey};

/// The config format this build reads.
pub const VERSION: &str = "tollgate.rego_authz.v1";

/// The filter's configuration.
///
/// ```json
/// {"policy": {"modules": {"authz.rego": "package envoy.authz\ndefault allow := false\nallow if input.attributes.request.http.method == \"GET\""}},
///  "query": "data.envoy.authz.allow"}
/// ```
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RegoAuthzConfig {
    /// The config format, [`VERSION`]. Optional; any other value is refused.
    /// Example: `"tollgate.rego_authz.v1"`.
    #[serde(default)]
    pub version: Option<String>,
    /// The policy: inline modules and data, or an OPA bundle. Required.
    pub policy: PolicyConfig,
    /// The rule whose value is the decision: a boolean, or an object with OPA-Envoy's
    /// fields (`allowed`, `headers`, `request_headers_to_remove`,
    /// `response_headers_to_add`, `http_status`, `body`, `dynamic_metadata`).
    /// Default: `"data.envoy.authz.allow"`. Example: `"data.hcp.authz.decision"`.
    #[serde(default = "default_query")]
    pub query: String,
    /// `enforce` applies decisions; `shadow` evaluates, logs and counts, and never
    /// blocks (a dry run). Default: `"enforce"`.
    #[serde(default)]
    pub mode: Mode,
    /// Read the request body for the policy (`input.attributes.request.http.body`,
    /// `parsed_body`): headers are held until the body is read, and the decision is
    /// made once. Default: none (the body is never read). Example: `{"max_bytes": 8192}`.
    #[serde(default)]
    pub with_body: Option<BodyConfig>,
    /// Status of a denied request when the policy does not set `http_status`.
    /// Default: `403`.
    #[serde(default = "default_deny_status")]
    pub deny_status: u16,
    /// Status when the policy fails (an error, an undefined decision, the budget
    /// exceeded): the request is refused, never let through. Default: `500`.
    /// Example: `503`.
    #[serde(default = "default_error_status")]
    pub error_status: u16,
    /// Limits on one evaluation. Default: `{"time_ms": 50}`.
    #[serde(default)]
    pub budget: BudgetConfig,
    /// Cache decisions keyed by the values at some input paths. Default: none.
    /// Example: `{"keys": ["token.sub", "request.http.method", "parsed_path"],
    /// "ttl_seconds": 30, "max_entries": 10000}`.
    #[serde(default)]
    pub decision_cache: Option<CacheConfig>,
    /// Send decisions, batched, in OPA's decision-log shape. Default: none.
    /// Example: `{"upstream": "opa_logs", "path": "/logs"}`.
    #[serde(default)]
    pub decision_logs: Option<DecisionLogConfig>,
    /// The header in which jwt-auth forwards the verified payload; its claims become
    /// `input.token`. jwt-auth removes inbound copies, so rego-authz must come after
    /// it. Default: `"x-tollgate-jwt-payload"`.
    #[serde(default = "default_token_header")]
    pub token_header: String,
    /// The stream property that receives the decision's `dynamic_metadata` (JSON), for
    /// later filters and access logs. Default: `"tollgate_rego_metadata"` (on APISIX,
    /// declare it: `set $tollgate_rego_metadata '';`).
    #[serde(default = "default_metadata_property")]
    pub metadata_property: String,
}

fn default_query() -> String {
    "data.envoy.authz.allow".into()
}
fn default_deny_status() -> u16 {
    403
}
fn default_error_status() -> u16 {
    500
}
fn default_token_header() -> String {
    tollgate_kit::contract::PAYLOAD_HEADER.into()
}
fn default_metadata_property() -> String {
    tollgate_kit::contract::POLICY_METADATA_PROPERTY.into()
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Enforce,
    Shadow,
}

/// Where the policy comes from: exactly one of `modules` (with optional `data`) or
/// `bundle`.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// Rego modules by file name. Default: `{}`.
    /// Example: `{"authz.rego": "package envoy.authz\n…"}`.
    #[serde(default)]
    pub modules: BTreeMap<String, String>,
    /// The base document under `data`. Default: `{}`. Example: `{"roles": {"alice": "admin"}}`.
    #[serde(default)]
    pub data: Option<serde_json::Value>,
    /// An OPA bundle (`.tar.gz`, base64). Default: none.
    #[serde(default)]
    pub bundle: Option<String>,
    /// Keys that sign bundles; when set, an unsigned or badly signed bundle is refused.
    /// Default: none. Example: `{"keys": {"global": {"algorithm": "RS256", "key": "-----BEGIN PUBLIC KEY-----…"}}}`.
    #[serde(default)]
    pub signing: Option<SigningConfig>,
    /// Parse inline modules as Rego v0 (before OPA 1.0). Bundles say it in their
    /// manifest (`rego_version`). Default: `false`.
    #[serde(default)]
    pub rego_v0: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SigningConfig {
    /// Verification keys by id (OPA's `keys`). Required.
    pub keys: BTreeMap<String, KeyConfig>,
    /// Use this key whatever the signature names (OPA's `keyid`). Default: the
    /// signature's `kid`. Example: `"global"`.
    #[serde(default)]
    pub key_id: Option<String>,
    /// The scope signatures must carry. Default: the key's.
    #[serde(default)]
    pub scope: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    /// `RS256` and the other JWS algorithms except `none`. Default: `"RS256"`.
    #[serde(default = "default_alg")]
    pub algorithm: String,
    /// A PEM public key, or the HMAC secret. Required.
    pub key: String,
    /// The scope bundles signed with this key carry. Default: `""`.
    #[serde(default)]
    pub scope: String,
}

fn default_alg() -> String {
    "RS256".into()
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct BodyConfig {
    /// The most body bytes the policy sees; a longer body is cut there and
    /// `truncated_body` is `true`. Default: `8192`. Example: `65536`.
    #[serde(default = "default_body_bytes")]
    pub max_bytes: usize,
}

fn default_body_bytes() -> usize {
    8192
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct BudgetConfig {
    /// Wall time one evaluation may take, in milliseconds: a guard against runaway
    /// policies, not a latency target. It is wall time, so it includes any time the
    /// worker thread is descheduled; on a busy machine that alone can reach several
    /// milliseconds, and a budget close to a policy's own cost fails requests closed
    /// at random. Default: `50`. Example: `20`.
    #[serde(default = "default_time_ms")]
    pub time_ms: u64,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        Self {
            time_ms: default_time_ms(),
        }
    }
}

fn default_time_ms() -> u64 {
    // Typical policies take tens of microseconds; 50 ms leaves room for preemption
    // (5 ms failed one request in a few thousand on a loaded 2-core machine) and
    // still stops a runaway policy long before Envoy's usual route timeouts.
    50
}

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    /// Input paths whose values key the cache (dotted; `request.…`, `source.…` and
    /// `destination.…` are short for `attributes.…`). The decision must depend on
    /// nothing else. Required. Example: `["token.sub", "request.http.method", "parsed_path"]`.
    pub keys: Vec<String>,
    /// How long a decision is reused. Default: `30`.
    #[serde(default = "default_ttl")]
    pub ttl_seconds: u64,
    /// The most decisions kept per worker; the least recently used goes first.
    /// Default: `10000`.
    #[serde(default = "default_entries")]
    pub max_entries: usize,
}

fn default_ttl() -> u64 {
    30
}
fn default_entries() -> usize {
    10_000
}

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct DecisionLogConfig {
    /// Where batches go: an Envoy cluster, or `host:port` on Kong. Required.
    /// Example: `"opa_logs"`.
    pub upstream: String,
    /// The path batches are POSTed to. Default: `"/logs"`.
    #[serde(default = "default_log_path")]
    pub path: String,
    /// The `:authority` of the POST. Default: the upstream's name.
    #[serde(default)]
    pub authority: Option<String>,
    /// Decisions per batch. Default: `100`.
    #[serde(default = "default_batch")]
    pub max_batch: usize,
    /// Decisions waiting at most; more are dropped and counted. Default: `1000`.
    #[serde(default = "default_queue")]
    pub max_queue: usize,
    /// How often a batch is sent, in milliseconds. Default: `2000`.
    #[serde(default = "default_flush_ms")]
    pub flush_ms: u64,
    /// Send batches gzip-compressed (`Content-Encoding: gzip`), as OPA's decision-log
    /// service API expects. Default: `true`.
    #[serde(default = "default_true")]
    pub gzip: bool,
    /// Timeout of one POST, in milliseconds. Default: `5000`.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Fields erased from logged events (`/input/…` or `/result/…`, as OPA's mask
    /// paths). The `authorization`, `proxy-authorization` and `cookie` headers and the
    /// token header are always erased. Default: `[]`.
    /// Example: `["/input/attributes/request/http/headers/x-api-key", "/input/parsed_body/password"]`.
    #[serde(default)]
    pub mask: Vec<String>,
    /// `labels` in every event (OPA's `labels`). Default: `{}`.
    /// Example: `{"id": "edge-1", "region": "eu"}`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

fn default_true() -> bool {
    true
}

fn default_log_path() -> String {
    "/logs".into()
}
fn default_batch() -> usize {
    100
}
fn default_queue() -> usize {
    1000
}
fn default_flush_ms() -> u64 {
    2000
}
fn default_timeout_ms() -> u64 {
    5000
}

/// The compiled config.
#[derive(Debug)]
pub struct Compiled {
    pub policy: Policy,
    /// The bundle's manifest (revision, roots), when the policy came in one.
    pub manifest: Option<Manifest>,
    pub mode: Mode,
    pub body_limit: Option<usize>,
    pub deny_status: u32,
    pub error_status: u32,
    pub cache: Option<CacheSettings>,
    pub logs: Option<DecisionLogConfig>,
    pub token_header: String,
    pub metadata_property: String,
    /// What this host cannot do, said once at configure time.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct CacheSettings {
    /// Each key as path segments into the input document.
    pub keys: Vec<Vec<String>>,
    pub ttl: Duration,
    pub max_entries: usize,
}

fn status(path: &str, code: u16) -> Result<u32, ConfigError> {
    if (200..=599).contains(&code) {
        Ok(u32::from(code))
    } else {
        Err(ConfigError::new(
            path,
            "expected an HTTP status from 200 to 599",
        ))
    }
}

/// `request.http.method` → `["attributes", "request", "http", "method"]`.
pub fn input_path(text: &str) -> Result<Vec<String>, String> {
    let parts: Vec<String> = text.split('.').map(str::to_string).collect();
    if parts.iter().any(String::is_empty) {
        return Err(format!("`{text}` is not a dotted input path"));
    }
    Ok(match parts.first().map(String::as_str) {
        Some("request" | "source" | "destination") => std::iter::once("attributes".to_string())
            .chain(parts)
            .collect(),
        _ => parts,
    })
}

fn valid_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

impl PolicyConfig {
    fn verification(&self) -> Result<Option<Verification>, ConfigError> {
        let Some(s) = &self.signing else {
            return Ok(None);
        };
        if s.keys.is_empty() {
            return Err(ConfigError::new(
                "policy.signing.keys",
                "expected at least one key",
            ));
        }
        let mut keys = BTreeMap::new();
        for (id, k) in &s.keys {
            let at = format!("policy.signing.keys.{id}");
            let algorithm = tollgate_jwt_auth::Alg::parse(&k.algorithm)
                .map_err(|d| ConfigError::new(format!("{at}.algorithm"), d.message))?;
            keys.insert(
                id.clone(),
                VerificationKey {
                    algorithm,
                    key: k.key.clone(),
                    scope: k.scope.clone(),
                },
            );
        }
        if let Some(id) = &s.key_id
            && !keys.contains_key(id)
        {
            return Err(ConfigError::new(
                "policy.signing.key_id",
                format!("no key is called `{id}`"),
            ));
        }
        Ok(Some(Verification {
            keys,
            key_id: s.key_id.clone(),
            scope: s.scope.clone(),
        }))
    }

    /// The policy's sources: the inline modules, or the bundle (verified first).
    pub fn sources(&self) -> Result<(Sources, Option<Manifest>), ConfigError> {
        let verification = self.verification()?;
        match &self.bundle {
            Some(b64) => {
                if !self.modules.is_empty() || self.data.is_some() {
                    return Err(ConfigError::new(
                        "policy",
                        "give `modules`/`data` or `bundle`, not both",
                    ));
                }
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .map_err(|e| ConfigError::new("policy.bundle", format!("not base64: {e}")))?;
                let files = Files::from_tar_gz(&bytes, Limits::default())
                    .map_err(|e| ConfigError::new("policy.bundle", e))?;
                let bundle = verified_bundle(files, verification.as_ref())
                    .map_err(|e| ConfigError::new("policy.bundle", e))?;
                Ok((bundle.sources, Some(bundle.manifest)))
            }
            None => {
                if verification.is_some() {
                    return Err(ConfigError::new(
                        "policy.signing",
                        "signing applies to bundles; inline modules cannot be signed",
                    ));
                }
                if self.modules.is_empty() {
                    return Err(ConfigError::new("policy", "expected `modules` or `bundle`"));
                }
                let data = self.data.clone().unwrap_or(serde_json::Value::Null);
                if !(data.is_null() || data.is_object()) {
                    return Err(ConfigError::new("policy.data", "expected an object"));
                }
                Ok((
                    Sources {
                        modules: self
                            .modules
                            .iter()
                            .map(|(name, text)| Module {
                                name: name.clone(),
                                text: text.clone(),
                            })
                            .collect(),
                        data,
                        rego_v0: self.rego_v0,
                        roots: None,
                    },
                    None,
                ))
            }
        }
    }
}

/// Reads a bundle's files, verifying the signature first when keys are configured.
pub fn verified_bundle(
    files: Files,
    verification: Option<&Verification>,
) -> Result<Bundle, String> {
    if let Some(v) = verification {
        crate::signature::verify(&files, v)?;
    }
    Bundle::from_files(files)
}

impl Compile for RegoAuthzConfig {
    type Compiled = Compiled;
    const VERSION: &'static str = VERSION;

    fn compile(self) -> Result<Compiled, ConfigError> {
        compile_on(self, HostFacts::default())
    }
}

/// Compiles for `facts`' host: what the host cannot do is turned off with a warning.
pub fn compile_on(c: RegoAuthzConfig, facts: HostFacts) -> Result<Compiled, ConfigError> {
    tollgate_kit::config::check_version(c.version.as_deref(), VERSION)?;
    let deny_status = status("deny_status", c.deny_status)?;
    let error_status = status("error_status", c.error_status)?;
    if c.budget.time_ms == 0 || c.budget.time_ms > 10_000 {
        return Err(ConfigError::new("budget.time_ms", "expected 1 to 10000"));
    }
    let token_header = c.token_header.to_ascii_lowercase();
    if !valid_header_name(&token_header) {
        return Err(ConfigError::new("token_header", "expected a header name"));
    }
    if c.metadata_property.is_empty() {
        return Err(ConfigError::new(
            "metadata_property",
            "expected a property name",
        ));
    }
    let body_limit = match c.with_body {
        Some(b) if b.max_bytes == 0 || b.max_bytes > 16 * 1024 * 1024 => {
            return Err(ConfigError::new(
                "with_body.max_bytes",
                "expected 1 to 16777216",
            ));
        }
        Some(b) => Some(b.max_bytes),
        None => None,
    };
    let cache = match c.decision_cache {
        None => None,
        Some(cc) => {
            if cc.keys.is_empty() {
                return Err(ConfigError::new(
                    "decision_cache.keys",
                    "expected at least one input path",
                ));
            }
            let mut keys = Vec::new();
            for (i, k) in cc.keys.iter().enumerate() {
                keys.push(
                    input_path(k)
                        .map_err(|e| ConfigError::new(format!("decision_cache.keys[{i}]"), e))?,
                );
            }
            if cc.max_entries == 0 {
                return Err(ConfigError::new(
                    "decision_cache.max_entries",
                    "expected at least 1",
                ));
            }
            if cc.ttl_seconds == 0 {
                return Err(ConfigError::new(
                    "decision_cache.ttl_seconds",
                    "expected at least 1",
                ));
            }
            Some(CacheSettings {
                keys,
                ttl: Duration::from_secs(cc.ttl_seconds),
                max_entries: cc.max_entries,
            })
        }
    };
    let mut warnings = Vec::new();
    let logs = match c.decision_logs {
        None => None,
        Some(l) => {
            if l.upstream.is_empty() {
                return Err(ConfigError::new(
                    "decision_logs.upstream",
                    "expected a cluster or host:port",
                ));
            }
            if !l.path.starts_with('/') {
                return Err(ConfigError::new(
                    "decision_logs.path",
                    "expected a path starting with `/`",
                ));
            }
            if l.max_batch == 0 || l.max_queue < l.max_batch {
                return Err(ConfigError::new(
                    "decision_logs.max_queue",
                    "expected max_batch ≥ 1 and max_queue ≥ max_batch",
                ));
            }
            if l.flush_ms == 0 || l.timeout_ms == 0 {
                return Err(ConfigError::new(
                    "decision_logs.flush_ms",
                    "expected at least 1 ms",
                ));
            }
            for (i, m) in l.mask.iter().enumerate() {
                if !(m.starts_with("/input/") || m.starts_with("/result/")) {
                    return Err(ConfigError::new(
                        format!("decision_logs.mask[{i}]"),
                        "expected a path under /input/ or /result/",
                    ));
                }
            }
            if facts.kind == HostKind::Apisix {
                warnings.push(
                    "decision_logs disabled: APISIX has no timers to send batches from".into(),
                );
                None
            } else {
                Some(l)
            }
        }
    };
    let (sources, manifest) = c.policy.sources()?;
    let budget = Budget {
        time: Duration::from_millis(c.budget.time_ms),
    };
    let policy = Policy::compile(&sources, &c.query, budget).map_err(|e| {
        let at = if c.policy.bundle.is_some() {
            "policy.bundle"
        } else {
            "policy.modules"
        };
        ConfigError::new(at, e.0)
    })?;
    Ok(Compiled {
        policy,
        manifest,
        mode: c.mode,
        body_limit,
        deny_status,
        error_status,
        cache,
        logs,
        token_header,
        metadata_property: c.metadata_property,
        warnings,
    })
}

/// Parses then compiles for `facts`' host: what `on_configure` and `tollgate validate`
/// both call.
pub fn load(bytes: &[u8], facts: HostFacts) -> Result<Compiled, ConfigError> {
    #[derive(Deserialize)]
    struct Versioned {
        #[serde(default)]
        version: Option<serde_json::Value>,
    }
    if let Ok(Versioned { version: Some(v) }) = serde_json::from_slice::<Versioned>(bytes) {
        let found = v.as_str().ok_or_else(|| {
            ConfigError::new("version", format!("expected the string `{VERSION}`"))
        })?;
        tollgate_kit::config::check_version(Some(found), VERSION)?;
    }
    let parsed: RegoAuthzConfig = tollgate_kit::config::parse(bytes)?;
    compile_on(parsed, facts)
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
