//! rate-limit's configuration: parsed with `deny_unknown_fields`, then compiled once in
//! `on_configure`. Every field is documented with its default and an example.

use serde::Deserialize;
use tollgate_kit::config::{ConfigError, check_version};
use tollgate_kit::route::{MatchConfig, Matcher};
use tollgate_kit::{HostFacts, HostKind};

use crate::gcra::Gcra;
use crate::key::{Descriptor, Missing};
pub use crate::table::WhenFull;

/// The config format this build reads.
pub const VERSION: &str = "tollgate.rate_limit.v1";

/// The filter's configuration.
///
/// ```json
/// {"version": "tollgate.rate_limit.v1",
///  "rules": [{"name": "per-user", "match": {"prefix": "/api/"},
///             "key": [{"claim": "sub"}],
///             "limits": [{"requests": 10, "per": "1s", "burst": 20},
///                        {"requests": 1000, "per": "1h"}]}]}
/// ```
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// The config format, [`VERSION`]. Optional; any other value is refused.
    /// Example: `"tollgate.rate_limit.v1"`.
    #[serde(default)]
    pub version: Option<String>,
    /// The limits. Every rule whose match fits a request counts it, each in its own
    /// bucket; the request passes only if all of them admit it. Required, at least one.
    pub rules: Vec<RuleConfig>,
    /// Where the buckets live and how the table is bounded. Default: see its fields.
    #[serde(default)]
    pub local: LocalConfig,
    /// How the client's address is found for `client_address` keys.
    /// Default: the connection's peer.
    #[serde(default)]
    pub client: ClientConfig,
    /// The header in which jwt-auth forwards the verified payload (base64url JSON),
    /// read for `claim` keys, exemptions and overrides. rate-limit must run after
    /// jwt-auth, which removes a client's own copy of it.
    /// Default: `"x-tollgate-jwt-payload"`. Example: `"x-verified-claims"`.
    #[serde(default = "default_claims_header")]
    pub claims_header: String,
    /// Count what would be refused (`rate_limit.<rule>.shadow_denied`) but refuse
    /// nothing: for trying limits on live traffic. Default: `false`.
    #[serde(default)]
    pub shadow: bool,
    /// The refusal and the headers that announce limits. Default: see its fields.
    #[serde(default)]
    pub response: ResponseConfig,
    /// When no decision can be made (the shared table fails or stays contended, the
    /// rate-limit service fails, times out or answers nonsense): `closed` answers 503
    /// `rate_limit_unavailable`, `open` lets the request pass. Both are counted in
    /// `rate_limit.errors`. Default: `"closed"`.
    #[serde(default)]
    pub failure_mode: FailureMode,
    /// The rate-limit service that enforces `global` rules across proxies. Required
    /// when a rule is global. Default: none.
    #[serde(default)]
    pub global: Option<GlobalConfig>,
}

/// A rate-limit service: any server of `envoy.service.ratelimit.v3.RateLimitService`
/// (Envoy's ratelimit service, Limitador, `tollgate-ratelimit`).
///
/// ```json
/// {"service": "ratelimit", "domain": "edge", "timeout_ms": 50}
/// ```
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct GlobalConfig {
    /// Where the service is: an Envoy cluster name (HTTP/2 for `grpc`), or `host:port`
    /// on Kong and APISIX. Required. Example: `"ratelimit"`.
    pub service: String,
    /// `grpc` (`ShouldRateLimit`; Envoy only: Kong and APISIX have no gRPC callouts)
    /// or `http` (`POST` of its JSON to `path`, as Envoy's ratelimit service and
    /// `tollgate-ratelimit` serve it). Default: `"grpc"` on Envoy, `"http"` elsewhere.
    #[serde(default)]
    pub transport: Option<Transport>,
    /// The JSON endpoint's path (`http`). Default: `"/json"`.
    #[serde(default = "default_json_path")]
    pub path: String,
    /// The `:authority` of `http` calls. Default: `service`. Example: `"ratelimit.internal"`.
    #[serde(default)]
    pub authority: Option<String>,
    /// The domain the service keeps these limits under. Default: `"tollgate"`.
    /// Example: `"edge"`.
    #[serde(default = "default_domain")]
    pub domain: String,
    /// How long a request waits for the service; then `failure_mode` decides.
    /// Between 1 and 10000. Default: `100`.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Check each global rule against this proxy's own buckets first (with the whole
    /// global budget): a request this proxy alone has already sent too many of is
    /// refused without asking the service. Default: `true`.
    #[serde(default = "yes")]
    pub pre_check: bool,
}

