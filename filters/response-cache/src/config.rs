//! The configuration: what is cached for how long, whose it is, what a write
//! invalidates, and where entries live. Parsed with `deny_unknown_fields`, compiled
//! once in `on_configure`; the control service validates with the same [`load`].

use serde::Deserialize;
use tollgate_kit::config::{Compile, ConfigError, valid_header_name};
use tollgate_kit::path::PathHandling;
use tollgate_kit::{HostFacts, HostKind};

use crate::glob::{Glob, Template};

/// The config format this build reads.
pub const VERSION: &str = "tollgate.response_cache.v1";

/// The response-cache filter's configuration.
///
/// ```json
/// {"version": "tollgate.response_cache.v1",
///  "rules": [{"name": "statistics", "glob": "/mapi/tenants/*/statistics", "ttl_s": 60},
///            {"name": "health", "glob": "/health", "cache": false}]}
/// ```
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ResponseCacheConfig {
    /// The format, if given: `"tollgate.response_cache.v1"`. Default: this build's.
    #[serde(default)]
    pub version: Option<String>,
    /// What may be cached: the first rule whose `glob` and `methods` fit a request
    /// decides; a request no rule fits is never cached (`x-cache: BYPASS`). Required,
    /// at least one.
    pub rules: Vec<RuleConfig>,
    /// Whose entries are whose. Default: see its fields.
    #[serde(default)]
    pub identity: IdentityConfig,
    /// What a successful write invalidates besides its own URI and its `Location` and
    /// `Content-Location` (RFC 9111 §4.4), for every identity: the first rule whose
    /// `glob` and `methods` fit the write adds its `prefixes`. Default: `[]`.
    #[serde(default)]
    pub invalidate: Vec<InvalidateConfig>,
    /// Purging entries on request. Default: none (no purge endpoint).
    #[serde(default)]
    pub purge: Option<PurgeConfig>,
    /// Where entries live and how much room they take. Default: see its fields.
    #[serde(default)]
    pub storage: StorageConfig,
    /// Freshness the origin does not give. Default: see its fields.
    #[serde(default)]
    pub heuristic: HeuristicConfig,
    /// How request paths are put in normal form before rules see them.
    /// Default: `"normalize"`.
    #[serde(default)]
    pub paths: PathHandling,
    /// How long concurrent misses for one key wait for the first one's fill instead of
    /// all going to the origin, in milliseconds; `0`: they never wait. Only on Envoy
    /// (elsewhere the root cannot resume a waiting request). Between 0 and 30000.
    /// Default: `2000`.
    #[serde(default = "default_coalesce")]
    pub coalesce_ms: u64,
    /// Entries and invalidations shared by several gateways through `tollgate-cache`
    /// (Redis behind it). Default: none (each gateway alone). Not on APISIX, which has
    /// no timers to follow invalidations with.
    #[serde(default)]
    pub shared_tier: Option<SharedTierConfig>,
}

/// The shared tier: `tollgate-cache` in front of Redis.
///
/// ```json
/// {"service": "tollgate-cache", "key": "<base64 of 32 random bytes>", "token": "<service token>"}
/// ```
#[derive(Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SharedTierConfig {
    /// The service: an Envoy cluster name, or `host:port` on Kong. Required.
    /// Example: `"tollgate-cache"`.
    pub service: String,
    /// The `:authority` of calls to it. Default: `service`.
    #[serde(default)]
    pub authority: Option<String>,
    /// A secret every gateway of the tier shares (base64, at least 32 bytes): entries
    /// are stored under an HMAC of their key (an identity cannot be guessed into a key)
    /// and carry an HMAC of their bytes (a tampered entry is refused). Required.
    pub key: String,
    /// The service's bearer token. Default: none.
    #[serde(default)]
    pub token: Option<String>,
    /// How long a request waits for the tier before going to the origin. Between 1
    /// and 5000. Default: `100`.
    #[serde(default = "default_tier_timeout")]
    pub timeout_ms: u64,
    /// How often invalidations are fetched: every gateway drops invalidated entries
    /// within about this long. Between 50 and 60000. Default: `250`.
    #[serde(default = "default_poll")]
    pub poll_ms: u64,
    /// How far back a gateway that starts reads invalidations (entries in the tier
    /// live at most this long). Between 60 and 604800. Default: `86400`.
    #[serde(default = "default_horizon")]
    pub horizon_s: u64,
}

