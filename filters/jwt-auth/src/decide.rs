//! The whole per-request decision as one plain function: which rule applies, what each
//! provider finds and verifies, whether the requirement holds, and what to change in
//! the request (or how to refuse it). The proxy-wasm glue only applies the result.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::config::{Compiled, Keys, PathMatch, Provider, Rule};
use crate::denial::{Code, Denial};
use crate::extract::{self, Found, Strip};
use crate::jwks::KeySet;
use crate::requirement::Outcome;
use crate::token;
use crate::verify::verify;

/// The parts of a request the decision reads.
#[derive(Debug, Clone, Copy)]
pub struct RequestView<'a> {
    pub method: &'a str,
    /// `:path`, query included.
    pub path: &'a str,
    pub headers: &'a [(String, String)],
}

/// A change to the request before it goes upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mutation {
    RemoveHeader(String),
    SetHeader(String, String),
    SetPath(String),
    SetCookie(Option<String>),
}

/// How a refused request is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub status: u16,
    pub denial: Denial,
    /// Index of the provider whose failure decided, for metrics.
    pub provider: Option<usize>,
    pub www_authenticate: String,
    /// `{"error": "<code>", "message": "…"}`
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow {
        mutations: Vec<Mutation>,
        verified: Vec<usize>,
    },
    Deny(Rejection),
}

/// Where remotely fetched keys come from (the JWKS cache, in the glue).
pub trait RemoteKeys {
    fn keys(&self, provider: usize) -> Option<&KeySet>;
}

/// No remote keys (tests, or before the first fetch).
pub struct NoRemoteKeys;

impl RemoteKeys for NoRemoteKeys {
    fn keys(&self, _provider: usize) -> Option<&KeySet> {
        None
    }
}

struct Verified {
    claims: Map<String, Value>,
    found: Found,
}

fn path_only(path: &str) -> &str {
    path.split(['?', '#']).next().unwrap_or(path)
}

impl Rule {
    fn matches(&self, method: &str, path: &str) -> bool {
        let p = path_only(path);
        let path_ok = match &self.path {
            PathMatch::Prefix(prefix) => p.starts_with(prefix.as_str()),
            PathMatch::Exact(exact) => p == exact,
            PathMatch::Regex(re) => re.is_match(p),
        };
        path_ok
            && (self.methods.is_empty()
                || self.methods.iter().any(|m| m.eq_ignore_ascii_case(method)))
    }
}

fn check_provider(
    provider: &Provider,
    keys: Option<&KeySet>,
    found: Option<Found>,
    max: usize,
    now: f64,
) -> (Outcome, Option<Verified>) {
    let Some(found) = found else {
        return (Outcome::Missing, None);
    };
    let result = (|| {
        let keys = keys.ok_or_else(|| {
            Denial::new(Code::NoKeys, "the provider's keys are not available yet")
        })?;
        let parsed = token::parse(&found.token, max, &[])?;
        if !provider.typ.is_empty() {
            let typ = parsed.jws.header.typ.as_deref().unwrap_or_default();
            if !provider.typ.iter().any(|t| t.eq_ignore_ascii_case(typ)) {
                return Err(Denial::new(
                    Code::TypMismatch,
                    "the token's typ is not accepted",
                ));
            }
        }
        verify(&parsed.jws, keys)?;
        provider.policy.check(&parsed.claims, now)?;
        Ok(parsed.claims)
    })();
    match result {
        Ok(claims) => (Outcome::Verified, Some(Verified { claims, found })),
        Err(denial) => (Outcome::Failed(denial), None),
    }
}

/// A claim as a header value; `None` when it cannot be one safely.
fn header_value(value: &Value, json: bool) -> Option<String> {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(_) | Value::Bool(_) => value.to_string(),
        Value::Array(items) if !json && items.iter().all(|i| !i.is_array() && !i.is_object()) => {
            items
                .iter()
                .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
                .collect::<Vec<_>>()
                .join(",")
        }
        Value::Null => return None,
        other => other.to_string(),
    };
    // Never let a claim inject a header line.
    (text.len() <= 4096 && !text.chars().any(char::is_control)).then_some(text)
}

