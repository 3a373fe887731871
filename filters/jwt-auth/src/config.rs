//! jwt-auth's configuration: parsed with `deny_unknown_fields`, then compiled once (keys
//! parsed, regexes built, requirement trees resolved to provider indices). Every field
//! is documented with its default and an example.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;
use tollgate_kit::config::{Compile, ConfigError};
use tollgate_kit::path::PathHandling;
use tollgate_kit::route::{MatchConfig, Matcher};

use crate::alg::Alg;
use crate::claims::{ClaimPolicy, ClaimRule, Match};
use crate::extract::Source;
use crate::jwe::Decryptor;
use crate::jwks::{Key, KeySet};
use crate::remote::RemotePolicy;
use crate::requirement::Requirement;

/// The filter's configuration.
///
/// ```json
/// {"providers": {"idp": {"issuer": "https://idp.example", "audiences": ["api"],
///                        "keys": {"jwks": {"keys": [ … ]}}}},
///  "rules": [{"match": {"prefix": "/api"}, "requires": {"provider": "idp"}}]}
/// ```
/// The config format this build reads.
pub const VERSION: &str = "tollgate.jwt_auth.v1";

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct JwtAuthConfig {
    /// The config format, [`VERSION`]. Optional; any other value is refused.
    /// Example: `"tollgate.jwt_auth.v1"`.
    #[serde(default)]
    pub version: Option<String>,
    /// Token issuers by name. Required: at least one.
    pub providers: BTreeMap<String, ProviderConfig>,
    /// Evaluated in order; the first whose `match` fits decides. A request no rule
    /// matches passes unverified. Default: `[]`.
    #[serde(default)]
    pub rules: Vec<RuleConfig>,
    /// Largest token accepted, in bytes. Default: `8192`. Example: `16384`.
    #[serde(default = "default_max_token_bytes")]
    pub max_token_bytes: usize,
    /// Verified tokens remembered per worker (LRU; each entry also expires with the
    /// token's `exp`), so a repeated token skips the signature check. `0` disables.
    /// Default: `1024`. Example: `4096`.
    #[serde(default = "default_cache_entries")]
    pub cache_entries: usize,
    /// What to do with request paths that are not in normal form before rules match
    /// them: `normalize` (match and forward the normal form; refuse encoded slashes and
    /// other ambiguous paths with 400), `reject` (refuse every path not in normal form)
    /// or `as_is` (only behind a host that normalizes, such as Envoy with
    /// `normalize_path`). Default: `"normalize"`. Example: `"reject"`.
    #[serde(default)]
    pub paths: PathHandling,
}

fn default_cache_entries() -> usize {
    1024
}

fn default_max_token_bytes() -> usize {
    crate::token::DEFAULT_MAX_BYTES
}

