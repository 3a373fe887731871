//! The configuration: which detectors run and what their matches become, JSON field
//! rules, which bodies are read, limits, exemptions and what to do where a host cannot
//! rewrite bodies. Parsed with `deny_unknown_fields`, compiled once in `on_configure`;
//! the control service validates with the same [`load`].

use std::collections::BTreeMap;

use serde::Deserialize;
use tollgate_kit::config::{ConfigError, valid_header_name};
use tollgate_kit::route::{MatchConfig, Matcher};
use tollgate_kit::{HostFacts, HostKind};

use crate::action::{Action, PseudonymKey};
use crate::detect::{Detectors, Kind, PatternError, check_custom};
use crate::json::{Effect, Rule};
use crate::pointer::Pattern;
use crate::segment::{Masker, detector_key};

/// The config format this build reads.
pub const VERSION: &str = "tollgate.pii_mask.v1";

/// The pii-mask filter's configuration. Every field has a default: `{}` masks every
/// built-in kind with its placeholder in JSON and text responses.
///
/// ```json
/// {"version": "tollgate.pii_mask.v1",
///  "detectors": {"card": {"action": {"type": "partial", "keep": 4}}},
///  "fields": [{"pointer": "/**/password", "rule": "drop"}],
///  "exempt": {"claims": [{"claim": "role", "value": "compliance"}]}}
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PiiMaskConfig {
    /// The format, if given: `"tollgate.pii_mask.v1"`. Default: this build's.
    #[serde(default)]
    pub version: Option<String>,
    /// The built-in detectors, each on by default with its placeholder. Default: all on.
    #[serde(default)]
    pub detectors: DetectorsConfig,
    /// The operator's own patterns, tried before the built-in ones. Default: `[]`.
    #[serde(default)]
    pub custom: Vec<CustomConfig>,
    /// Rules for JSON fields by JSON Pointer (`*` one segment, `**` any depth): the
    /// first rule whose pointer fits a value decides it and everything inside it.
    /// Default: `[]`.
    #[serde(default)]
    pub fields: Vec<FieldConfig>,
    /// Which bodies are read, by `content-type`. Default: see its fields.
    #[serde(default)]
    pub content_types: ContentTypesConfig,
    /// The most bytes of one body scanned (after decompression), between 1 KiB and
    /// 1 GiB. Default: `16777216` (16 MiB).
    #[serde(default = "default_max_body")]
    pub max_body_bytes: u64,
    /// A body over `max_body_bytes`: `"block"` (a response whose `content-length`
    /// says so becomes a 502; one found longer while streaming is reset, never cut
    /// short silently) or `"pass"` (the rest goes unmasked, counted in
    /// `pii_mask.oversize`). Default: `"block"`.
    #[serde(default)]
    pub on_oversize: Choice,
    /// Compressed bodies: `"decode"` (gzip, deflate and br are decoded, masked and
    /// sent uncompressed) or `"strip_accept_encoding"` (the request's
    /// `accept-encoding` is removed so the origin answers uncompressed; Envoy only).
    /// Default: `"decode"`.
    #[serde(default)]
    pub compression: Compression,
    /// A body in an encoding that cannot be decoded (zstd, stacked codings): `"block"`
    /// (502) or `"pass"` (unmasked, counted). Default: `"block"`.
    #[serde(default)]
    pub on_unknown_encoding: Choice,
    /// Where masking applies: the requests any of these fit; empty: every request.
    /// Default: `[]`. Example: `[{"prefix": "/api/"}]`.
    #[serde(default)]
    pub routes: Vec<MatchConfig>,
    /// Who and what is never masked. Default: nobody.
    #[serde(default)]
    pub exempt: ExemptConfig,
    /// Request bodies too (for APIs that echo input into logs). Envoy only: the other
    /// hosts cannot drop a request's `content-length`. Default: off.
    #[serde(default)]
    pub requests: RequestsConfig,
    /// The key of pseudonyms (base64 of at least 32 bytes), from the control service's
    /// secrets. Required when an action is `pseudonym`. Never logged.
    #[serde(default)]
    pub pseudonym_key: Option<String>,
    /// Where the host cannot replace bodies (APISIX): `"block"` refuses requests on
    /// masked routes with 502 before they reach the origin; `"pass"` lets responses
    /// through unmasked and counts them in `pii_mask.unmasked`. Default: `"block"`.
    #[serde(default)]
    pub on_unsupported_host: Choice,
}

