//! hcp-auth's configuration: parsed with `deny_unknown_fields`, then compiled once.
//! Every field is documented with its default and an example.

use serde::Deserialize;
use tollgate_kit::config::{Compile, ConfigError};
use tollgate_kit::path::PathHandling;
use tollgate_kit::route::{MatchConfig, Matcher};

/// The filter's configuration.
///
/// ```json
/// {"hcp_domain": "hcp.example.com",
///  "trusted_payload_header": "x-tollgate-jwt-payload",
///  "token_cookie": "hcp_token",
///  "routes": [{"match": {"prefix": "/mapi/"}, "mode": "management"},
///             {"match": {"prefix": "/"}, "mode": "s3"}]}
/// ```
/// The config format this build reads.
pub const VERSION: &str = "tollgate.hcp_auth.v1";

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct HcpAuthConfig {
    /// The config format, [`VERSION`]. Optional; any other value is refused.
    /// Example: `"tollgate.hcp_auth.v1"`.
    #[serde(default)]
    pub version: Option<String>,
    /// The deployment's HCP domain: a request for tenant `t` goes to `t.<hcp_domain>`.
    /// One per deployment, so a gateway can never cross environments. Required.
    /// Example: `"hcp.example.com"`.
    pub hcp_domain: String,
    /// Port added to the routed authority (`t.hcp.example.com:9090`). Default: none.
    /// Example: `9090`.
    #[serde(default)]
    pub authority_port: Option<u16>,
    /// The header in which `jwt-auth` forwards the verified payload (without credential
    /// claims). hcp-auth never reads credentials from it; it takes it out so it never
    /// reaches HCP. Required. Example: `"x-tollgate-jwt-payload"`.
    pub trusted_payload_header: String,
    /// Where the credentials are in the verified claims (dotted paths).
    /// Default: `{"username": "username", "password": "password", "tenant": "tenant"}`.
    #[serde(default)]
    pub claims: ClaimNames,
    /// The cookie that carries the token, removed before the request leaves.
    /// Default: none. Example: `"hcp_token"`.
    #[serde(default)]
    pub token_cookie: Option<String>,
    /// A header naming the tenant's cluster, for Envoy's `cluster_header` routing.
    /// Default: none. Example: `{"name": "x-tollgate-hcp-cluster", "prefix": "hcp-"}`
    /// sets `x-tollgate-hcp-cluster: hcp-<tenant>`.
    #[serde(default)]
    pub cluster_header: Option<ClusterHeaderConfig>,
    /// How S3 requests are signed. Default: region `us-east-1`, service `s3`, unsigned payload.
    #[serde(default)]
    pub s3: S3Config,
    /// Which requests get which credential, first match wins. Default: `[]`.
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    /// The mode of requests no route matches. Default: `"management"`.
    #[serde(default = "default_mode")]
    pub default_mode: Mode,
    /// What to do with request paths that are not in normal form before routes match
    /// them: `normalize`, `reject` or `as_is`, as in jwt-auth. Default: `"normalize"`.
    /// Example: `"reject"`.
    #[serde(default)]
    pub paths: PathHandling,
}

fn default_mode() -> Mode {
    Mode::Management
}

/// Claim paths of the credentials.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ClaimNames {
    /// Default: `"username"`. Example: `"hcp.user"`.
    #[serde(default = "default_username")]
    pub username: String,
    /// Default: `"password"`. Example: `"hcp.password"`.
    #[serde(default = "default_password")]
    pub password: String,
    /// Default: `"tenant"`. Example: `"hcp.tenant"`.
    #[serde(default = "default_tenant")]
    pub tenant: String,
}

fn default_username() -> String {
    "username".into()
}
fn default_password() -> String {
    "password".into()
}
fn default_tenant() -> String {
    "tenant".into()
}