impl std::fmt::Debug for SharedTierConfig {
    // The key and token are secrets: never in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedTierConfig")
            .field("service", &self.service)
            .field("timeout_ms", &self.timeout_ms)
            .field("poll_ms", &self.poll_ms)
            .finish_non_exhaustive()
    }
}

fn default_coalesce() -> u64 {
    2000
}
fn default_tier_timeout() -> u64 {
    100
}
fn default_poll() -> u64 {
    250
}
fn default_horizon() -> u64 {
    86_400
}

/// A compiled [`SharedTierConfig`].
#[derive(Clone)]
pub struct SharedTier {
    pub service: String,
    pub authority: String,
    pub key: Vec<u8>,
    /// `Bearer <token>`, or empty.
    pub authorization: String,
    pub timeout_ms: u64,
    pub poll_ms: u64,
    pub horizon_s: u64,
}

impl std::fmt::Debug for SharedTier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedTier")
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

fn compile_tier(
    t: Option<SharedTierConfig>,
    facts: HostFacts,
) -> Result<Option<SharedTier>, ConfigError> {
    let Some(t) = t else {
        return Ok(None);
    };
    if facts.kind == HostKind::Apisix {
        return Err(ConfigError::new(
            "shared_tier",
            "APISIX has no timers or shared data to follow the tier's invalidations with: \
             use it on Envoy or Kong",
        ));
    }
    if t.service.is_empty() {
        return Err(ConfigError::new(
            "shared_tier.service",
            "expected a cluster or host:port",
        ));
    }
    use base64::Engine as _;
    let key = base64::engine::general_purpose::STANDARD
        .decode(t.key.trim())
        .map_err(|_| ConfigError::new("shared_tier.key", "expected base64"))?;
    if key.len() < 32 {
        return Err(ConfigError::new(
            "shared_tier.key",
            "expected at least 32 bytes (base64 of 32 random bytes)",
        ));
    }
    check_range(t.timeout_ms, 1..=5000, "shared_tier.timeout_ms")?;
    check_range(t.poll_ms, 50..=60_000, "shared_tier.poll_ms")?;
    check_range(t.horizon_s, 60..=604_800, "shared_tier.horizon_s")?;
    Ok(Some(SharedTier {
        authority: t.authority.unwrap_or_else(|| t.service.clone()),
        service: t.service,
        key,
        authorization: t.token.map(|t| format!("Bearer {t}")).unwrap_or_default(),
        timeout_ms: t.timeout_ms,
        poll_ms: t.poll_ms,
        horizon_s: t.horizon_s,
    }))
}