/// One token issuer.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// Required `iss`. Default: not checked. Example: `"https://idp.example"`.
    #[serde(default)]
    pub issuer: Option<String>,
    /// `aud` must contain one of these. Default: `[]` (not checked). Example: `["api"]`.
    #[serde(default)]
    pub audiences: Vec<String>,
    /// Verification keys. Required.
    pub keys: KeysConfig,
    /// Where the token is looked for, in order. Default: `[{"header": "authorization", "prefix": "Bearer "}]`.
    /// Example: `[{"cookie": "hcp_token"}, {"query": "access_token"}]`.
    #[serde(default = "default_sources")]
    pub from: Vec<SourceConfig>,
    /// Tolerance for `exp`, `nbf`, `iat`. Default: `60`. Example: `30`.
    #[serde(default = "default_skew")]
    pub clock_skew_seconds: u64,
    /// Longest accepted lifetime (`exp - iat`). Default: unlimited. Example: `86400`.
    #[serde(default)]
    pub max_lifetime_seconds: Option<u64>,
    /// Refuse tokens without `exp`. Default: `true`.
    #[serde(default = "default_true")]
    pub require_exp: bool,
    /// Claims that must be present (dotted paths). Default: `[]`. Example: `["sub", "tenant.id"]`.
    #[serde(default)]
    pub required_claims: Vec<String>,
    /// Rules on claim values. Default: `[]`. Example: `[{"path": "scope", "prefix": "hcp:"}]`.
    #[serde(default)]
    pub claims: Vec<ClaimRuleConfig>,
    /// Accepted `typ` header values, compared without case. Default: `[]` (any). Example: `["JWT", "at+jwt"]`.
    #[serde(default)]
    pub typ: Vec<String>,
    /// Keep the token in the request sent upstream. Default: `false` (stripped).
    #[serde(default)]
    pub forward: bool,
    /// Header carrying the verified payload (base64url JSON) to later filters; inbound
    /// copies are always removed. Default: `"x-tollgate-jwt-payload"`.
    #[serde(default = "default_payload_header")]
    pub payload_header: String,
    /// Claims copied into request headers; inbound copies are always removed.
    /// Default: `[]`. Example: `[{"claim": "sub", "header": "x-user"}]`.
    #[serde(default)]
    pub claim_headers: Vec<ClaimHeaderConfig>,
    /// Top-level claims that carry secrets (a user's backend password). They are never
    /// put in the payload header or claim headers; the full claims go only to the
    /// `tollgate_credentials` stream property, which `hcp-auth` reads and which never
    /// reaches the upstream. Default: `["password"]`. Example: `["password", "hcp_secret"]`.
    #[serde(default = "default_credential_claims")]
    pub credential_claims: Vec<String>,
    /// Accept encrypted tokens (compact JWE wrapping a signed token), decrypted with
    /// this key. Default: none (encrypted tokens are refused).
    /// Example: `{"dir": {"key": "<base64url of 32 bytes>"}}`.
    #[serde(default)]
    pub decryption: Option<DecryptionConfig>,
    /// Refuse tokens that are not encrypted (needs `decryption`). Default: `false`.
    #[serde(default)]
    pub require_encryption: bool,
}

fn default_credential_claims() -> Vec<String> {
    vec!["password".into()]
}

/// How encrypted tokens are decrypted: exactly one form.
#[derive(Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum DecryptionConfig {
    /// `alg: dir` (recommended): the content key itself, base64url, 32 bytes for
    /// `A256GCM` (16 for `A128GCM`). Example: `{"dir": {"key": "q83vEjRWeJA…"}}`.
    Dir { key: String },
    /// `alg: ECDH-ES`, `ECDH-ES+A128KW` or `ECDH-ES+A256KW`, for issuers that must not
    /// share a secret with the edge: the private key as a JWK (object or string), OKP
    /// X25519 or EC P-256. Example:
    /// `{"ecdh_es": {"private_key": {"kty": "OKP", "crv": "X25519", "d": "…", "x": "…"}}}`.
    EcdhEs { private_key: Value },
    /// `alg: RSA-OAEP-256`, only with `accept_rustsec_2023_0071: true`: the `rsa`
    /// crate's decryption leaks timing (the Marvin attack, RUSTSEC-2023-0071), so an
    /// attacker who can send many tokens and time the answers may recover the key.
    /// `private_key`: PKCS#8 PEM. `max_decryptions_per_second`: RSA decryptions per
    /// worker and second; beyond it tokens are refused without decrypting (default
    /// `20`). Example: `{"rsa_oaep_256": {"private_key": "-----BEGIN PRIVATE KEY-----…",
    /// "accept_rustsec_2023_0071": true}}`.
    #[serde(rename = "rsa_oaep_256")]
    RsaOaep256 {
        private_key: String,
        #[serde(default)]
        accept_rustsec_2023_0071: bool,
        #[serde(default = "default_rsa_per_second")]
        max_decryptions_per_second: u32,
    },
}

fn default_rsa_per_second() -> u32 {
    20
}