impl Default for ClaimNames {
    fn default() -> Self {
        Self {
            username: default_username(),
            password: default_password(),
            tenant: default_tenant(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ClusterHeaderConfig {
    /// Header name. Example: `"x-tollgate-hcp-cluster"`.
    pub name: String,
    /// Put before the tenant. Default: `""`. Example: `"hcp-"`.
    #[serde(default)]
    pub prefix: String,
}

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct S3Config {
    /// Signing region. Default: `"us-east-1"`. Example: `"hcp"`.
    #[serde(default = "default_region")]
    pub region: String,
    /// Signing service. Default: `"s3"`.
    #[serde(default = "default_service")]
    pub service: String,
    /// Hash the body into the signature instead of `UNSIGNED-PAYLOAD`. The body is then
    /// buffered, up to `max_body_bytes`. Default: `false`.
    #[serde(default)]
    pub sign_body: bool,
    /// Largest body hashed when `sign_body` is on; larger requests get 413.
    /// Default: `8388608` (8 MiB). Example: `1048576`.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: u64,
}

fn default_region() -> String {
    "us-east-1".into()
}
fn default_service() -> String {
    "s3".into()
}
fn default_max_body() -> u64 {
    8 * 1024 * 1024
}

impl Default for S3Config {
    fn default() -> Self {
        Self {
            region: default_region(),
            service: default_service(),
            sign_body: false,
            max_body_bytes: default_max_body(),
        }
    }
}

/// What a route does with the credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// `Authorization: HCP <base64(user)>:<md5(password)>` (management API, REST).
    Management,
    /// Re-sign with AWS SigV4 using HCP's per-user S3 keys.
    S3,
    /// No credential (health checks); token cookie and payload header still removed.
    Passthrough,
}

/// A route: requests matching `match` get `mode`.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Exactly one of `prefix`, `path`, `regex`, optionally with `methods`.
    /// Example: `{"prefix": "/mapi/"}`.
    #[serde(rename = "match")]
    pub matcher: MatchConfig,
    /// Example: `"s3"`.
    pub mode: Mode,
}

/// The ready form.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub hcp_domain: String,
    pub authority_port: Option<u16>,
    pub payload_header: String,
    pub claims: ClaimNames,
    pub token_cookie: Option<String>,
    pub cluster_header: Option<ClusterHeaderConfig>,
    pub s3: S3Config,
    pub routes: Vec<(Matcher, Mode)>,
    pub default_mode: Mode,
    pub paths: PathHandling,
}

/// A DNS name: labels of letters, digits and `-`, not starting or ending with `-`.
pub fn dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// What `on_configure` runs, and the control service with it. Every mode works on every
/// host, so `facts` refuses nothing yet.
pub fn load(bytes: &[u8], _facts: tollgate_kit::HostFacts) -> Result<Compiled, ConfigError> {
    tollgate_kit::config::load::<HcpAuthConfig>(bytes)
}

impl Compile for HcpAuthConfig {
    type Compiled = Compiled;
    const VERSION: &'static str = VERSION;

    fn compile(self) -> Result<Compiled, ConfigError> {
        let domain = self.hcp_domain.to_ascii_lowercase();
        if !dns_name(&domain) {
            return Err(ConfigError::new(
                "hcp_domain",
                "expected a DNS name like `hcp.example.com`",
            ));
        }
        let payload_header = self.trusted_payload_header.to_ascii_lowercase();
        if !header_name(&payload_header) {
            return Err(ConfigError::new(
                "trusted_payload_header",
                "expected a header name",
            ));
        }
        for (field, path) in [
            ("claims.username", &self.claims.username),
            ("claims.password", &self.claims.password),
            ("claims.tenant", &self.claims.tenant),
        ] {
            if path.is_empty() || path.split('.').any(str::is_empty) {
                return Err(ConfigError::new(field, "expected a dotted claim path"));
            }
        }
        if let Some(cookie) = &self.token_cookie
            && (cookie.is_empty() || cookie.contains([';', '=', ' ']))
        {
            return Err(ConfigError::new("token_cookie", "expected a cookie name"));
        }
        let mut cluster_header = self.cluster_header;
        if let Some(h) = cluster_header.as_mut() {
            h.name = h.name.to_ascii_lowercase();
            if !header_name(&h.name) || h.name == "authorization" {
                return Err(ConfigError::new(
                    "cluster_header.name",
                    "expected a plain header name",
                ));
            }
        }
        if self.s3.region.is_empty() || self.s3.service.is_empty() {
            return Err(ConfigError::new(
                "s3",
                "region and service must not be empty",
            ));
        }
        if self.s3.sign_body && !(1..=64 * 1024 * 1024).contains(&self.s3.max_body_bytes) {
            return Err(ConfigError::new(
                "s3.max_body_bytes",
                "expected 1 to 67108864",
            ));
        }
        let routes = self
            .routes
            .into_iter()
            .enumerate()
            .map(|(i, r)| Ok((r.matcher.compile(&format!("routes[{i}].match"))?, r.mode)))
            .collect::<Result<Vec<_>, ConfigError>>()?;
        Ok(Compiled {
            paths: self.paths,
            hcp_domain: domain,
            authority_port: self.authority_port,
            payload_header,
            claims: self.claims,
            token_cookie: self.token_cookie,
            cluster_header,
            s3: self.s3,
            routes,
            default_mode: self.default_mode,
        })
    }
}