fn default_json_path() -> String {
    "/json".into()
}
fn default_domain() -> String {
    "tollgate".into()
}
fn default_timeout_ms() -> u64 {
    100
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    Grpc,
    Http,
}

/// A compiled [`GlobalConfig`].
#[derive(Debug, Clone)]
pub struct Global {
    pub service: String,
    pub transport: Transport,
    pub path: String,
    pub authority: String,
    pub domain: String,
    pub timeout_ms: u64,
    pub pre_check: bool,
}

fn default_claims_header() -> String {
    tollgate_kit::contract::PAYLOAD_HEADER.into()
}

/// One limit rule.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// The rule's name: in metrics (`rate_limit.<name>.denied`), the
    /// `RateLimit-Policy` header and logs. Lower-case letters, digits, `-` and `_`;
    /// unique. Required. Example: `"per-user"`.
    pub name: String,
    /// Which requests count, as in every filter's rules (path prefix, exact path or
    /// regex, methods). Default: every request. Example: `{"prefix": "/api/",
    /// "methods": ["POST"]}`.
    #[serde(default, rename = "match")]
    pub matches: Option<MatchConfig>,
    /// Hosts (the request's authority without its port, any case) the rule is for;
    /// `*.example.com` matches any subdomain. Default: `[]` (any host).
    /// Example: `["api.example.com"]`.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// What makes two requests share a bucket, in order. Default: `[]` (one bucket for
    /// every matching request). Example: `[{"claim": "tenant"}, "client_address"]`.
    #[serde(default)]
    pub key: Vec<Descriptor>,
    /// What happens to a request that lacks a key part (no such header or claim).
    /// Default: `"skip"`.
    #[serde(default)]
    pub missing: Missing,
    /// The limits of each bucket, all enforced at once. Required, one to eight.
    pub limits: Vec<LimitConfig>,
    /// Requests whose verified claims match any of these are not counted.
    /// Default: `[]`. Example: `[{"claim": "roles", "value": "ops"}]`.
    #[serde(default)]
    pub exempt: Vec<ClaimCondition>,
    /// Other limits for some callers: the first override whose condition matches
    /// replaces `limits`. Default: `[]`. Example:
    /// `[{"when": {"claim": "plan", "value": "gold"}, "limits": [{"requests": 100, "per": "1s"}]}]`.
    #[serde(default)]
    pub overrides: Vec<OverrideConfig>,
    /// This rule only counts (see the top-level `shadow`). Default: `false`.
    #[serde(default)]
    pub shadow: bool,
    /// Enforced by the rate-limit service (`global`), so every proxy that asks it shares
    /// one budget; this proxy's own buckets only pre-check. Its periods must be whole
    /// seconds. Default: `false`.
    #[serde(default)]
    pub global: bool,
}

/// `requests` per `per`, with up to `burst` at once.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct LimitConfig {
    /// Requests per period, at least 1. Required. Example: `100`.
    pub requests: u64,
    /// The period: a number and a unit, `ms`, `s`, `m`, `h` or `d`. Required.
    /// Example: `"1m"`.
    pub per: String,
    /// Requests admitted at once from a full bucket, at least 1. Default: `requests`
    /// (a fresh client may spend a whole period's budget at once).
    /// Example: `20`.
    #[serde(default)]
    pub burst: Option<u64>,
}

