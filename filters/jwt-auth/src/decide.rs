//! The whole per-request decision as one plain function: which rule applies, what each
//! provider finds and verifies, whether the requirement holds, and what to change in
//! the request (or how to refuse it). The proxy-wasm glue only applies the result.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::borrow::Cow;
use std::rc::Rc;

use serde_json::Value;

use crate::config::{Compiled, Keys, Provider, Rule};
use crate::denial::{Code, Denial};
use crate::extract::{self, Found, Source, Strip};
use crate::jwe;
use crate::jwks::KeySet;
use crate::requirement::Outcome;
use crate::token;
use crate::token_cache::{self, TokenCache, Verified};
use crate::verify::verify;

// The kit's request view and mutations: `Remove` is a token's header (taken out unless
// that token was forwarded), `RemoveOwned` a header this filter sets.
pub use tollgate_kit::{Mutation, RequestView};

/// How a refused request is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub status: u16,
    pub denial: Denial,
    /// Index of the provider whose failure decided, for metrics.
    pub provider: Option<usize>,
    /// Index of the rule that required the token, for the denial log line.
    pub rule: Option<usize>,
    /// Empty when the refusal is not about a token (400 for a bad path).
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

/// What each provider's check gave, filled in as the requirement asks for providers.
type Results = Vec<Option<(Outcome, Option<Rc<Verified>>)>>;

/// Checks every token `provider` found: the provider is verified only when each of
/// them verifies (a forged second token must not ride along with a valid first one).
/// Returns the first token's verification, whose claims become the outputs.
fn check_provider(
    provider: &Provider,
    index: usize,
    keys: Option<&KeySet>,
    found: &Result<Vec<Found>, Denial>,
    max: usize,
    now: f64,
    mut cache: Option<&mut TokenCache>,
) -> (Outcome, Option<Rc<Verified>>) {
    let found = match found {
        Ok(found) if found.is_empty() => return (Outcome::Missing, None),
        Ok(found) => found,
        Err(denial) => return (Outcome::Failed(denial.clone()), None),
    };
    let mut first = None;
    for f in found {
        match check_token(
            provider,
            index,
            keys,
            &f.token,
            max,
            now,
            cache.as_deref_mut(),
        ) {
            Ok(v) => {
                first.get_or_insert(v);
            }
            Err(denial) => return (Outcome::Failed(denial), None),
        }
    }
    (Outcome::Verified, first)
}