fn default_max_body() -> u64 {
    16 << 20
}

/// Block or pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Choice {
    #[default]
    Block,
    Pass,
}

/// What to do with compressed bodies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    #[default]
    Decode,
    StripAcceptEncoding,
}

/// One built-in detector.
///
/// ```json
/// {"enabled": true, "action": {"type": "pseudonym"}}
/// ```
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct DetectorConfig {
    /// Whether it runs. Default: `true`.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// What its matches become. Default: the kind's placeholder (`[EMAIL]`).
    #[serde(default)]
    pub action: Option<ActionConfig>,
}

fn yes() -> bool {
    true
}

impl Default for DetectorConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            action: None,
        }
    }
}

/// The built-in detectors. Each validates its candidates, so lookalikes stay.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct DetectorsConfig {
    /// Email addresses (RFC 5321 sizes, alphabetic TLD). Placeholder `[EMAIL]`.
    #[serde(default)]
    pub email: DetectorConfig,
    /// Phone numbers: E.164 (`+` and 8-15 digits) and grouped national forms
    /// (`(415) 555-2671`, `020 7946 0958`). Placeholder `[PHONE]`.
    #[serde(default)]
    pub phone: DetectorConfig,
    /// Payment cards: 13-19 digits, Luhn, a network's prefix and length.
    /// Placeholder `[CARD]`.
    #[serde(default)]
    pub card: DetectorConfig,
    /// IBANs: the country's length and mod-97. Placeholder `[IBAN]`.
    #[serde(default)]
    pub iban: DetectorConfig,
    /// US SSNs written `AAA-GG-SSSS`, never-issued ranges excluded. Placeholder `[SSN]`.
    #[serde(default)]
    pub ssn: DetectorConfig,
    /// IPv4 addresses. Placeholder `[IP]`.
    #[serde(default)]
    pub ipv4: DetectorConfig,
    /// IPv6 addresses. Placeholder `[IP]`.
    #[serde(default)]
    pub ipv6: DetectorConfig,
    /// JWTs (three base64url parts, a JSON header with `alg`). Placeholder `[SECRET]`.
    #[serde(default)]
    pub jwt: DetectorConfig,
    /// The token after `Bearer `. Placeholder `[SECRET]`.
    #[serde(default)]
    pub bearer: DetectorConfig,
    /// HCP management credentials echoed in a body (`HCP <b64 user>:<md5 hex>`).
    /// Placeholder `[SECRET]`.
    #[serde(default)]
    pub hcp_authorization: DetectorConfig,
    /// AWS access key ids (`AKIA…`). Placeholder `[SECRET]`.
    #[serde(default)]
    pub aws_access_key: DetectorConfig,
    /// AWS secret access keys after their name. Placeholder `[SECRET]`.
    #[serde(default)]
    pub aws_secret_key: DetectorConfig,
}

impl DetectorsConfig {
    fn by_kind(&self) -> [(Kind, &DetectorConfig); 12] {
        [
            (Kind::Jwt, &self.jwt),
            (Kind::Bearer, &self.bearer),
            (Kind::HcpAuthorization, &self.hcp_authorization),
            (Kind::AwsAccessKey, &self.aws_access_key),
            (Kind::AwsSecretKey, &self.aws_secret_key),
            (Kind::Email, &self.email),
            (Kind::Iban, &self.iban),
            (Kind::Card, &self.card),
            (Kind::Ssn, &self.ssn),
            (Kind::Ipv6, &self.ipv6),
            (Kind::Ipv4, &self.ipv4),
            (Kind::Phone, &self.phone),
        ]
    }
}

