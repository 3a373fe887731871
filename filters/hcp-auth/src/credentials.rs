//! The credentials in a verified token's claims. They come only from the
//! `tollgate_credentials` stream property, which jwt-auth fills with the full claims and
//! which no host sends upstream. Never from a header: Kong cannot keep a request header
//! from the upstream, so a password handed over in one would reach it.

use serde_json::{Map, Value};

use tollgate_kit::json::lookup;

use crate::config::{ClaimNames, dns_name};

/// A user's HCP credentials. The password never appears in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
    /// Lower case, a DNS label.
    pub tenant: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("tenant", &self.tenant)
            .finish()
    }
}

/// Why there are no usable credentials. Messages name claims, never values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// No verified claims reached this filter (no token, or jwt-auth not in front).
    NoClaims,
    /// A claim is missing, empty or not a string.
    Missing(String),
    /// The tenant claim is not a DNS label (it becomes part of the upstream host).
    BadTenant,
}

impl Problem {
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoClaims => "credentials_missing",
            Self::Missing(_) => "credentials_incomplete",
            Self::BadTenant => "tenant_invalid",
        }
    }

    pub fn message(&self) -> String {
        match self {
            Self::NoClaims => "the request carries no verified token with HCP credentials".into(),
            Self::Missing(claim) => format!("the token has no usable `{claim}` claim"),
            Self::BadTenant => "the token's tenant is not a valid tenant name".into(),
        }
    }
}

fn text(claims: &Map<String, Value>, path: &str) -> Result<String, Problem> {
    match lookup(claims, path) {
        Some(Value::String(s)) if !s.is_empty() && !s.chars().any(char::is_control) => {
            Ok(s.clone())
        }
        _ => Err(Problem::Missing(path.to_string())),
    }
}

/// Claims from the property (a JSON object).
pub fn claims(property: Option<&[u8]>) -> Option<Map<String, Value>> {
    property.and_then(|p| serde_json::from_slice::<Map<String, Value>>(p).ok())
}

/// The credentials in `claims`.
pub fn extract(
    claims: Option<&Map<String, Value>>,
    names: &ClaimNames,
) -> Result<Credentials, Problem> {
    let claims = claims.ok_or(Problem::NoClaims)?;
    let username = text(claims, &names.username)?;
    let password = text(claims, &names.password)?;
    // A tenant with control characters is present but invalid, not missing.
    let tenant = match lookup(claims, &names.tenant) {
        Some(Value::String(s)) if !s.is_empty() => s.to_ascii_lowercase(),
        _ => return Err(Problem::Missing(names.tenant.clone())),
    };
    if !dns_name(&tenant) || tenant.contains('.') {
        return Err(Problem::BadTenant);
    }
    Ok(Credentials {
        username,
        password,
        tenant,
    })
}

#[cfg(test)]
#[path = "credentials_tests.rs"]
mod tests;