/// One row of the TTL table.
///
/// ```json
/// {"name": "listings", "glob": "/mapi/tenants/*/namespaces", "ttl_s": 300}
/// ```
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// Names the rule in metrics and logs: 1 to 64 lower-case letters, digits, `-`,
    /// `_`. Required. Example: `"statistics"`.
    pub name: String,
    /// The path, without the query, as a glob: `*` is one segment (or part of one),
    /// `**` any number of segments. Required. Example: `"/mapi/tenants/*/statistics"`.
    pub glob: String,
    /// Host names the rule is for (exact or `*.suffix`, no port); empty: any.
    /// Default: `[]`. Example: `["*.hcp.example.com"]`.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Methods the rule reads, any case: `GET` and `HEAD` (a HEAD is answered from a
    /// stored GET). Default: `["GET", "HEAD"]`.
    #[serde(default = "default_methods")]
    pub methods: Vec<String>,
    /// `false`: never cache what this rule fits (health, logs, support).
    /// Default: `true`.
    #[serde(default = "yes")]
    pub cache: bool,
    /// How long a response stays fresh when the origin gives no freshness of its own
    /// (`max-age`, `s-maxage`, `Expires`); the origin's always wins. Between 1 and
    /// 31536000. Default: the Last-Modified heuristic (`heuristic`).
    /// Example: `60`.
    #[serde(default)]
    pub ttl_s: Option<u64>,
    /// One entry for every identity: only for responses that are the same for
    /// everyone. Default: `false` (one entry per identity).
    #[serde(default)]
    pub public: bool,
    /// For a read sent as a POST (HCP's metadata query API): the request body is part
    /// of the key, and the rule fits only bodies it describes. With it, `methods` is
    /// `["POST"]`, and such a POST invalidates nothing. Envoy must let the filter hold
    /// the headers for the body (`allow_on_headers_stop_iteration: true`).
    /// Default: none.
    #[serde(default)]
    pub body: Option<BodyConfig>,
}

/// How a POST read's body makes its key.
///
/// ```json
/// {"json_key": "object", "max_bytes": 65536}
/// ```
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct BodyConfig {
    /// The rule fits only a JSON object body with this top-level key (HCP: `object`
    /// for object queries, `operation` for operation queries). Default: any body.
    #[serde(default)]
    pub json_key: Option<String>,
    /// Larger bodies pass uncached. Between 1 and 1048576. Default: `65536`.
    #[serde(default = "default_body_bytes")]
    pub max_bytes: u64,
}

fn default_body_bytes() -> u64 {
    65_536
}

fn default_methods() -> Vec<String> {
    vec!["GET".into(), "HEAD".into()]
}
fn yes() -> bool {
    true
}

/// Whose an entry is: requests share an entry only if they have the same identity.
///
/// ```json
/// {"claims": ["tenant", "sub"]}
/// ```
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct IdentityConfig {
    /// Verified claims (dotted paths) that together name a caller, read from
    /// `claims_header`. Default: `["iss", "sub", "tenant"]` (absent ones count as
    /// absent, consistently). Example: `["tenant", "sub"]`.
    #[serde(default = "default_claims")]
    pub claims: Vec<String>,
    /// Key by a hash of the credentials jwt-auth decrypted for hcp-auth as well (the
    /// `tollgate_credentials` stream property): the backend authorizes as that user,
    /// so two tokens for one subject with different credentials never share.
    /// Default: `false`.
    #[serde(default)]
    pub credentials: bool,
    /// The header in which jwt-auth forwards the verified payload (base64url JSON).
    /// response-cache must run after jwt-auth, which removes a client's own copy.
    /// Default: `"x-tollgate-jwt-payload"`.
    #[serde(default = "default_claims_header")]
    pub claims_header: String,
    /// Requests without verified claims that carry `Authorization` or `Cookie`:
    /// `bypass` (never cached: nobody can tell whose they are) or `anonymous` (one
    /// shared anonymous entry; only if the origin ignores those headers).
    /// Default: `"bypass"`.
    #[serde(default)]
    pub unverified_credentials: Unverified,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        Self {
            claims: default_claims(),
            credentials: false,
            claims_header: default_claims_header(),
            unverified_credentials: Unverified::Bypass,
        }
    }
}

