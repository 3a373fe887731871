//! Whether a response may be stored (RFC 9111 §3), how long it stays fresh (§4.2.1,
//! §4.2.2), how old it is (§4.2.3), and whether a stored response may answer a request
//! (§4, §5.2.1, RFC 5861).

use crate::directives::{Delta, RequestDirectives, ResponseDirectives, http_date};

/// Status codes a response may be stored with and given heuristic freshness for
/// (RFC 9110 §15.1), without 206: this cache does not combine ranges.
const HEURISTIC: [u16; 11] = [200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501];
/// Status codes stored only with explicit freshness.
const EXPLICIT_ONLY: [u16; 2] = [302, 307];

/// Why a response is not stored (counted per reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotStored {
    /// `no-store` in the response or the request.
    NoStore,
    /// `private` on a rule shared by every identity.
    Private,
    /// `Set-Cookie`: it belongs to one client and session.
    SetCookie,
    /// `Vary: *`: no request could ever match it.
    VaryAll,
    /// A status code this cache does not store (or not without explicit freshness).
    Status,
    /// Neither fresh for any time nor revalidatable.
    NoFreshness,
    /// A request with credentials on a public rule, and the response does not say it
    /// is shareable (§3.5).
    Credentials,
    /// Larger than `storage.max_entry_bytes`.
    TooLarge,
    /// A partial response or a response to a range request.
    Partial,
    /// The response to a HEAD (no body to serve a GET with).
    Head,
    /// A binary body the host would alter when answering with it (Kong's line feed).
    HostAltersBody,
}

impl NotStored {
    pub fn name(self) -> &'static str {
        match self {
            Self::NoStore => "no_store",
            Self::Private => "private",
            Self::SetCookie => "set_cookie",
            Self::VaryAll => "vary_all",
            Self::Status => "status",
            Self::NoFreshness => "no_freshness",
            Self::Credentials => "credentials",
            Self::TooLarge => "too_large",
            Self::Partial => "partial",
            Self::Head => "head",
            Self::HostAltersBody => "host_alters_body",
        }
    }
}

/// What a stored response carries about its freshness, computed when it is stored
/// (and again when a 304 refreshes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Freshness {
    /// Freshness lifetime, seconds.
    pub lifetime: u64,
    /// `corrected_initial_age`, seconds.
    pub initial_age: u64,
    /// When the response was received, Unix seconds.
    pub response_time: u64,
    /// Revalidate before every use (`no-cache`).
    pub no_cache: bool,
    /// Never serve stale (`must-revalidate`, `proxy-revalidate`, `s-maxage`).
    pub forbids_stale: bool,
    /// RFC 5861 windows, seconds (0: none).
    pub stale_while_revalidate: u64,
    pub stale_if_error: u64,
    /// Whether it has a validator (`ETag` or `Last-Modified`).
    pub validator: bool,
}

impl Freshness {
    /// `current_age` at `now` (Unix seconds).
    pub fn age(&self, now: u64) -> u64 {
        self.initial_age
            .saturating_add(now.saturating_sub(self.response_time))
    }

    /// Seconds past its lifetime at `now` (0 while fresh).
    pub fn staleness(&self, now: u64) -> u64 {
        self.age(now).saturating_sub(self.lifetime)
    }

    pub fn is_fresh(&self, now: u64) -> bool {
        self.lifetime > self.age(now)
    }

    /// After this time nothing can use it any more, not even stale: the first
    /// candidates for eviction.
    pub fn useless_after(&self) -> u64 {
        let grace = if self.forbids_stale {
            0
        } else {
            self.stale_while_revalidate.max(self.stale_if_error)
        };
        let base = self
            .response_time
            .saturating_add(self.lifetime)
            .saturating_add(grace)
            .saturating_sub(self.initial_age);
        if self.validator {
            // Still worth keeping for revalidation a while.
            base.saturating_add(self.lifetime.max(60))
        } else {
            base
        }
    }
}

/// A response as storing sees it.
#[derive(Debug, Clone, Copy)]
pub struct Response<'a> {
    pub status: u16,
    pub headers: &'a [(String, String)],
    /// When the request went upstream and when the response came, Unix seconds.
    pub request_time: u64,
    pub response_time: u64,
}

/// What the config adds to the origin's word.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// The rule's `ttl_s`: freshness when the origin gives none.
    pub ttl: Option<u64>,
    pub heuristic_percent: u64,
    pub heuristic_max: u64,
    /// The rule shares entries across identities.
    pub public: bool,
    /// The request carried credentials (`Authorization`).
    pub credentials: bool,
    /// The entry is one verified caller's own: a `private` response may be kept.
    pub own: bool,
}

/// Every value of header `name` (lower case).
pub fn values<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    headers
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

