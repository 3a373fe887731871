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

/// Decodes jwt-auth's payload header ([`PAYLOAD_HEADER`]: base64url JSON object, padding
/// tolerated); anything else is no claims. Only trustworthy after jwt-auth ran, which
/// removes a client's own copy of the header.
pub fn claims_from(header: Option<&str>) -> Option<serde_json::Map<String, serde_json::Value>> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header?.trim_end_matches('='))
        .ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        serde_json::Value::Object(m) => Some(m),
        _ => None,
    }
}

#[cfg(test)]
#[path = "contract_tests.rs"]
mod tests;