/// One token, through the verified-token cache when there is one.
fn check_token(
    provider: &Provider,
    index: usize,
    keys: Option<&KeySet>,
    token: &str,
    max: usize,
    now: f64,
    cache: Option<&mut TokenCache>,
) -> Result<Rc<Verified>, Denial> {
    // Oversized tokens are refused (by `verify_token`) before they are even hashed.
    let Some(cache) = cache.filter(|_| token.len() <= max) else {
        return verify_token(provider, keys, token, max, now).map(Rc::new);
    };
    let fp = token_cache::fingerprint(token);
    match cache.get(index, &fp, now) {
        // A cached token's signature was verified; its times and claims are re-checked.
        Some(v) => provider.policy.check(&v.claims, now).map(|()| v),
        None => {
            let v = Rc::new(verify_token(provider, keys, token, max, now)?);
            let skew = provider.policy.clock_skew.as_secs_f64();
            cache.put(index, fp, Rc::clone(&v), now, skew, CACHE_MAX_AGE_SECONDS);
            Ok(v)
        }
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
        inner = jwe::decrypt(raw, decryptor, now)?;
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

/// `error_description` as an RFC 6750 quoted-string: quotes, backslashes and control
/// characters are dropped rather than escaped (clients parse this header loosely).
fn quoted_description(message: &str) -> String {
    message
        .chars()
        .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
        .collect()
}

pub fn reject(denial: Denial, provider: Option<usize>, rule: Option<usize>) -> Rejection {
    let status = match denial.code {
        Code::AudienceMismatch | Code::ClaimMismatch => 403,
        Code::PathInvalid | Code::HeaderNotRemovable => 400,
        _ => 401,
    };
    let description = quoted_description(&denial.message);
    let www_authenticate = match (denial.code, status) {
        (Code::TokenMissing, _) => "Bearer realm=\"tollgate\"".to_string(),
        (_, 400) => String::new(),
        (_, 403) => format!(
            "Bearer realm=\"tollgate\", error=\"insufficient_scope\", error_description=\"{description}\""
        ),
        _ => format!(
            "Bearer realm=\"tollgate\", error=\"invalid_token\", error_description=\"{description}\""
        ),
    };
    let body = tollgate_kit::reply::error_body(denial.code.as_str(), &denial.message);
    Rejection {
        status,
        denial,
        provider,
        rule,
        www_authenticate,
        body,
    }
}

impl Compiled {
    /// The first rule that fits the request, with its index. `path` must already be
    /// prepared ([`PathHandling::prepare`](tollgate_kit::path::PathHandling::prepare)).
    pub fn rule_for(&self, method: &str, path: &str) -> Option<(usize, &Rule)> {
        self.rules
            .iter()
            .enumerate()
            .find(|(_, r)| r.matcher.matches(method, path))
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
        let path = match self.paths.prepare(req.path) {
            Ok(path) => path,
            Err(problem) => {
                let denial = Denial::new(Code::PathInvalid, problem.to_string());
                return Decision::Deny(reject(denial, None, None));
            }
        };
        // Headers this filter owns are never taken from the client.
        let mut mutations: Vec<Mutation> = self
            .owned_headers
            .iter()
            .map(|h| Mutation::RemoveOwned(h.clone()))
            .collect();
        let Some((rule, requirement)) = self
            .rule_for(req.method, &path)
            .and_then(|(i, r)| r.requires.as_ref().map(|q| (i, q)))
        else {
            if let Cow::Owned(p) = path {
                mutations.push(Mutation::SetPath(p));
            }
            return Decision::Allow {
                mutations,
                verified: Vec::new(),
                credentials: None,
            };
        };
        // Each provider's sources are searched once per request.
        let found: Vec<Result<Vec<Found>, Denial>> = self
            .providers
            .iter()
            .map(|p| extract::extract(&p.sources, req.headers, &path))
            .collect();
        let any_token = found
            .iter()
            .any(|f| f.as_ref().map_or(true, |tokens| !tokens.is_empty()));
        let mut results: Results = (0..self.providers.len()).map(|_| None).collect();
        let mut outcome_of = |i: usize| -> Outcome {
            let (Some(provider), Some(slot), Some(tokens)) =
                (self.providers.get(i), results.get_mut(i), found.get(i))
            else {
                return Outcome::Missing;
            };
            if let Some((outcome, _)) = slot {
                return outcome.clone();
            }
            let keys = match &provider.keys {
                Keys::Inline(set) => Some(set),
                Keys::Remote(_) => remote.keys(i),
            };
            let (outcome, verified) = check_provider(
                provider,
                i,
                keys,
                tokens,
                self.max_token_bytes,
                now,
                cache.as_deref_mut(),
            );
            *slot = Some((outcome.clone(), verified));
            outcome
        };
        let verdict = requirement.evaluate(&mut outcome_of, any_token);
        if let Err(denial) = verdict {
            let provider = results
                .iter()
                .position(|r| matches!(r, Some((Outcome::Failed(d), _)) if d.code == denial.code));
            return Decision::Deny(reject(denial, provider, Some(rule)));
        }
        let mut verified = Vec::new();
        let mut credentials = None;
        for (i, result) in results.iter().enumerate() {
            let (Some((_, Some(v))), Some(provider)) = (result, self.providers.get(i)) else {
                continue;
            };
            verified.push(i);
            mutations.push(Mutation::Set(
                provider.payload_header.clone(),
                v.payload.clone(),
            ));
            if credentials.is_none() {
                credentials.clone_from(&v.credentials);
            }
            for h in &provider.claim_headers {
                if let Some(value) =
                    crate::claims::lookup(&v.claims, &h.claim).and_then(|c| header_value(c, h.json))
                {
                    mutations.push(Mutation::Set(h.header.clone(), value));
                }
            }
        }
        let mut new_path = match path {
            Cow::Owned(p) => Some(p),
            Cow::Borrowed(_) => None,
        };
        let current = new_path.as_deref().unwrap_or(req.path);
        for strip in self.strips(&found, &results, req.headers, current) {
            match strip {
                Strip::RemoveHeader(h) => mutations.push(Mutation::Remove(h)),
                Strip::SetPath(p) => new_path = Some(p),
                Strip::SetCookie(c) => mutations.push(Mutation::SetCookie(c)),
            }
        }
        if let Some(p) = new_path {
            mutations.push(Mutation::SetPath(p));
        }
        Decision::Allow {
            mutations,
            verified,
            credentials,
        }
    }

    /// Where tokens must be removed: every place a token was found, unless that very
    /// token was verified by a provider with `forward` on. A token nobody verified
    /// (a second token, a provider an `any` never asked) never reaches the upstream.
    fn strips(
        &self,
        found: &[Result<Vec<Found>, Denial>],
        results: &Results,
        headers: &[(String, String)],
        path: &str,
    ) -> Vec<Strip> {
        let forwarded: Vec<&str> = self
            .providers
            .iter()
            .zip(found)
            .zip(results)
            .filter(|((p, _), r)| p.forward && matches!(r, Some((Outcome::Verified, _))))
            .flat_map(|((_, f), _)| f.iter().flatten().map(|t| t.token.as_str()))
            .collect();
        let mut sources: Vec<&Source> = Vec::new();
        for (provider, tokens) in self.providers.iter().zip(found) {
            let places: Vec<&Source> = match tokens {
                Ok(tokens) => tokens
                    .iter()
                    .filter(|t| !forwarded.contains(&t.token.as_str()))
                    .filter_map(|t| provider.sources.get(t.source))
                    .collect(),
                // A repeated token header: remove every place this provider reads.
                Err(_) => provider.sources.iter().collect(),
            };
            for place in places {
                if !sources.contains(&place) {
                    sources.push(place);
                }
            }
        }
        extract::strip(&sources, headers, path)
    }
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