fn reject(denial: Denial, provider: Option<usize>) -> Rejection {
    let status = match denial.code {
        Code::AudienceMismatch | Code::ClaimMismatch => 403,
        _ => 401,
    };
    let description: String = denial
        .message
        .chars()
        .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
        .collect();
    let www_authenticate = match (denial.code, status) {
        (Code::TokenMissing, _) => "Bearer realm=\"tollgate\"".to_string(),
        (_, 403) => format!(
            "Bearer realm=\"tollgate\", error=\"insufficient_scope\", error_description=\"{description}\""
        ),
        _ => format!(
            "Bearer realm=\"tollgate\", error=\"invalid_token\", error_description=\"{description}\""
        ),
    };
    let body =
        serde_json::json!({ "error": denial.code.as_str(), "message": denial.message }).to_string();
    Rejection {
        status,
        denial,
        provider,
        www_authenticate,
        body,
    }
}

impl Compiled {
    /// The first rule that fits the request.
    pub fn rule_for(&self, method: &str, path: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.matches(method, path))
    }

    /// Decides one request at `now` (seconds since the epoch).
    pub fn decide(&self, req: &RequestView<'_>, now: f64, remote: &dyn RemoteKeys) -> Decision {
        // Headers this filter owns are never taken from the client.
        let mut mutations: Vec<Mutation> = self
            .owned_headers
            .iter()
            .map(|h| Mutation::RemoveHeader(h.clone()))
            .collect();
        let Some(requirement) = self
            .rule_for(req.method, req.path)
            .and_then(|r| r.requires.as_ref())
        else {
            return Decision::Allow {
                mutations,
                verified: Vec::new(),
            };
        };
        // Each provider's sources are searched once per request.
        let mut found: Vec<Option<Found>> = self
            .providers
            .iter()
            .map(|p| extract::extract(&p.sources, req.headers, req.path))
            .collect();
        let any_token = found.iter().any(Option::is_some);
        let mut results: Vec<Option<(Outcome, Option<Verified>)>> =
            (0..self.providers.len()).map(|_| None).collect();
        let mut outcome_of = |i: usize| -> Outcome {
            let Some(provider) = self.providers.get(i) else {
                return Outcome::Missing;
            };
            let slot = results.get_mut(i);
            match slot {
                Some(Some((outcome, _))) => outcome.clone(),
                Some(slot) => {
                    let keys = match &provider.keys {
                        Keys::Inline(set) => Some(set),
                        Keys::Remote(_) => remote.keys(i),
                    };
                    let token = found.get_mut(i).and_then(Option::take);
                    let (outcome, verified) =
                        check_provider(provider, keys, token, self.max_token_bytes, now);
                    *slot = Some((outcome.clone(), verified));
                    outcome
                }
                None => Outcome::Missing,
            }
        };
        let verdict = requirement.evaluate(&mut outcome_of, any_token);
        if let Err(denial) = verdict {
            let provider = results
                .iter()
                .position(|r| matches!(r, Some((Outcome::Failed(d), _)) if d.code == denial.code));
            return Decision::Deny(reject(denial, provider));
        }
        let mut verified = Vec::new();
        let mut stripped = Vec::new();
        for (i, result) in results.into_iter().enumerate() {
            let (Some((_, Some(v))), Some(provider)) = (result, self.providers.get(i)) else {
                continue;
            };
            verified.push(i);
            let payload = URL_SAFE_NO_PAD.encode(Value::Object(v.claims.clone()).to_string());
            mutations.push(Mutation::SetHeader(
                provider.payload_header.clone(),
                payload,
            ));
            for h in &provider.claim_headers {
                if let Some(value) =
                    crate::claims::lookup(&v.claims, &h.claim).and_then(|c| header_value(c, h.json))
                {
                    mutations.push(Mutation::SetHeader(h.header.clone(), value));
                }
            }
            if !provider.forward && !stripped.contains(&v.found.token) {
                match extract::strip(&provider.sources, &v.found, req.headers, req.path) {
                    Some(Strip::RemoveHeader(h)) => mutations.push(Mutation::RemoveHeader(h)),
                    Some(Strip::SetPath(p)) => mutations.push(Mutation::SetPath(p)),
                    Some(Strip::SetCookie(c)) => mutations.push(Mutation::SetCookie(c)),
                    None => {}
                }
                stripped.push(v.found.token);
            }
        }
        Decision::Allow {
            mutations,
            verified,
        }
    }
}
