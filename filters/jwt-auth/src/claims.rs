//! Claim checks: time claims with clock skew, lifetime, issuer, audience, and rules on
//! other claims (exact value, prefix, membership), in that order.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::alg::truncate;
use crate::denial::{Code, Denial};

/// Claims by dotted path (`realm.tenant`); hcp-auth uses the same lookup.
pub use tollgate_kit::json::lookup;

/// How a claim's value must look.
#[derive(Debug, Clone, PartialEq)]
pub enum Match {
    /// The value equals this JSON value.
    Exact(Value),
    /// The value is a string starting with this.
    Prefix(String),
    /// The value equals one of these; for an array value, any element may match.
    OneOf(Vec<Value>),
}

/// A rule on one claim, addressed by a dotted path into nested objects (`realm.tenant`).
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimRule {
    pub path: String,
    pub expect: Match,
}

/// What a provider requires of a token's claims.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimPolicy {
    /// `iss` must equal this, when set.
    pub issuer: Option<String>,
    /// `aud` (string or array) must contain one of these, when not empty.
    pub audiences: Vec<String>,
    /// Tolerance for `exp`, `nbf` and `iat`. Default 60 s.
    pub clock_skew: Duration,
    /// `exp` must be present. Default true.
    pub require_exp: bool,
    /// `exp - iat` (or `exp - now` without `iat`) may not exceed this, when set.
    pub max_lifetime: Option<Duration>,
    /// Claims that must be present (dotted paths).
    pub required: Vec<String>,
    pub rules: Vec<ClaimRule>,
}

impl Default for ClaimPolicy {
    fn default() -> Self {
        Self {
            issuer: None,
            audiences: Vec::new(),
            clock_skew: Duration::from_secs(60),
            require_exp: true,
            max_lifetime: None,
            required: Vec::new(),
            rules: Vec::new(),
        }
    }
}

/// A NumericDate (RFC 7519 §2): seconds, possibly fractional; anything else is malformed.
fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<f64>, Denial> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_f64()
            .filter(|f| f.is_finite())
            .map(Some)
            .ok_or_else(|| bad_date(name)),
        Some(_) => Err(bad_date(name)),
    }
}

fn bad_date(name: &str) -> Denial {
    Denial::new(
        Code::TokenMalformed,
        format!("the {name} claim is not a NumericDate"),
    )
}

fn matches(value: &Value, expect: &Match) -> bool {
    match expect {
        Match::Exact(v) => value == v,
        Match::Prefix(p) => value.as_str().is_some_and(|s| s.starts_with(p.as_str())),
        Match::OneOf(options) => match value {
            Value::Array(items) => items.iter().any(|i| options.contains(i)),
            v => options.contains(v),
        },
    }
}

impl ClaimPolicy {
    /// Checks `claims` at `now` (seconds since the epoch).
    pub fn check(&self, claims: &Map<String, Value>, now: f64) -> Result<(), Denial> {
        let skew = self.clock_skew.as_secs_f64();
        let exp = numeric_date(claims, "exp")?;
        let nbf = numeric_date(claims, "nbf")?;
        let iat = numeric_date(claims, "iat")?;
        match exp {
            Some(exp) if now - skew >= exp => {
                return Err(Denial::new(Code::TokenExpired, "the token has expired"));
            }
            None if self.require_exp => {
                return Err(Denial::new(
                    Code::ClaimMissing,
                    "the token has no exp claim",
                ));
            }
            _ => {}
        }
        if nbf.is_some_and(|nbf| now + skew < nbf) {
            return Err(Denial::new(
                Code::TokenNotYetValid,
                "the token is not valid yet (nbf)",
            ));
        }
        if iat.is_some_and(|iat| now + skew < iat) {
            return Err(Denial::new(
                Code::IssuedInFuture,
                "the token was issued in the future (iat)",
            ));
        }
        if let (Some(max), Some(exp)) = (self.max_lifetime, exp) {
            let start = iat.unwrap_or(now);
            if exp - start > max.as_secs_f64() {
                return Err(Denial::new(
                    Code::LifetimeTooLong,
                    format!("the token lives longer than {} s", max.as_secs()),
                ));
            }
        }
        if let Some(issuer) = &self.issuer
            && claims.get("iss").and_then(Value::as_str) != Some(issuer.as_str())
        {
            return Err(Denial::new(
                Code::IssuerMismatch,
                "the token's issuer is not accepted",
            ));
        }
        if !self.audiences.is_empty() {
            let ok = match claims.get("aud") {
                Some(Value::String(a)) => self.audiences.contains(a),
                Some(Value::Array(items)) => items
                    .iter()
                    .filter_map(Value::as_str)
                    .any(|a| self.audiences.iter().any(|x| x == a)),
                _ => false,
            };
            if !ok {
                return Err(Denial::new(
                    Code::AudienceMismatch,
                    "the token's audience is not accepted",
                ));
            }
        }
        for path in &self.required {
            if lookup(claims, path).is_none() {
                return Err(Denial::new(
                    Code::ClaimMissing,
                    format!("the token has no {} claim", truncate(path)),
                ));
            }
        }
        for rule in &self.rules {
            match lookup(claims, &rule.path) {
                None => {
                    return Err(Denial::new(
                        Code::ClaimMissing,
                        format!("the token has no {} claim", truncate(&rule.path)),
                    ));
                }
                Some(v) if !matches(v, &rule.expect) => {
                    return Err(Denial::new(
                        Code::ClaimMismatch,
                        format!("the {} claim does not match", truncate(&rule.path)),
                    ));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "claims_tests.rs"]
mod tests;