/// What a match becomes.
///
/// ```json
/// {"type": "partial", "keep": 4}
/// ```
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ActionConfig {
    /// `[LABEL]`.
    Placeholder {
        /// Upper-case letters, digits, `_` and `-`, at most 32. Default: the kind's
        /// (`EMAIL`), `REDACTED` for a field rule, the custom pattern's name upper-cased.
        #[serde(default)]
        label: Option<String>,
    },
    /// Letters and digits but the last `keep` become `*`; separators stay.
    Partial {
        /// Between 0 and 8. Default: `4`.
        #[serde(default = "default_keep")]
        keep: usize,
    },
    /// `[LABEL:<hex>]`: a keyed HMAC-SHA256 of the value (normalised: digits of a
    /// card, lower-case email), equal for equal values. Needs `pseudonym_key`.
    Pseudonym {
        /// As for `placeholder`. Default: the kind's.
        #[serde(default)]
        label: Option<String>,
        /// Hex digits kept, between 8 and 64. Default: `16`.
        #[serde(default = "default_hex")]
        hex: usize,
    },
    /// Nothing: the value is removed.
    Remove,
}

fn default_keep() -> usize {
    4
}

fn default_hex() -> usize {
    16
}

/// An operator's pattern.
///
/// ```json
/// {"name": "employee_id", "pattern": "EMP-[0-9]{6}"}
/// ```
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CustomConfig {
    /// Lower-case letters, digits and `_`, at most 32; names its metric. Required.
    pub name: String,
    /// A regex (ASCII, no look-around) whose matches are bounded: `{m,n}` instead of
    /// `+` or `*`, at most 1024 bytes, never empty. Matched within a line or a JSON
    /// string. Required.
    pub pattern: String,
    /// Default: placeholder `[<NAME>]`.
    #[serde(default)]
    pub action: Option<ActionConfig>,
}

/// A field rule.
///
/// ```json
/// {"pointer": "/users/*/email", "rule": "mask", "action": {"type": "pseudonym"}}
/// ```
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct FieldConfig {
    /// A JSON Pointer; `*` is any one member or index, `**` any depth, `~2` a literal
    /// `*`. Required. Example: `"/**/password"`.
    pub pointer: String,
    /// `"mask"`: every scalar inside becomes the action's output; `"never"`: nothing
    /// inside is masked; `"drop"`: the member or element is removed. Required.
    pub rule: FieldRule,
    /// For `mask`. Default: placeholder `[REDACTED]`.
    #[serde(default)]
    pub action: Option<ActionConfig>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum FieldRule {
    Mask,
    Never,
    Drop,
}

/// Which bodies are read. An entry ending in `/` is a type prefix (`text/`), one
/// starting with `+` a suffix (`+json`); others are whole types. Parameters are ignored.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ContentTypesConfig {
    /// Walked as JSON (field rules apply). Default: `["application/json", "+json",
    /// "application/x-ndjson", "application/jsonl"]`.
    #[serde(default = "default_json_types")]
    pub json: Vec<String>,
    /// Scanned as text. Default: `["text/", "application/xml", "+xml",
    /// "application/x-www-form-urlencoded", "application/javascript"]`.
    #[serde(default = "default_text_types")]
    pub text: Vec<String>,
    /// A body with no `content-type`: `"text"`, `"json"` or `"pass"`. Default: `"text"`.
    #[serde(default)]
    pub missing: MissingType,
}