/// The first value of header `name` (lower case), if any.
pub fn first<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Whether `response` may be stored and, if so, its freshness (§3, §4.2).
pub fn storable(response: &Response<'_>, policy: &Policy) -> Result<Freshness, NotStored> {
    let h = response.headers;
    let cc = ResponseDirectives::parse(&values(h, "cache-control"));
    if cc.no_store {
        return Err(NotStored::NoStore);
    }
    // A shared cache never stores `private` (§5.2.2.7); an entry that is one
    // verified caller's alone is that caller's private cache.
    if cc.private && (policy.public || !policy.own) {
        return Err(NotStored::Private);
    }
    if first(h, "set-cookie").is_some() {
        return Err(NotStored::SetCookie);
    }
    if response.status == 206 || first(h, "content-range").is_some() {
        return Err(NotStored::Partial);
    }
    if values(h, "vary")
        .iter()
        .flat_map(|v| v.split(','))
        .any(|v| v.trim() == "*")
    {
        return Err(NotStored::VaryAll);
    }
    // §3.5: a shared cache keeps a response to a request with `Authorization` only if
    // the response allows it. A per-identity entry is that identity's own (like a
    // private cache's), so this binds only rules shared across identities.
    if policy.credentials
        && policy.public
        && !(cc.public || cc.must_revalidate || cc.s_maxage != Delta::Absent)
    {
        return Err(NotStored::Credentials);
    }
    let date = first(h, "date").and_then(http_date);
    let expires = first(h, "expires").map(|e| http_date(e).unwrap_or(0));
    let explicit = cc
        .s_maxage
        .lifetime()
        .or(cc.max_age.lifetime())
        .or_else(|| expires.map(|e| e.saturating_sub(date.unwrap_or(response.response_time))));
    let status = response.status;
    let understood =
        HEURISTIC.contains(&status) || (EXPLICIT_ONLY.contains(&status) && explicit.is_some());
    if !understood {
        return Err(NotStored::Status);
    }
    let last_modified = first(h, "last-modified").and_then(http_date);
    let validator = first(h, "etag").is_some() || last_modified.is_some();
    let lifetime = match explicit {
        Some(l) => l,
        None => match policy.ttl {
            Some(ttl) => ttl,
            None => {
                let reference = date.unwrap_or(response.response_time);
                last_modified.map_or(0, |lm| {
                    (reference.saturating_sub(lm) * policy.heuristic_percent / 100)
                        .min(policy.heuristic_max)
                })
            }
        },
    };
    if lifetime == 0 && !validator {
        return Err(NotStored::NoFreshness);
    }
    // One Age of delta-seconds; anything else (a list, a sign, a fraction, a suffix)
    // cannot be trusted, and the response is taken as stale.
    let ages = values(h, "age");
    let age_value = match ages.as_slice() {
        [] => 0,
        [one] => {
            crate::directives::delta_seconds(one.trim()).unwrap_or(crate::directives::DELTA_MAX)
        }
        _ => crate::directives::DELTA_MAX,
    };
    let apparent_age = date.map_or(0, |d| response.response_time.saturating_sub(d));
    let response_delay = response.response_time.saturating_sub(response.request_time);
    let corrected_age_value = age_value.saturating_add(response_delay);
    Ok(Freshness {
        lifetime,
        initial_age: apparent_age.max(corrected_age_value),
        response_time: response.response_time,
        no_cache: cc.no_cache,
        forbids_stale: cc.forbids_stale(),
        stale_while_revalidate: cc.stale_while_revalidate.unwrap_or(0),
        stale_if_error: cc.stale_if_error.unwrap_or(0),
        validator,
    })
}

/// What a stored response can do for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// Serve it (`x-cache: HIT`).
    Fresh,
    /// Serve it stale: the client allowed it (`max-stale`) (`x-cache: STALE`).
    Stale,
    /// Serve it stale while one request revalidates it (RFC 5861).
    StaleWhileRevalidate,
    /// Ask the origin, conditionally when it has a validator.
    Revalidate,
}

/// Whether the stored response with `f` may answer a request with `req` at `now`.
pub fn usable(f: &Freshness, req: &RequestDirectives, now: u64) -> Use {
    if req.no_cache || f.no_cache {
        return Use::Revalidate;
    }
    let age = f.age(now);
    if req.max_age.is_some_and(|max| age > max) {
        return Use::Revalidate;
    }
    if f.is_fresh(now) {
        let left = f.lifetime - age;
        if req.min_fresh.is_some_and(|min| left < min) {
            return Use::Revalidate;
        }
        return Use::Fresh;
    }
    if f.forbids_stale {
        return Use::Revalidate;
    }
    let staleness = f.staleness(now);
    match req.max_stale {
        Some(None) => return Use::Stale,
        Some(Some(max)) if staleness <= max => return Use::Stale,
        _ => {}
    }
    if f.stale_while_revalidate > 0 && staleness <= f.stale_while_revalidate {
        return Use::StaleWhileRevalidate;
    }
    Use::Revalidate
}

/// Whether the stored response may stand in for an origin error at `now`
/// (`stale-if-error`, RFC 5861 §4): for 500, 502, 503 and 504.
pub fn serves_on_error(f: &Freshness, status: u16, now: u64) -> bool {
    let within = f.is_fresh(now) || (f.stale_if_error > 0 && f.staleness(now) <= f.stale_if_error);
    matches!(status, 500 | 502 | 503 | 504) && !f.forbids_stale && !f.no_cache && within
}

#[cfg(test)]
#[path = "freshness_tests.rs"]
mod tests;
