//! The names filters use to talk to each other within one request. Declared once, here,
//! so the filter that writes one and the filter that reads it cannot drift apart.

/// The stream property jwt-auth fills with a verified token's full claims (credentials
/// included) for hcp-auth. It never goes upstream. Where it lives on each host comes from
/// [`HostFacts::stream_property`](crate::facts::HostFacts::stream_property): Envoy's
/// filter state, Kong's `wasmx.` namespace, an nginx variable on APISIX (which the
/// server block must declare: `set $tollgate_credentials '';`).
pub const CREDENTIALS_PROPERTY: &str = "tollgate_credentials";

/// jwt-auth's default header for the verified payload (claims minus credential claims,
/// base64url JSON), which later filters may read and hcp-auth takes out.
pub const PAYLOAD_HEADER: &str = "x-tollgate-jwt-payload";

/// The stream property rego-authz fills with a decision's `dynamic_metadata` (JSON), for
/// later filters and access logs (rego-authz's `metadata_property` default). On APISIX
/// the server block must declare it: `set $tollgate_rego_metadata '';`.
pub const POLICY_METADATA_PROPERTY: &str = "tollgate_rego_metadata";