fn default_claims() -> Vec<String> {
    vec!["iss".into(), "sub".into(), "tenant".into()]
}
fn default_claims_header() -> String {
    tollgate_kit::contract::PAYLOAD_HEADER.into()
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Unverified {
    #[default]
    Bypass,
    Anonymous,
}

/// After a successful write that fits `glob`, entries under `prefixes` go too. Rules
/// are tried in order and the first that fits applies, so a rule with no prefixes
/// can exempt paths from a broader rule after it.
///
/// ```json
/// {"glob": "/*/**", "methods": ["PUT", "POST", "DELETE"], "prefixes": ["/{1}"]}
/// ```
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct InvalidateConfig {
    /// The written path, as a glob (see `rules[].glob`). Required.
    pub glob: String,
    /// The unsafe methods this applies to, any case.
    /// Default: `["POST", "PUT", "PATCH", "DELETE"]`.
    #[serde(default = "default_unsafe")]
    pub methods: Vec<String>,
    /// Path prefixes to invalidate (every query, every identity): each covers itself
    /// and the paths below it. `{n}` is the n-th `*` or `**` of `glob`, counted from 1.
    /// Required (may be empty). Example: `["/{1}"]` (an S3 object write drops its
    /// bucket's listings).
    pub prefixes: Vec<String>,
}

fn default_unsafe() -> Vec<String> {
    ["POST", "PUT", "PATCH", "DELETE"]
        .map(String::from)
        .to_vec()
}

/// A purge: `PURGE <path>` (or `<path>*` for a prefix) drops entries for every
/// identity, answered by the filter; the origin never sees it.
///
/// ```json
/// {"method": "PURGE", "claim": "roles", "value": "administrator"}
/// ```
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PurgeConfig {
    /// The method that purges. Default: `"PURGE"`.
    #[serde(default = "default_purge_method")]
    pub method: String,
    /// The verified claim (dotted path) that allows purging: its value, or one of its
    /// values if it is a list, must equal `value`. Required. Example: `"roles"`.
    pub claim: String,
    /// Required. Example: `"administrator"`.
    pub value: String,
}

fn default_purge_method() -> String {
    "PURGE".into()
}

/// Where entries live.
///
/// ```json
/// {"max_bytes": 67108864, "max_entry_bytes": 1048576, "max_entries": 4096}
/// ```
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// The bytes all entries may take together (bodies and headers); beyond it the
    /// least recently used go. On Kong, keep it below the `shm_kv` zone's size.
    /// Between 65536 and 4294967296. Default: `67108864` (64 MiB).
    #[serde(default = "default_max_bytes")]
    pub max_bytes: u64,
    /// The largest response stored; larger ones pass uncached. Between 1024 and
    /// `max_bytes`. Default: `1048576` (1 MiB).
    #[serde(default = "default_max_entry_bytes")]
    pub max_entry_bytes: u64,
    /// How many entries fit (slots created at configure time). Between 16 and
    /// 1000000. Default: `4096`.
    #[serde(default = "default_max_entries")]
    pub max_entries: u32,
    /// Invalidation marks kept (a write marks its path's slot; two paths may share
    /// one, which only invalidates more). Between 64 and 1000000. Default: `4096`.
    #[serde(default = "default_marks")]
    pub invalidation_marks: u32,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            max_bytes: default_max_bytes(),
            max_entry_bytes: default_max_entry_bytes(),
            max_entries: default_max_entries(),
            invalidation_marks: default_marks(),
        }
    }
}

fn default_max_bytes() -> u64 {
    64 << 20
}
fn default_max_entry_bytes() -> u64 {
    1 << 20
}
fn default_max_entries() -> u32 {
    4096
}
fn default_marks() -> u32 {
    4096
}

/// Freshness for responses whose origin gives none and whose rule sets no `ttl_s`
/// (RFC 9111 §4.2.2): a fraction of the time since `Last-Modified`, capped.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct HeuristicConfig {
    /// Percent of the age of `Last-Modified`. Between 0 (off) and 100. Default: `10`.
    #[serde(default = "default_percent")]
    pub percent: u64,
    /// The cap, in seconds. Default: `86400`.
    #[serde(default = "default_cap")]
    pub max_s: u64,
}

impl Default for HeuristicConfig {
    fn default() -> Self {
        Self {
            percent: default_percent(),
            max_s: default_cap(),
        }
    }
}