impl Default for ContentTypesConfig {
    fn default() -> Self {
        Self {
            json: default_json_types(),
            text: default_text_types(),
            missing: MissingType::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum MissingType {
    #[default]
    Text,
    Json,
    Pass,
}

fn default_json_types() -> Vec<String> {
    [
        "application/json",
        "+json",
        "application/x-ndjson",
        "application/jsonl",
    ]
    .map(String::from)
    .to_vec()
}

fn default_text_types() -> Vec<String> {
    [
        "text/",
        "application/xml",
        "+xml",
        "application/x-www-form-urlencoded",
        "application/javascript",
    ]
    .map(String::from)
    .to_vec()
}

/// Who and what is never masked.
///
/// ```json
/// {"claims": [{"claim": "role", "value": "compliance"}], "routes": [{"prefix": "/internal/"}]}
/// ```
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ExemptConfig {
    /// A caller whose verified claims hold any of these sees data unmasked (a claim
    /// that is a list holds a value it contains). Default: `[]`.
    #[serde(default)]
    pub claims: Vec<ClaimConfig>,
    /// The header in which jwt-auth forwards the verified payload. Default:
    /// `"x-tollgate-jwt-payload"`.
    #[serde(default = "default_claims_header")]
    pub claims_header: String,
    /// Requests any of these fit are never masked. Default: `[]`.
    #[serde(default)]
    pub routes: Vec<MatchConfig>,
}

impl Default for ExemptConfig {
    fn default() -> Self {
        Self {
            claims: Vec::new(),
            claims_header: default_claims_header(),
            routes: Vec::new(),
        }
    }
}

fn default_claims_header() -> String {
    tollgate_kit::contract::PAYLOAD_HEADER.to_string()
}

/// A claim and a value it must hold.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ClaimConfig {
    /// A dotted path into the claims. Required. Example: `"realm_access.roles"`.
    pub claim: String,
    /// Required. Example: `"compliance"`.
    pub value: String,
}

/// Request bodies.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RequestsConfig {
    /// Whether request bodies are masked before the origin sees them. Default: `false`.
    #[serde(default)]
    pub enabled: bool,
}

/// The compiled config.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub masker: Masker,
    pub rules: Vec<Rule>,
    pub json_types: Vec<String>,
    pub text_types: Vec<String>,
    pub missing: MissingType,
    pub max_body_bytes: u64,
    pub on_oversize: Choice,
    pub compression: Compression,
    pub on_unknown_encoding: Choice,
    pub routes: Vec<Matcher>,
    pub exempt_claims: Vec<(String, String)>,
    pub claims_header: String,
    pub exempt_routes: Vec<Matcher>,
    pub requests: bool,
    pub on_unsupported_host: Choice,
    /// Whether this host can replace bodies.
    pub rewrites_bodies: bool,
    /// Metric names, by detector key.
    pub detector_names: BTreeMap<(u8, usize), String>,
    pub warnings: Vec<String>,
}