/// A condition on the verified claims.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ClaimCondition {
    /// The claim (dotted path into the payload). Required. Example: `"realm.role"`.
    pub claim: String,
    /// Matches a claim equal to it, or an array claim holding it. Required.
    /// Example: `"admin"`.
    pub value: String,
}

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct OverrideConfig {
    /// Required. Example: `{"claim": "plan", "value": "gold"}`.
    pub when: ClaimCondition,
    /// Replaces the rule's limits for these callers. Required, one to eight.
    pub limits: Vec<LimitConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct LocalConfig {
    /// Buckets one proxy keeps (slots in its shared data, per rule set; memory is
    /// bounded by it: about 100 bytes each). Between 16 and 1,000,000.
    /// Default: `10000`. Example: `100000`.
    #[serde(default = "default_max_keys")]
    pub max_keys: u32,
    /// What a new key gets when its slots are all taken by live buckets.
    /// Default: `"evict"`.
    #[serde(default)]
    pub when_full: WhenFull,
    /// How often a worker decides again after another worker updated the same bucket
    /// first. Between 1 and 1000. Default: `64`.
    #[serde(default = "default_retries")]
    pub cas_retries: u32,
    /// The proxy's worker count, needed only where workers share no data (APISIX):
    /// each worker then enforces `1/workers` of every rate and burst, so together they
    /// never exceed the limit. Refused on APISIX when absent. Default: none.
    /// Example: `4`.
    #[serde(default)]
    pub workers: Option<u32>,
}

fn default_max_keys() -> u32 {
    10_000
}
fn default_retries() -> u32 {
    64
}

impl Default for LocalConfig {
    fn default() -> Self {
        Self {
            max_keys: default_max_keys(),
            when_full: WhenFull::default(),
            cas_retries: default_retries(),
            workers: None,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// Proxies in front of this one that append to `x-forwarded-for`, as Envoy's
    /// `xff_num_trusted_hops`: the client is the address that many entries from the
    /// right of `x-forwarded-for`, and with `0` the connection's peer (a client can
    /// write anything into the header itself). Default: `0`. Example: `1`.
    #[serde(default)]
    pub xff_trusted_hops: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ResponseConfig {
    /// The refusal's status, 429 or another 4xx/5xx. Default: `429`.
    #[serde(default = "default_status")]
    pub status: u16,
    /// `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers) on
    /// refusals and on admitted responses. Default: `true`.
    #[serde(default = "yes")]
    pub ratelimit_headers: bool,
    /// `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset` (seconds)
    /// as well, for older clients. Default: `false`.
    #[serde(default)]
    pub x_ratelimit_headers: bool,
}

fn default_status() -> u16 {
    429
}
fn yes() -> bool {
    true
}

impl Default for ResponseConfig {
    fn default() -> Self {
        Self {
            status: default_status(),
            ratelimit_headers: true,
            x_ratelimit_headers: false,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum FailureMode {
    #[default]
    Closed,
    Open,
}

/// A limit ready for requests: its GCRA and its name in headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    pub gcra: Gcra,
    /// `RateLimit-Policy` item name: the rule's, with the period when a rule has several.
    pub policy: String,
}

#[derive(Debug, Clone)]
pub struct Override {
    pub when: ClaimCondition,
    pub limits: Vec<Limit>,
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub matcher: Option<Matcher>,
    /// Lower case; a leading `*.` kept for suffix matches.
    pub hosts: Vec<String>,
    pub key: Vec<Descriptor>,
    pub missing: Missing,
    pub limits: Vec<Limit>,
    pub exempt: Vec<ClaimCondition>,
    pub overrides: Vec<Override>,
    pub shadow: bool,
    /// Whether any part of the rule reads claims.
    pub reads_claims: bool,
    /// Enforced by the rate-limit service.
    pub global: bool,
}

/// Where buckets live on this host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One table in shared data for every worker: exact.
    Shared,
    /// A table per worker, each with `1/workers` of every limit.
    PerWorker { workers: u32 },
}

impl Mode {
    /// Its name in logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Self::Shared => "shared",
            Self::PerWorker { .. } => "per_worker",
        }
    }
}

/// The config as requests use it.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub rules: Vec<Rule>,
    pub mode: Mode,
    pub max_keys: u32,
    pub when_full: WhenFull,
    pub cas_retries: u32,
    /// The worker count, if configured (the fallback when shared data turns out to be
    /// missing at run time).
    pub workers: Option<u32>,
    pub xff_trusted_hops: u32,
    pub claims_header: String,
    pub shadow: bool,
    pub response: ResponseConfig,
    pub failure_mode: FailureMode,
    pub global: Option<Global>,
    pub warnings: Vec<String>,
}

/// Parses a period: `250ms`, `1s`, `5m`, `1h`, `1d`; nanoseconds.
pub fn parse_period(text: &str) -> Option<u64> {
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let unit_ns: u64 = match unit {
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "d" => 86_400_000_000_000,
        _ => return None,
    };
    n.checked_mul(unit_ns).filter(|ns| *ns > 0)
}

fn compile_limits(
    limits: Vec<LimitConfig>,
    rule: &str,
    at: &str,
) -> Result<Vec<Limit>, ConfigError> {
    if limits.is_empty() || limits.len() > 8 {
        return Err(ConfigError::new(at, "expected one to eight limits"));
    }
    let several = limits.len() > 1;
    let mut out = Vec::with_capacity(limits.len());
    for (i, l) in limits.into_iter().enumerate() {
        let here = format!("{at}[{i}]");
        let period = parse_period(&l.per).ok_or_else(|| {
            ConfigError::new(
                format!("{here}.per"),
                "expected a number and a unit (ms, s, m, h, d), like \"1s\" or \"15m\"",
            )
        })?;
        if l.requests == 0 {
            return Err(ConfigError::new(
                format!("{here}.requests"),
                "expected at least 1",
            ));
        }
        let burst = l.burst.unwrap_or(l.requests);
        if burst == 0 {
            return Err(ConfigError::new(
                format!("{here}.burst"),
                "expected at least 1",
            ));
        }
        let gcra = Gcra::new(l.requests, period, burst).ok_or_else(|| {
            ConfigError::new(&here, "the bucket (burst times the interval) is too large")
        })?;
        let policy = if several {
            format!("{rule}-{}", l.per)
        } else {
            rule.to_string()
        };
        out.push(Limit { gcra, policy });
    }
    Ok(out)
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn compile_rule(rule: RuleConfig, at: &str) -> Result<Rule, ConfigError> {
    if !valid_name(&rule.name) {
        return Err(ConfigError::new(
            format!("{at}.name"),
            "expected 1 to 64 lower-case letters, digits, `-` or `_`",
        ));
    }
    let matcher = rule
        .matches
        .map(|m| m.compile(&format!("{at}.match")))
        .transpose()?;
    let mut hosts = Vec::with_capacity(rule.hosts.len());
    for (i, h) in rule.hosts.iter().enumerate() {
        let bare = h.strip_prefix("*.").unwrap_or(h);
        if bare.is_empty() || bare.contains(['*', '/', ' ', ':']) {
            return Err(ConfigError::new(
                format!("{at}.hosts[{i}]"),
                "expected a host name, optionally starting with `*.`",
            ));
        }
        hosts.push(h.to_ascii_lowercase());
    }
    let mut key = Vec::with_capacity(rule.key.len());
    for (i, d) in rule.key.into_iter().enumerate() {
        key.push(
            d.compile()
                .map_err(|e| e.within(&format!("{at}.key[{i}]")))?,
        );
    }
    let limits = compile_limits(rule.limits, &rule.name, &format!("{at}.limits"))?;
    let mut overrides = Vec::with_capacity(rule.overrides.len());
    for (i, o) in rule.overrides.into_iter().enumerate() {
        let here = format!("{at}.overrides[{i}]");
        check_condition(&o.when, &format!("{here}.when"))?;
        overrides.push(Override {
            when: o.when,
            limits: compile_limits(o.limits, &rule.name, &format!("{here}.limits"))?,
        });
    }
    for (i, c) in rule.exempt.iter().enumerate() {
        check_condition(c, &format!("{at}.exempt[{i}]"))?;
    }
    if rule.global {
        let all = limits
            .iter()
            .chain(overrides.iter().flat_map(|o| &o.limits));
        for l in all {
            if l.gcra.period % 1_000_000_000 != 0 {
                return Err(ConfigError::new(
                    format!("{at}.limits"),
                    "a global rule's periods must be whole seconds (the service counts seconds)",
                ));
            }
        }
    }
    let reads_claims = !rule.exempt.is_empty()
        || !overrides.is_empty()
        || key.iter().any(|d| matches!(d, Descriptor::Claim(_)));
    Ok(Rule {
        name: rule.name,
        matcher,
        hosts,
        key,
        missing: rule.missing,
        limits,
        exempt: rule.exempt,
        overrides,
        shadow: rule.shadow,
        reads_claims,
        global: rule.global,
    })
}

fn check_condition(c: &ClaimCondition, at: &str) -> Result<(), ConfigError> {
    if c.claim.is_empty() || c.claim.split('.').any(str::is_empty) {
        return Err(ConfigError::new(
            format!("{at}.claim"),
            "expected a claim name or a dotted path",
        ));
    }
    Ok(())
}

/// Compiles a parsed config for `facts`' host.
pub fn compile_on(c: RateLimitConfig, facts: HostFacts) -> Result<Compiled, ConfigError> {
    check_version(c.version.as_deref(), VERSION)?;
    if c.rules.is_empty() {
        return Err(ConfigError::new("rules", "expected at least one rule"));
    }
    let mut rules: Vec<Rule> = Vec::with_capacity(c.rules.len());
    for (i, r) in c.rules.into_iter().enumerate() {
        let at = format!("rules[{i}]");
        let rule = compile_rule(r, &at)?;
        if rules.iter().any(|other| other.name == rule.name) {
            return Err(ConfigError::new(
                format!("{at}.name"),
                "another rule has this name",
            ));
        }
        rules.push(rule);
    }
    let local = c.local;
    if !(16..=1_000_000).contains(&local.max_keys) {
        return Err(ConfigError::new(
            "local.max_keys",
            "expected between 16 and 1000000",
        ));
    }
    if !(1..=1000).contains(&local.cas_retries) {
        return Err(ConfigError::new(
            "local.cas_retries",
            "expected between 1 and 1000",
        ));
    }
    if let Some(w) = local.workers
        && !(1..=1024).contains(&w)
    {
        return Err(ConfigError::new(
            "local.workers",
            "expected between 1 and 1024",
        ));
    }
    let all_global = rules.iter().all(|r| r.global) && c.global.is_some();
    let mode = if facts.shares_data() {
        Mode::Shared
    } else if local.workers.is_none() && all_global {
        // Only the service enforces: nothing to keep here but the pre-check, which
        // needs the worker count.
        Mode::PerWorker { workers: 1 }
    } else {
        let workers = local.workers.ok_or_else(|| {
            ConfigError::new(
                "local.workers",
                format!(
                    "{} workers share no data, so each enforces its share of every limit: \
                     set this to the number of worker processes",
                    facts.name()
                ),
            )
        })?;
        Mode::PerWorker { workers }
    };
    let claims_header = c.claims_header.to_ascii_lowercase();
    if !tollgate_kit::config::valid_header_name(&claims_header) {
        return Err(ConfigError::new("claims_header", "expected a header name"));
    }
    let status = c.response.status;
    if !(400..=599).contains(&status) {
        return Err(ConfigError::new(
            "response.status",
            "expected a 4xx or 5xx status",
        ));
    }
    let mut global = compile_global(c.global, facts)?;
    let precheck_off = !facts.shares_data() && local.workers.is_none();
    if let Some(g) = global.as_mut().filter(|g| g.pre_check && precheck_off) {
        g.pre_check = false;
    }
    if global.is_none()
        && let Some(i) = rules.iter().position(|r| r.global)
    {
        return Err(ConfigError::new(
            format!("rules[{i}].global"),
            "a global rule needs the rate-limit service: set `global.service`",
        ));
    }
    let mut warnings = Vec::new();
    if precheck_off && global.is_some() {
        warnings.push(format!(
            "{} has no shared data and `local.workers` is not set: global rules go to the \
             service without a local pre-check",
            facts.name()
        ));
    }
    if let (Mode::PerWorker { workers }, false) = (mode, precheck_off) {
        warnings.push(format!(
            "{} has no shared data: each of {workers} workers enforces 1/{workers} of every limit",
            facts.name()
        ));
        for r in &rules {
            for l in r
                .limits
                .iter()
                .chain(r.overrides.iter().flat_map(|o| &o.limits))
            {
                if l.gcra.burst < u64::from(workers) {
                    warnings.push(format!(
                        "rule `{}`: a burst of {} over {workers} workers is 1 per worker, \
                         so up to {workers} pass at once",
                        r.name, l.gcra.burst
                    ));
                }
            }
        }
    }
    if facts.kind == HostKind::Kong && local.max_keys > 20_000 {
        warnings.push(format!(
            "Kong keeps shared data in `shm_kv`: {} buckets need about {} MiB there",
            local.max_keys,
            u64::from(local.max_keys) * 200 / (1 << 20) + 1
        ));
    }
    Ok(Compiled {
        rules,
        mode,
        max_keys: local.max_keys,
        when_full: local.when_full,
        cas_retries: local.cas_retries,
        workers: local.workers,
        xff_trusted_hops: c.client.xff_trusted_hops,
        claims_header,
        shadow: c.shadow,
        response: c.response,
        failure_mode: c.failure_mode,
        global,
        warnings,
    })
}

fn compile_global(
    g: Option<GlobalConfig>,
    facts: HostFacts,
) -> Result<Option<Global>, ConfigError> {
    let Some(g) = g else {
        return Ok(None);
    };
    let transport = g.transport.unwrap_or(if facts.grpc_callouts() {
        Transport::Grpc
    } else {
        Transport::Http
    });
    if transport == Transport::Grpc && !facts.grpc_callouts() {
        return Err(ConfigError::new(
            "global.transport",
            format!(
                "{} has no gRPC callouts: use `http` (the service's JSON endpoint)",
                facts.name()
            ),
        ));
    }
    if g.service.is_empty() || g.service.contains(['/', ' ']) {
        return Err(ConfigError::new(
            "global.service",
            "expected a cluster name or host:port",
        ));
    }
    if transport == Transport::Http && facts.kind != HostKind::Envoy && !g.service.contains(':') {
        return Err(ConfigError::new(
            "global.service",
            format!(
                "{} calls out to host:port, not to a cluster name",
                facts.name()
            ),
        ));
    }
    if !g.path.starts_with('/') {
        return Err(ConfigError::new(
            "global.path",
            "expected a path starting with /",
        ));
    }
    if g.domain.is_empty() {
        return Err(ConfigError::new("global.domain", "expected a domain name"));
    }
    if !(1..=10_000).contains(&g.timeout_ms) {
        return Err(ConfigError::new(
            "global.timeout_ms",
            "expected between 1 and 10000",
        ));
    }
    Ok(Some(Global {
        authority: g.authority.unwrap_or_else(|| g.service.clone()),
        service: g.service,
        transport,
        path: g.path,
        domain: g.domain,
        timeout_ms: g.timeout_ms,
        pre_check: g.pre_check,
    }))
}

/// Parses and compiles config bytes as the filter does on `facts`' host.
pub fn load(bytes: &[u8], facts: HostFacts) -> Result<Compiled, ConfigError> {
    #[derive(Deserialize)]
    struct Versioned {
        #[serde(default)]
        version: Option<serde_json::Value>,
    }
    // Only from an object: serde would read `[1]` as a struct with `version: 1`.
    let object = bytes.trim_ascii_start().starts_with(b"{");
    if let (true, Ok(Versioned { version: Some(v) })) =
        (object, serde_json::from_slice::<Versioned>(bytes))
    {
        let found = v.as_str().ok_or_else(|| {
            ConfigError::new("version", format!("expected the string `{VERSION}`"))
        })?;
        check_version(Some(found), VERSION)?;
    }
    let parsed: RateLimitConfig = tollgate_kit::config::parse(bytes)?;
    compile_on(parsed, facts)
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