fn default_percent() -> u64 {
    10
}
fn default_cap() -> u64 {
    86_400
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub glob: Glob,
    pub hosts: Vec<String>,
    /// Upper case.
    pub methods: Vec<String>,
    pub cache: bool,
    pub ttl_s: Option<u64>,
    pub public: bool,
    /// A POST read keyed by its body.
    pub body: Option<BodyConfig>,
}

/// A compiled invalidation rule.
#[derive(Debug, Clone)]
pub struct Invalidate {
    pub glob: Glob,
    pub methods: Vec<String>,
    pub prefixes: Vec<Template>,
}

/// The config as a request uses it.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub rules: Vec<Rule>,
    pub identity: IdentityConfig,
    pub invalidate: Vec<Invalidate>,
    pub purge: Option<PurgeConfig>,
    pub storage: StorageConfig,
    pub heuristic: HeuristicConfig,
    pub paths: PathHandling,
    /// Entries shared by every worker (shared data) or kept per worker.
    pub shared: bool,
    /// The depths (in segments) of the prefixes invalidation rules can produce:
    /// a lookup checks the marks of its path's ancestors at these depths only.
    pub prefix_depths: Vec<usize>,
    /// Whether a stale entry may be revalidated, or served for an origin error,
    /// from the response phase (only where the host can reply there).
    pub replies_after_upstream: bool,
    /// The shared tier, if configured.
    pub tier: Option<SharedTier>,
    /// How long a miss waits for another's fill (`None`: never; not on this host).
    pub coalesce_ms: Option<u64>,
    /// The largest body a POST read rule keys by (0: no such rule).
    pub body_bytes: u64,
    /// Kong appends a line feed to every local reply's body: a stored body must end
    /// with one (which is then sent without it) or be text, where it is harmless.
    pub newline_appended: bool,
    /// For the operator, logged at configure time.
    pub warnings: Vec<String>,
}

impl Compile for ResponseCacheConfig {
    type Compiled = Compiled;
    const VERSION: &'static str = VERSION;

    fn compile(self) -> Result<Compiled, ConfigError> {
        compile(self, HostFacts::default())
    }
}

/// Parses and compiles a config for `facts`' host, as `on_configure` does.
pub fn load(bytes: &[u8], facts: HostFacts) -> Result<Compiled, ConfigError> {
    tollgate_kit::config::check_version(
        serde_json::from_slice::<serde_json::Value>(bytes)
            .ok()
            .as_ref()
            .and_then(|v| v.get("version"))
            .and_then(|v| v.as_str()),
        VERSION,
    )?;
    let parsed: ResponseCacheConfig = tollgate_kit::config::parse(bytes)?;
    compile(parsed, facts)
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn valid_host_pattern(p: &str) -> bool {
    let name = p.strip_prefix("*.").unwrap_or(p);
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
}

fn methods(list: &[String], at: &str, allowed: &[&str]) -> Result<Vec<String>, ConfigError> {
    if list.is_empty() {
        return Err(ConfigError::new(at, "expected at least one method"));
    }
    list.iter()
        .enumerate()
        .map(|(i, m)| {
            let m = m.to_ascii_uppercase();
            if allowed.contains(&m.as_str()) {
                Ok(m)
            } else {
                Err(ConfigError::new(
                    format!("{at}[{i}]"),
                    format!("expected one of {}", allowed.join(", ")),
                ))
            }
        })
        .collect()
}

fn compile_rule(r: RuleConfig, at: &str) -> Result<Rule, ConfigError> {
    if !valid_name(&r.name) {
        return Err(ConfigError::new(
            format!("{at}.name"),
            "expected 1 to 64 lower-case letters, digits, `-` or `_`",
        ));
    }
    let glob = Glob::compile(&r.glob).map_err(|m| ConfigError::new(format!("{at}.glob"), m))?;
    let hosts = r
        .hosts
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let h = h.to_ascii_lowercase();
            if valid_host_pattern(&h) {
                Ok(h)
            } else {
                Err(ConfigError::new(
                    format!("{at}.hosts[{i}]"),
                    "expected a host name or `*.suffix`, without a port",
                ))
            }
        })
        .collect::<Result<_, _>>()?;
    let methods = if r.body.is_some() {
        if r.methods.iter().any(|m| !m.eq_ignore_ascii_case("POST")) || r.methods.is_empty() {
            return Err(ConfigError::new(
                format!("{at}.methods"),
                "a rule keyed by the body is for POST reads: expected [\"POST\"]",
            ));
        }
        vec!["POST".to_string()]
    } else {
        methods(&r.methods, &format!("{at}.methods"), &["GET", "HEAD"])?
    };
    if let Some(b) = &r.body {
        check_range(b.max_bytes, 1..=1_048_576, &format!("{at}.body.max_bytes"))?;
    }
    if let Some(ttl) = r.ttl_s
        && !(1..=31_536_000).contains(&ttl)
    {
        return Err(ConfigError::new(
            format!("{at}.ttl_s"),
            "expected between 1 and 31536000 seconds",
        ));
    }
    if !r.cache && (r.ttl_s.is_some() || r.public) {
        return Err(ConfigError::new(
            format!("{at}.cache"),
            "a rule that caches nothing takes no `ttl_s` or `public`",
        ));
    }
    Ok(Rule {
        name: r.name,
        glob,
        hosts,
        methods,
        cache: r.cache,
        ttl_s: r.ttl_s,
        public: r.public,
        body: r.body,
    })
}