impl std::fmt::Debug for DecryptionConfig {
    // Secrets: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Dir { .. } => "Dir(..)",
            Self::EcdhEs { .. } => "EcdhEs(..)",
            Self::RsaOaep256 { .. } => "RsaOaep256(..)",
        })
    }
}

fn default_sources() -> Vec<SourceConfig> {
    vec![SourceConfig::Header {
        header: "authorization".into(),
        prefix: Some("Bearer ".into()),
    }]
}
fn default_skew() -> u64 {
    60
}
fn default_true() -> bool {
    true
}
fn default_payload_header() -> String {
    tollgate_kit::contract::PAYLOAD_HEADER.into()
}

/// Verification keys: exactly one of the forms.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum KeysConfig {
    /// An inline JWKS, as a JSON object or a string. Example: `{"jwks": {"keys": [ … ]}}`.
    Jwks(Value),
    /// One PEM public key and the algorithm it serves. Example: `{"pem": {"key": "-----BEGIN PUBLIC KEY-----…", "alg": "RS256"}}`.
    Pem {
        key: String,
        alg: String,
        #[serde(default)]
        kid: Option<String>,
    },
    /// A JWKS fetched by the filter. Example: `{"remote": {"upstream": "idp", "path": "/jwks"}}`.
    Remote(RemoteJwksConfig),
}

/// A JWKS the filter fetches and caches.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RemoteJwksConfig {
    /// Envoy cluster name, or `host:port` on APISIX. Required. Example: `"idp"`.
    pub upstream: String,
    /// Request path. Required. Example: `"/.well-known/jwks.json"`.
    pub path: String,
    /// `:authority` of the request. Default: the upstream. Example: `"idp.example"`.
    #[serde(default)]
    pub authority: Option<String>,
    /// How long fetched keys are used before a refresh. Default: `600`.
    #[serde(default = "default_cache")]
    pub cache_seconds: u64,
    /// Fetch timeout. Default: `2000`.
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
    /// A token whose `kid` the keys lack triggers a refetch at most this often; `0`
    /// never refetches for it. Default: `30`. Example: `10`.
    #[serde(default = "default_kid_refetch")]
    pub unknown_kid_refetch_seconds: u64,
    /// How long past `cache_seconds` the last good keys keep serving while fetches
    /// fail (a JWKS outage must not become a wave of 401s). Default: `86400`.
    #[serde(default = "default_max_stale")]
    pub max_stale_seconds: u64,
}

fn default_kid_refetch() -> u64 {
    30
}
fn default_max_stale() -> u64 {
    86_400
}

fn default_cache() -> u64 {
    600
}
fn default_timeout() -> u64 {
    2000
}

/// One place to look for a token.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(untagged, deny_unknown_fields)]
pub enum SourceConfig {
    /// `{"header": "authorization", "prefix": "Bearer "}`; `prefix` defaults to none.
    Header {
        header: String,
        #[serde(default)]
        prefix: Option<String>,
    },
    /// `{"query": "access_token"}`
    Query { query: String },
    /// `{"cookie": "hcp_token"}`
    Cookie { cookie: String },
}

/// A rule on one claim: `path` and exactly one of `equals`, `prefix`, `one_of`.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ClaimRuleConfig {
    /// Dotted path into the claims. Example: `"realm.tenant"`.
    pub path: String,
    #[serde(default)]
    pub equals: Option<Value>,
    #[serde(default)]
    pub prefix: Option<String>,
    #[serde(default)]
    pub one_of: Option<Vec<Value>>,
}

/// A claim copied into a request header.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ClaimHeaderConfig {
    /// Dotted path. Example: `"sub"`.
    pub claim: String,
    /// Header name. Example: `"x-user"`.
    pub header: String,
    /// Arrays and objects as JSON instead of comma-joined scalars. Default: `false`.
    #[serde(default)]
    pub json: bool,
}