fn valid_label(l: &str) -> bool {
    (1..=32).contains(&l.len())
        && l.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

fn valid_name(n: &str) -> bool {
    (1..=32).contains(&n.len())
        && n.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn action(
    a: Option<&ActionConfig>,
    default_label: &str,
    at: &str,
    key: &mut bool,
) -> Result<Action, ConfigError> {
    let label = |l: &Option<String>| -> Result<String, ConfigError> {
        let l = l.clone().unwrap_or_else(|| default_label.to_string());
        if valid_label(&l) {
            Ok(l)
        } else {
            Err(ConfigError::new(
                format!("{at}.label"),
                "expected 1 to 32 of A-Z, 0-9, `_` and `-`",
            ))
        }
    };
    Ok(match a {
        None => Action::Placeholder(label(&None)?),
        Some(ActionConfig::Placeholder { label: l }) => Action::Placeholder(label(l)?),
        Some(ActionConfig::Partial { keep }) => {
            if *keep > 8 {
                return Err(ConfigError::new(format!("{at}.keep"), "expected 0 to 8"));
            }
            Action::Partial { keep: *keep }
        }
        Some(ActionConfig::Pseudonym { label: l, hex }) => {
            if !(8..=64).contains(hex) {
                return Err(ConfigError::new(format!("{at}.hex"), "expected 8 to 64"));
            }
            *key = true;
            Action::Pseudonym {
                label: label(l)?,
                hex: *hex,
            }
        }
        Some(ActionConfig::Remove) => Action::Remove,
    })
}

fn media_types(list: &[String], at: &str) -> Result<Vec<String>, ConfigError> {
    list.iter()
        .enumerate()
        .map(|(i, t)| {
            let t = t.trim().to_ascii_lowercase();
            let ok = !t.is_empty()
                && t.bytes().all(|b| valid_header_name(&(b as char).to_string()) || b == b'/')
                && (t.starts_with('+') || t.contains('/'));
            if ok {
                Ok(t)
            } else {
                Err(ConfigError::new(
                    format!("{at}[{i}]"),
                    "expected a media type (`application/json`), a prefix (`text/`) or a suffix (`+json`)",
                ))
            }
        })
        .collect()
}

fn routes(list: Vec<MatchConfig>, at: &str) -> Result<Vec<Matcher>, ConfigError> {
    list.into_iter()
        .enumerate()
        .map(|(i, m)| m.compile(&format!("{at}[{i}]")))
        .collect()
}

/// Checks and compiles a parsed config for `facts`' host.
pub fn compile(c: PiiMaskConfig, facts: HostFacts) -> Result<Compiled, ConfigError> {
    let mut warnings = Vec::new();
    let mut wants_key = false;
    let mut actions = BTreeMap::new();
    let mut names = BTreeMap::new();
    let mut kinds = Vec::new();
    for (kind, d) in c.detectors.by_kind() {
        if !d.enabled {
            continue;
        }
        kinds.push(kind);
        let at = format!("detectors.{}.action", kind.name());
        let a = action(d.action.as_ref(), kind.label(), &at, &mut wants_key)?;
        let key = detector_key(crate::detect::Detector::Builtin(kind));
        actions.insert(key, a);
        names.insert(key, kind.name().to_string());
    }
    let mut patterns = Vec::new();
    for (i, cu) in c.custom.iter().enumerate() {
        let at = format!("custom[{i}]");
        if !valid_name(&cu.name) {
            return Err(ConfigError::new(
                format!("{at}.name"),
                "expected 1 to 32 of a-z, 0-9 and `_`",
            ));
        }
        if Kind::from_name(&cu.name).is_some() || c.custom.iter().take(i).any(|o| o.name == cu.name)
        {
            return Err(ConfigError::new(
                format!("{at}.name"),
                format!("`{}` is already a detector's name", cu.name),
            ));
        }
        check_custom(&cu.pattern).map_err(|e| {
            ConfigError::new(
                format!("{at}.pattern"),
                match e {
                    PatternError::Invalid(m) => format!("invalid regex: {m}"),
                    PatternError::Unbounded => "matches without bound: use `{m,n}` instead of `+` or `*`, so a match split across chunks can be held back".into(),
                    PatternError::TooLong(n) => format!("matches up to {n} bytes; at most 1024"),
                    PatternError::Empty => "can match nothing at all".into(),
                },
            )
        })?;
        let label = cu.name.to_ascii_uppercase();
        let a = action(
            cu.action.as_ref(),
            &label,
            &format!("{at}.action"),
            &mut wants_key,
        )?;
        let key = detector_key(crate::detect::Detector::Custom(i));
        actions.insert(key, a);
        names.insert(key, format!("custom_{}", cu.name));
        patterns.push(cu.pattern.clone());
    }
    let detectors = Detectors::new(&patterns, &kinds).map_err(|e| ConfigError::new("custom", e))?;
    let mut rules = Vec::new();
    for (i, f) in c.fields.iter().enumerate() {
        let at = format!("fields[{i}]");
        let pointer =
            Pattern::parse(&f.pointer).map_err(|e| ConfigError::new(format!("{at}.pointer"), e))?;
        let effect = match f.rule {
            FieldRule::Mask => Effect::Mask(action(
                f.action.as_ref(),
                "REDACTED",
                &format!("{at}.action"),
                &mut wants_key,
            )?),
            FieldRule::Never | FieldRule::Drop if f.action.is_some() => {
                return Err(ConfigError::new(
                    format!("{at}.action"),
                    "only a `mask` rule takes an action",
                ));
            }
            FieldRule::Never => Effect::Never,
            FieldRule::Drop => Effect::Drop,
        };
        if f.rule == FieldRule::Drop && f.pointer.is_empty() {
            return Err(ConfigError::new(
                format!("{at}.pointer"),
                "the whole document cannot be dropped",
            ));
        }
        rules.push(Rule { pointer, effect });
    }
    let key = match (&c.pseudonym_key, wants_key) {
        (Some(k), _) => {
            use base64::Engine as _;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(k.trim())
                .map_err(|_| ConfigError::new("pseudonym_key", "expected base64"))?;
            if bytes.len() < 32 {
                return Err(ConfigError::new(
                    "pseudonym_key",
                    "expected at least 32 bytes (base64 of 32 random bytes)",
                ));
            }
            PseudonymKey::new(bytes)
        }
        (None, true) => {
            return Err(ConfigError::new(
                "pseudonym_key",
                "required: an action is `pseudonym`",
            ));
        }
        (None, false) => PseudonymKey::default(),
    };
    if !(1024..=(1 << 30)).contains(&c.max_body_bytes) {
        return Err(ConfigError::new(
            "max_body_bytes",
            "expected 1024 to 1073741824",
        ));
    }
    let claims_header = c.exempt.claims_header.to_ascii_lowercase();
    if !valid_header_name(&claims_header) {
        return Err(ConfigError::new(
            "exempt.claims_header",
            "expected a header name",
        ));
    }
    for (i, cl) in c.exempt.claims.iter().enumerate() {
        if cl.claim.is_empty() {
            return Err(ConfigError::new(
                format!("exempt.claims[{i}].claim"),
                "expected a claim path",
            ));
        }
    }
    let rewrites_bodies = facts.kind != HostKind::Apisix;
    if c.requests.enabled && facts.kind != HostKind::Envoy {
        return Err(ConfigError::new(
            "requests.enabled",
            format!(
                "request bodies can only be masked on Envoy: {} cannot {}",
                facts.name(),
                if rewrites_bodies {
                    "keep a request's content-length from reaching the origin"
                } else {
                    "replace bodies"
                }
            ),
        ));
    }
    if c.compression == Compression::StripAcceptEncoding && facts.kind != HostKind::Envoy {
        return Err(ConfigError::new(
            "compression",
            format!(
                "`strip_accept_encoding` needs a host that removes request headers; {} does not (use `decode`)",
                facts.name()
            ),
        ));
    }
    if !rewrites_bodies {
        warnings.push(match c.on_unsupported_host {
            Choice::Block => "APISIX cannot replace bodies: requests on masked routes are refused with 502 (on_unsupported_host: block)".to_string(),
            Choice::Pass => "APISIX cannot replace bodies: responses pass UNMASKED and are counted in pii_mask.unmasked (on_unsupported_host: pass)".to_string(),
        });
    }
    if kinds.is_empty() && patterns.is_empty() && rules.is_empty() {
        warnings.push("no detector, custom pattern or field rule: nothing is masked".into());
    }
    Ok(Compiled {
        masker: Masker {
            detectors,
            actions,
            key,
        },
        rules,
        json_types: media_types(&c.content_types.json, "content_types.json")?,
        text_types: media_types(&c.content_types.text, "content_types.text")?,
        missing: c.content_types.missing,
        max_body_bytes: c.max_body_bytes,
        on_oversize: c.on_oversize,
        compression: c.compression,
        on_unknown_encoding: c.on_unknown_encoding,
        routes: routes(c.routes, "routes")?,
        exempt_claims: c
            .exempt
            .claims
            .iter()
            .map(|x| (x.claim.clone(), x.value.clone()))
            .collect(),
        claims_header,
        exempt_routes: routes(c.exempt.routes, "exempt.routes")?,
        requests: c.requests.enabled,
        on_unsupported_host: c.on_unsupported_host,
        rewrites_bodies,
        detector_names: names,
        warnings,
    })
}

/// Parses then compiles: what `on_configure` and the control service both call.
pub fn load(bytes: &[u8], facts: HostFacts) -> Result<Compiled, ConfigError> {
    tollgate_kit::config::check_version(
        serde_json::from_slice::<serde_json::Value>(bytes)
            .ok()
            .as_ref()
            .and_then(|v| v.get("version"))
            .and_then(|v| v.as_str()),
        VERSION,
    )?;
    let parsed: PiiMaskConfig = tollgate_kit::config::parse(bytes)?;
    compile(parsed, facts)
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