fn compile_invalidate(v: InvalidateConfig, at: &str) -> Result<Invalidate, ConfigError> {
    let glob = Glob::compile(&v.glob).map_err(|m| ConfigError::new(format!("{at}.glob"), m))?;
    let methods = methods(
        &v.methods,
        &format!("{at}.methods"),
        &["POST", "PUT", "PATCH", "DELETE"],
    )?;
    let prefixes = v
        .prefixes
        .iter()
        .enumerate()
        .map(|(i, p)| {
            Template::compile(p, &glob.captures())
                .map_err(|m| ConfigError::new(format!("{at}.prefixes[{i}]"), m))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Invalidate {
        glob,
        methods,
        prefixes,
    })
}

fn check_range(
    value: u64,
    range: std::ops::RangeInclusive<u64>,
    at: &str,
) -> Result<(), ConfigError> {
    if range.contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::new(
            at,
            format!("expected between {} and {}", range.start(), range.end()),
        ))
    }
}

/// Compiles `c` for `facts`' host.
pub fn compile(c: ResponseCacheConfig, facts: HostFacts) -> Result<Compiled, ConfigError> {
    if c.rules.is_empty() {
        return Err(ConfigError::new("rules", "expected at least one rule"));
    }
    let mut rules: Vec<Rule> = Vec::with_capacity(c.rules.len());
    for (i, r) in c.rules.into_iter().enumerate() {
        let at = format!("rules[{i}]");
        let rule = compile_rule(r, &at)?;
        if rules.iter().any(|o| o.name == rule.name) {
            return Err(ConfigError::new(
                format!("{at}.name"),
                "another rule has this name",
            ));
        }
        rules.push(rule);
    }
    let invalidate = c
        .invalidate
        .into_iter()
        .enumerate()
        .map(|(i, v)| compile_invalidate(v, &format!("invalidate[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let mut prefix_depths: Vec<usize> = invalidate
        .iter()
        .flat_map(|v| v.prefixes.iter().filter_map(Template::depth))
        .collect();
    prefix_depths.sort_unstable();
    prefix_depths.dedup();
    let dynamic_depth = invalidate
        .iter()
        .flat_map(|v| &v.prefixes)
        .any(|t| t.depth().is_none());
    if dynamic_depth {
        // A `**` capture makes the depth depend on the write: check every depth.
        prefix_depths = (1..=crate::invalidate::MAX_PREFIX_DEPTH).collect();
    }
    let mut identity = c.identity;
    identity.claims_header = identity.claims_header.to_ascii_lowercase();
    if !valid_header_name(&identity.claims_header) {
        return Err(ConfigError::new(
            "identity.claims_header",
            "expected a header name",
        ));
    }
    if let Some(i) = identity
        .claims
        .iter()
        .position(|c| c.is_empty() || c.split('.').any(str::is_empty))
    {
        return Err(ConfigError::new(
            format!("identity.claims[{i}]"),
            "expected a claim name or a dotted path",
        ));
    }
    if let Some(p) = &c.purge {
        if !valid_header_name(&p.method) || p.method.to_ascii_uppercase() != p.method {
            return Err(ConfigError::new(
                "purge.method",
                "expected an upper-case method name",
            ));
        }
        if ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"].contains(&p.method.as_str())
        {
            return Err(ConfigError::new(
                "purge.method",
                "a purge needs a method of its own, not one the API uses",
            ));
        }
        if p.claim.is_empty() || p.claim.split('.').any(str::is_empty) {
            return Err(ConfigError::new(
                "purge.claim",
                "expected a claim name or a dotted path",
            ));
        }
    }
    let s = &c.storage;
    check_range(s.max_bytes, 65_536..=(4 << 30), "storage.max_bytes")?;
    check_range(
        s.max_entry_bytes,
        1024..=s.max_bytes,
        "storage.max_entry_bytes",
    )?;
    check_range(
        u64::from(s.max_entries),
        16..=1_000_000,
        "storage.max_entries",
    )?;
    check_range(
        u64::from(s.invalidation_marks),
        64..=1_000_000,
        "storage.invalidation_marks",
    )?;
    check_range(c.heuristic.percent, 0..=100, "heuristic.percent")?;
    check_range(c.heuristic.max_s, 0..=31_536_000, "heuristic.max_s")?;
    let mut warnings = Vec::new();
    let shared = facts.shares_data();
    if !shared {
        warnings.push(format!(
            "{} has no shared data: each worker keeps its own entries (up to {} bytes each), \
             and an invalidation reaches only the worker that saw the write",
            facts.name(),
            s.max_bytes
        ));
    }
    let replies_after_upstream = facts.kind == HostKind::Envoy;
    if !replies_after_upstream {
        warnings.push(format!(
            "{} cannot answer from the cache once the origin responded: stale entries are \
             fetched again instead of revalidated, and `stale-if-error` is not honoured",
            facts.name()
        ));
    }
    check_range(c.coalesce_ms, 0..=30_000, "coalesce_ms")?;
    let body_bytes = rules
        .iter()
        .filter_map(|r| r.body.as_ref().map(|b| b.max_bytes))
        .max()
        .unwrap_or(0);
    let can_coalesce = facts.switches_context() && facts.shares_data();
    if c.coalesce_ms > 0 && !can_coalesce {
        warnings.push(format!(
            "{} cannot resume a waiting request from the root: concurrent misses are not \
             coalesced",
            facts.name()
        ));
    }
    if facts.local_reply_appends_newline() {
        warnings.push(format!(
            "{} appends a line feed to every body the filter answers with: binary \
             responses that do not end with one are not stored, and text ones are served \
             with one more trailing line feed",
            facts.name()
        ));
    }
    Ok(Compiled {
        rules,
        identity,
        invalidate,
        purge: c.purge,
        storage: c.storage,
        heuristic: c.heuristic,
        paths: c.paths,
        shared,
        prefix_depths,
        replies_after_upstream,
        newline_appended: facts.local_reply_appends_newline(),
        tier: compile_tier(c.shared_tier, facts)?,
        coalesce_ms: (c.coalesce_ms > 0 && can_coalesce).then_some(c.coalesce_ms),
        body_bytes,
        warnings,
    })
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
