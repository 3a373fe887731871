//! The whole per-request decision as one plain function: which rule applies, what each
//! provider finds and verifies, whether the requirement holds, and what to change in
//! the request (or how to refuse it). The proxy-wasm glue only applies the result.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::rc::Rc;

use serde_json::Value;

use crate::config::{Compiled, Keys, Provider, Rule};
use crate::denial::{Code, Denial};
use crate::extract::{self, Found, Strip};
use crate::jwe;
use crate::jwks::KeySet;
use crate::requirement::Outcome;
use crate::token;
use crate::token_cache::{self, TokenCache, Verified};
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
        /// The full claims (JSON) of the first verified token that carries credential
        /// claims: for the `tollgate_credentials` stream property, never a header.
        credentials: Option<String>,
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

struct Checked {
    verified: Rc<Verified>,
    found: Found,
}

fn check_provider(
    provider: &Provider,
    index: usize,
    keys: Option<&KeySet>,
    found: Option<Found>,
    max: usize,
    now: f64,
    mut cache: Option<&mut TokenCache>,
) -> (Outcome, Option<Checked>) {
    let Some(found) = found else {
        return (Outcome::Missing, None);
    };
    let fp = cache
        .as_ref()
        .map(|_| token_cache::fingerprint(&found.token));
    let hit = match (cache.as_deref_mut(), &fp) {
        (Some(c), Some(fp)) => c.get(index, fp, now),
        _ => None,
    };
    let result = match hit {
        // A cached token's signature was verified; its times and claims are re-checked.
        Some(v) => provider.policy.check(&v.claims, now).map(|()| v),
        None => verify_token(provider, keys, &found.token, max, now).map(|v| {
            let v = Rc::new(v);
            if let (Some(c), Some(fp)) = (cache, fp) {
                let skew = provider.policy.clock_skew.as_secs_f64();
                c.put(index, fp, Rc::clone(&v), now, skew, CACHE_MAX_AGE_SECONDS);
            }
            v
        }),
    };
    match result {
        Ok(verified) => (Outcome::Verified, Some(Checked { verified, found })),
        Err(denial) => (Outcome::Failed(denial), None),
    }
}

/// Cached tokens without `exp` are re-verified at least this often.
const CACHE_MAX_AGE_SECONDS: f64 = 300.0;

/// Decrypts (if needed), parses, verifies and checks one token.
fn verify_token(
    provider: &Provider,
    keys: Option<&KeySet>,
    raw: &str,
    max: usize,
    now: f64,
) -> Result<Verified, Denial> {
    if raw.len() > max {
        return Err(Denial::new(
            Code::TokenTooLarge,
            format!("the token is larger than {max} bytes"),
        ));
    }
    let inner;
    let jws_text: &str = if jwe::is_jwe(raw) {
        let Some(decryptor) = &provider.decryption else {
            return Err(Denial::new(
                Code::TokenEncrypted,
                "encrypted tokens are not accepted by this provider",
            ));
        };
        inner = jwe::decrypt(raw, decryptor)?;
        &inner
    } else if provider.require_encryption {
        return Err(Denial::new(
            Code::EncryptionRequired,
            "this provider accepts only encrypted tokens",
        ));
    } else {
        raw
    };
    let keys =
        keys.ok_or_else(|| Denial::new(Code::NoKeys, "the provider's keys are not available yet"))?;
    let parsed = token::parse(jws_text, max, &[])?;
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
    let claims = parsed.claims;
    // The payload header never carries credential claims; a token that has them keeps
    // its full claims (for the credentials property) serialized once, here.
    let has_credentials = provider
        .credential_claims
        .iter()
        .any(|c| claims.contains_key(c));
    let (payload, credentials) = if has_credentials {
        let mut shown = claims.clone();
        for c in &provider.credential_claims {
            shown.remove(c);
        }
        (
            URL_SAFE_NO_PAD.encode(Value::Object(shown).to_string()),
            serde_json::to_string(&claims).ok(),
        )
    } else {
        let json = serde_json::to_string(&claims).unwrap_or_default();
        (URL_SAFE_NO_PAD.encode(json), None)
    };
    Ok(Verified {
        claims,
        payload,
        credentials,
    })
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
        self.rules.iter().find(|r| r.matcher.matches(method, path))
    }

    /// Decides one request at `now` (seconds since the epoch), without a token cache.
    pub fn decide(&self, req: &RequestView<'_>, now: f64, remote: &dyn RemoteKeys) -> Decision {
        self.decide_cached(req, now, remote, None)
    }

    /// Decides one request, remembering verified tokens in `cache`.
    pub fn decide_cached(
        &self,
        req: &RequestView<'_>,
        now: f64,
        remote: &dyn RemoteKeys,
        mut cache: Option<&mut TokenCache>,
    ) -> Decision {
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
                credentials: None,
            };
        };
        // Each provider's sources are searched once per request.
        let mut found: Vec<Option<Found>> = self
            .providers
            .iter()
            .map(|p| extract::extract(&p.sources, req.headers, req.path))
            .collect();
        let any_token = found.iter().any(Option::is_some);
        let mut results: Vec<Option<(Outcome, Option<Checked>)>> =
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
                    let (outcome, verified) = check_provider(
                        provider,
                        i,
                        keys,
                        token,
                        self.max_token_bytes,
                        now,
                        cache.as_deref_mut(),
                    );
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
        let mut credentials = None;
        for (i, result) in results.into_iter().enumerate() {
            let (Some((_, Some(v))), Some(provider)) = (result, self.providers.get(i)) else {
                continue;
            };
            verified.push(i);
            let claims = &v.verified.claims;
            mutations.push(Mutation::SetHeader(
                provider.payload_header.clone(),
                v.verified.payload.clone(),
            ));
            if credentials.is_none() {
                credentials.clone_from(&v.verified.credentials);
            }
            for h in &provider.claim_headers {
                if let Some(value) =
                    crate::claims::lookup(claims, &h.claim).and_then(|c| header_value(c, h.json))
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
            credentials,
        }
    }
}