/// A route rule.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// Exactly one of `prefix`, `path` (exact, without the query), `regex` (on the path
    /// without the query), optionally with `methods`. Example: `{"prefix": "/api/"}`.
    #[serde(rename = "match")]
    pub matcher: MatchConfig,
    /// What the route requires; absent: nothing (the request passes).
    #[serde(default)]
    pub requires: Option<RequirementConfig>,
}

/// Envoy's requirement forms.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum RequirementConfig {
    /// `{"provider": "idp"}`
    Provider(String),
    /// `{"any": [ … ]}`
    Any(Vec<RequirementConfig>),
    /// `{"all": [ … ]}`
    All(Vec<RequirementConfig>),
    /// `{"allow_missing": {}}`
    AllowMissing(Empty),
    /// `{"allow_missing_or_failed": {}}`
    AllowMissingOrFailed(Empty),
}

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Empty {}

// ----- compiled form -----

#[derive(Debug, Clone)]
pub enum Keys {
    Inline(KeySet),
    Remote(Remote),
}

impl Compiled {
    /// What this host cannot do with the config, as a config error naming the field.
    /// APISIX calls out only to `host:port`: a cluster name would fail every fetch, so
    /// every request would be refused for want of keys.
    /// On Kong a rewritten `:path` never reaches the upstream (nginx sends the request
    /// line as received), so a token in the query could not be taken out.
    pub fn check_host(&self, facts: tollgate_kit::HostFacts) -> Result<(), ConfigError> {
        if facts.kind == tollgate_kit::HostKind::Kong {
            for p in &self.providers {
                let query = p
                    .sources
                    .iter()
                    .position(|s| matches!(s, crate::extract::Source::Query { .. }));
                if let Some(i) = query {
                    return Err(ConfigError::new(
                        format!("providers.{}.from[{i}]", p.name),
                        "Kong sends the request's path upstream as received, so a token in the \
                         query cannot be taken out: take tokens from a header or a cookie",
                    ));
                }
            }
        }
        if facts.kind != tollgate_kit::HostKind::Apisix {
            return Ok(());
        }
        for p in &self.providers {
            let Keys::Remote(remote) = &p.keys else {
                continue;
            };
            let port = remote.upstream.rsplit_once(':').map(|(_, port)| port);
            if !port.is_some_and(|port| port.parse::<u16>().is_ok_and(|n| n > 0)) {
                return Err(ConfigError::new(
                    format!("providers.{}.keys.remote.upstream", p.name),
                    format!(
                        "APISIX calls out to host:port only, not to a cluster name like {:?}",
                        remote.upstream
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// A compiled remote JWKS.
#[derive(Debug, Clone)]
pub struct Remote {
    pub upstream: String,
    pub path: String,
    pub authority: String,
    pub policy: RemotePolicy,
}

#[derive(Debug, Clone)]
pub struct Provider {
    pub name: String,
    pub keys: Keys,
    pub sources: Vec<Source>,
    pub policy: ClaimPolicy,
    pub typ: Vec<String>,
    pub forward: bool,
    pub payload_header: String,
    pub claim_headers: Vec<ClaimHeaderConfig>,
    pub credential_claims: Vec<String>,
    pub decryption: Option<Decryptor>,
    pub require_encryption: bool,
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub matcher: Matcher,
    pub requires: Option<Requirement>,
}

/// The ready form: what each request uses.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub providers: Vec<Provider>,
    pub rules: Vec<Rule>,
    pub max_token_bytes: usize,
    pub cache_entries: usize,
    /// Every header a verified token may set: removed from every inbound request.
    pub owned_headers: Vec<String>,
    pub paths: PathHandling,
    /// What the operator should know (logged at configure time, printed by
    /// `tollgate validate`): never secrets.
    pub warnings: Vec<String>,
}

fn valid_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn compile_provider(
    name: &str,
    p: ProviderConfig,
    warnings: &mut Vec<String>,
) -> Result<Provider, ConfigError> {
    let keys = match p.keys {
        KeysConfig::Jwks(value) => {
            let bytes = match &value {
                Value::String(s) => s.clone().into_bytes(),
                other => serde_json::to_vec(other).unwrap_or_default(),
            };
            Keys::Inline(
                KeySet::from_config_jwks(&bytes).map_err(|e| ConfigError::new("keys.jwks", e))?,
            )
        }
        KeysConfig::Pem { key, alg, kid } => {
            let alg = Alg::parse(&alg).map_err(|d| ConfigError::new("keys.pem.alg", d.message))?;
            let key = Key::from_pem(&key, alg, kid).map_err(|e| {
                let (crate::jwks::Unusable::Skipped(why) | crate::jwks::Unusable::Weak(why)) = e;
                ConfigError::new("keys.pem.key", why)
            })?;
            Keys::Inline(KeySet {
                keys: vec![key],
                ..KeySet::default()
            })
        }
        KeysConfig::Remote(remote) => {
            if remote.upstream.is_empty() {
                return Err(ConfigError::new(
                    "keys.remote.upstream",
                    "expected a cluster name or host:port",
                ));
            }
            if !remote.path.starts_with('/') {
                return Err(ConfigError::new(
                    "keys.remote.path",
                    "expected a path starting with `/`",
                ));
            }
            if remote.cache_seconds == 0 || remote.timeout_ms == 0 {
                return Err(ConfigError::new(
                    "keys.remote",
                    "cache_seconds and timeout_ms must be positive",
                ));
            }
            let cache_ms = remote.cache_seconds.saturating_mul(1000);
            Keys::Remote(Remote {
                authority: remote.authority.unwrap_or_else(|| remote.upstream.clone()),
                upstream: remote.upstream,
                path: remote.path,
                policy: RemotePolicy {
                    cache_ms,
                    timeout_ms: remote.timeout_ms,
                    kid_refetch_interval_ms: if remote.unknown_kid_refetch_seconds == 0 {
                        u64::MAX
                    } else {
                        remote.unknown_kid_refetch_seconds.saturating_mul(1000)
                    },
                    max_stale_ms: remote.max_stale_seconds.saturating_mul(1000),
                    backoff_base_ms: 1_000,
                    backoff_max_ms: cache_ms.clamp(1_000, 60_000),
                },
            })
        }
    };
    if p.from.is_empty() {
        return Err(ConfigError::new(
            "from",
            "expected at least one token source",
        ));
    }
    let sources = p
        .from
        .into_iter()
        .enumerate()
        .map(|(i, s)| match s {
            SourceConfig::Header { header, prefix }
                if valid_header_name(&header.to_ascii_lowercase()) =>
            {
                Ok(Source::Header {
                    name: header.to_ascii_lowercase(),
                    prefix: prefix.unwrap_or_default(),
                })
            }
            SourceConfig::Header { .. } => Err(ConfigError::new(
                format!("from[{i}].header"),
                "expected a header name",
            )),
            SourceConfig::Query { query } if !query.is_empty() => {
                Ok(Source::Query { param: query })
            }
            SourceConfig::Cookie { cookie } if !cookie.is_empty() => {
                Ok(Source::Cookie { name: cookie })
            }
            _ => Err(ConfigError::new(
                format!("from[{i}]"),
                "expected a non-empty name",
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut rules = Vec::with_capacity(p.claims.len());
    for (i, c) in p.claims.into_iter().enumerate() {
        let expect = match (c.equals, c.prefix, c.one_of) {
            (Some(v), None, None) => Match::Exact(v),
            (None, Some(p), None) => Match::Prefix(p),
            (None, None, Some(list)) if !list.is_empty() => Match::OneOf(list),
            _ => {
                return Err(ConfigError::new(
                    format!("claims[{i}]"),
                    "expected exactly one of `equals`, `prefix`, `one_of` (non-empty)",
                ));
            }
        };
        rules.push(ClaimRule {
            path: c.path,
            expect,
        });
    }
    let payload_header = p.payload_header.to_ascii_lowercase();
    if !valid_header_name(&payload_header) {
        return Err(ConfigError::new("payload_header", "expected a header name"));
    }
    let mut claim_headers = p.claim_headers;
    for (i, h) in claim_headers.iter_mut().enumerate() {
        h.header = h.header.to_ascii_lowercase();
        if !valid_header_name(&h.header) || h.header == "authorization" || h.header.starts_with(':')
        {
            return Err(ConfigError::new(
                format!("claim_headers[{i}].header"),
                "expected a plain header name",
            ));
        }
    }
    let decryption = match p.decryption {
        None => None,
        Some(DecryptionConfig::Dir { key }) => {
            Some(Decryptor::direct(&key).map_err(|e| ConfigError::new("decryption.dir.key", e))?)
        }
        Some(DecryptionConfig::EcdhEs { private_key }) => {
            let jwk = match private_key {
                Value::String(text) => serde_json::from_str::<Value>(&text).unwrap_or_default(),
                other => other,
            };
            let jwk = jwk.as_object().ok_or_else(|| {
                ConfigError::new("decryption.ecdh_es.private_key", "expected a JWK object")
            })?;
            Some(
                Decryptor::ecdh_jwk(jwk)
                    .map_err(|e| ConfigError::new("decryption.ecdh_es.private_key", e))?,
            )
        }
        Some(DecryptionConfig::RsaOaep256 {
            private_key,
            accept_rustsec_2023_0071,
            max_decryptions_per_second,
        }) => {
            if !accept_rustsec_2023_0071 {
                return Err(ConfigError::new(
                    "decryption.rsa_oaep_256.accept_rustsec_2023_0071",
                    "RSA-OAEP-256 decryption is open to the Marvin timing attack \
                     (RUSTSEC-2023-0071); use `dir` or `ecdh_es`, or set this to true to \
                     accept the risk",
                ));
            }
            if !(1..=10_000).contains(&max_decryptions_per_second) {
                return Err(ConfigError::new(
                    "decryption.rsa_oaep_256.max_decryptions_per_second",
                    "expected 1 to 10000",
                ));
            }
            warnings.push(format!(
                "provider {name}: RSA-OAEP-256 decryption is enabled although the rsa crate \
                 is open to the Marvin timing attack (RUSTSEC-2023-0071); at most \
                 {max_decryptions_per_second} RSA decryptions per worker and second. Prefer \
                 `dir` or `ecdh_es`."
            ));
            Some(
                Decryptor::rsa_pem(&private_key, max_decryptions_per_second)
                    .map_err(|e| ConfigError::new("decryption.rsa_oaep_256.private_key", e))?,
            )
        }
    };
    if p.require_encryption && decryption.is_none() {
        return Err(ConfigError::new(
            "require_encryption",
            "needs `decryption` to be set",
        ));
    }
    for (i, h) in claim_headers.iter().enumerate() {
        let top = h.claim.split('.').next().unwrap_or_default();
        if p.credential_claims.iter().any(|c| c == top) {
            return Err(ConfigError::new(
                format!("claim_headers[{i}].claim"),
                "a credential claim never goes into a header",
            ));
        }
    }
    Ok(Provider {
        name: name.to_string(),
        keys,
        sources,
        policy: ClaimPolicy {
            issuer: p.issuer,
            audiences: p.audiences,
            clock_skew: Duration::from_secs(p.clock_skew_seconds),
            require_exp: p.require_exp,
            max_lifetime: p.max_lifetime_seconds.map(Duration::from_secs),
            required: p.required_claims,
            rules,
        },
        typ: p.typ,
        forward: p.forward,
        payload_header,
        claim_headers,
        credential_claims: p.credential_claims,
        decryption,
        require_encryption: p.require_encryption,
    })
}

fn compile_requirement(
    r: RequirementConfig,
    names: &[String],
    at: &str,
) -> Result<Requirement, ConfigError> {
    let list =
        |items: Vec<RequirementConfig>, kind: &str| -> Result<Vec<Requirement>, ConfigError> {
            if items.is_empty() {
                return Err(ConfigError::new(
                    format!("{at}.{kind}"),
                    "expected at least one requirement",
                ));
            }
            items
                .into_iter()
                .enumerate()
                .map(|(i, r)| compile_requirement(r, names, &format!("{at}.{kind}[{i}]")))
                .collect()
        };
    Ok(match r {
        RequirementConfig::Provider(name) => match names.iter().position(|n| *n == name) {
            Some(i) => Requirement::Provider(i),
            None => {
                return Err(ConfigError::new(
                    format!("{at}.provider"),
                    format!("no provider named {name:?}"),
                ));
            }
        },
        RequirementConfig::Any(items) => Requirement::Any(list(items, "any")?),
        RequirementConfig::All(items) => Requirement::All(list(items, "all")?),
        RequirementConfig::AllowMissing(_) => Requirement::AllowMissing,
        RequirementConfig::AllowMissingOrFailed(_) => Requirement::AllowMissingOrFailed,
    })
}

/// What `on_configure` runs, and the control service with it: parse, compile, and
/// refuse what `facts`' host cannot do.
pub fn load(bytes: &[u8], facts: tollgate_kit::HostFacts) -> Result<Compiled, ConfigError> {
    let compiled = tollgate_kit::config::load::<JwtAuthConfig>(bytes)?;
    compiled.check_host(facts)?;
    Ok(compiled)
}

impl Compile for JwtAuthConfig {
    type Compiled = Compiled;
    const VERSION: &'static str = VERSION;

    fn compile(self) -> Result<Compiled, ConfigError> {
        if self.providers.is_empty() {
            return Err(ConfigError::new(
                "providers",
                "expected at least one provider",
            ));
        }
        if !(256..=65_536).contains(&self.max_token_bytes) {
            return Err(ConfigError::new("max_token_bytes", "expected 256 to 65536"));
        }
        if self.cache_entries > 1_000_000 {
            return Err(ConfigError::new(
                "cache_entries",
                "expected at most 1000000",
            ));
        }
        let names: Vec<String> = self.providers.keys().cloned().collect();
        for name in &names {
            let ok = !name.is_empty()
                && name.len() <= 64
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !ok {
                return Err(ConfigError::new(
                    format!("providers.{name}"),
                    "a provider name is 1-64 letters, digits, `_` or `-` (it names metrics)",
                ));
            }
        }
        let mut providers = Vec::with_capacity(names.len());
        let mut warnings = Vec::new();
        for (name, p) in self.providers {
            providers.push(
                compile_provider(&name, p, &mut warnings)
                    .map_err(|e| e.within(&format!("providers.{name}")))?,
            );
        }
        for p in &providers {
            if let Keys::Inline(set) = &p.keys {
                for skipped in &set.skipped {
                    warnings.push(format!("provider {}: key skipped: {skipped}", p.name));
                }
            }
        }
        let mut rules = Vec::with_capacity(self.rules.len());
        for (i, r) in self.rules.into_iter().enumerate() {
            let at = format!("rules[{i}]");
            let matcher = r.matcher.compile(&format!("{at}.match"))?;
            let requires = r
                .requires
                .map(|q| compile_requirement(q, &names, &format!("{at}.requires")))
                .transpose()?;
            rules.push(Rule { matcher, requires });
        }
        let mut owned_headers: Vec<String> = providers
            .iter()
            .flat_map(|p| {
                std::iter::once(p.payload_header.clone())
                    .chain(p.claim_headers.iter().map(|h| h.header.clone()))
            })
            .collect();
        owned_headers.sort();
        owned_headers.dedup();
        Ok(Compiled {
            providers,
            rules,
            max_token_bytes: self.max_token_bytes,
            cache_entries: self.cache_entries,
            owned_headers,
            paths: self.paths,
            warnings,
        })
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
