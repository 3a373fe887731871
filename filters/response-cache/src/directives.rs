//! `Cache-Control` (RFC 9111 §5.2) and the dates and delta-seconds it relies on.
//!
//! Parsing follows the RFC where it says what to do with bad input: names are
//! case-insensitive; arguments may be tokens or quoted strings; a delta-seconds larger
//! than 2^31 is 2^31 (§1.2.2); an invalid or conflicting `max-age`/`s-maxage` makes the
//! response stale (§4.2.1); an invalid `Expires` (`0` most often) is in the past
//! (§5.3). Several `Cache-Control` fields are one list.

use std::time::SystemTime;

/// The largest delta-seconds a cache must keep (§1.2.2).
pub const DELTA_MAX: u64 = 1 << 31;

/// One directive: its name in lower case and its argument, unquoted.
fn directives(fields: &[&str]) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    for field in fields {
        for item in split_list(field) {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            let (name, arg) = match item.split_once('=') {
                Some((n, a)) => (n.trim(), Some(unquote(a.trim()))),
                None => (item, None),
            };
            out.push((name.to_ascii_lowercase(), arg));
        }
    }
    out
}

/// Splits a list at commas outside quoted strings.
fn split_list(field: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in field.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                items.push(field.get(start..i).unwrap_or(""));
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(field.get(start..).unwrap_or(""));
    items
}

fn unquote(arg: &str) -> String {
    match arg.strip_prefix('"').and_then(|a| a.strip_suffix('"')) {
        Some(inner) => {
            let mut out = String::with_capacity(inner.len());
            let mut escaped = false;
            for c in inner.chars() {
                if escaped || c != '\\' {
                    out.push(c);
                    escaped = false;
                } else {
                    escaped = true;
                }
            }
            out
        }
        None => arg.to_string(),
    }
}

/// delta-seconds: digits only; larger than 2^31 is 2^31. `None`: not a number.
pub fn delta_seconds(arg: &str) -> Option<u64> {
    if arg.is_empty() || !arg.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(arg.parse::<u64>().map_or(DELTA_MAX, |v| v.min(DELTA_MAX)))
}

/// A delta-seconds directive as the response gave it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delta {
    Absent,
    Seconds(u64),
    /// Invalid, or given twice with different values: the response is stale.
    Invalid,
}

impl Delta {
    fn add(self, arg: Option<&str>) -> Self {
        let parsed = arg.and_then(delta_seconds);
        match (self, parsed) {
            (_, None) => Self::Invalid,
            (Self::Absent, Some(s)) => Self::Seconds(s),
            (Self::Seconds(a), Some(b)) if a == b => self,
            _ => Self::Invalid,
        }
    }

    /// The lifetime it gives: an invalid one gives 0 (stale).
    pub fn lifetime(self) -> Option<u64> {
        match self {
            Self::Absent => None,
            Self::Seconds(s) => Some(s),
            Self::Invalid => Some(0),
        }
    }
}

/// A response's `Cache-Control` (§5.2.2, and RFC 5861's stale extensions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseDirectives {
    pub no_store: bool,
    /// With or without field names: either way the response is revalidated before
    /// every use (a cache may treat the qualified form as unqualified).
    pub no_cache: bool,
    /// With or without field names: a shared cache does not store it (this cache
    /// keeps it in the caller's own partition only).
    pub private: bool,
    pub public: bool,
    pub max_age: Delta,
    pub s_maxage: Delta,
    pub must_revalidate: bool,
    pub proxy_revalidate: bool,
    pub stale_while_revalidate: Option<u64>,
    pub stale_if_error: Option<u64>,
}

impl ResponseDirectives {
    /// Parses every `Cache-Control` field of a response.
    pub fn parse(fields: &[&str]) -> Self {
        let mut d = Self {
            no_store: false,
            no_cache: false,
            private: false,
            public: false,
            max_age: Delta::Absent,
            s_maxage: Delta::Absent,
            must_revalidate: false,
            proxy_revalidate: false,
            stale_while_revalidate: None,
            stale_if_error: None,
        };
        for (name, arg) in directives(fields) {
            match name.as_str() {
                "no-store" => d.no_store = true,
                "no-cache" => d.no_cache = true,
                "private" => d.private = true,
                "public" => d.public = true,
                "max-age" => d.max_age = d.max_age.add(arg.as_deref()),
                "s-maxage" => d.s_maxage = d.s_maxage.add(arg.as_deref()),
                "must-revalidate" => d.must_revalidate = true,
                "proxy-revalidate" => d.proxy_revalidate = true,
                "stale-while-revalidate" => {
                    d.stale_while_revalidate = arg.as_deref().and_then(delta_seconds);
                }
                "stale-if-error" => d.stale_if_error = arg.as_deref().and_then(delta_seconds),
                // Unknown extensions are ignored (§5.2.3).
                _ => {}
            }
        }
        d
    }

    /// Whether a stale response may never be served without revalidation: for a
    /// shared cache `must-revalidate`, `proxy-revalidate` and `s-maxage` all say so
    /// (§5.2.2.2, §5.2.2.8, §5.2.2.10).
    pub fn forbids_stale(&self) -> bool {
        self.must_revalidate || self.proxy_revalidate || self.s_maxage != Delta::Absent
    }
}

/// A request's `Cache-Control` (§5.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RequestDirectives {
    pub no_store: bool,
    pub no_cache: bool,
    pub max_age: Option<u64>,
    pub min_fresh: Option<u64>,
    /// `Some(None)`: any staleness; `Some(Some(n))`: up to n seconds.
    pub max_stale: Option<Option<u64>>,
    pub only_if_cached: bool,
}

impl RequestDirectives {
    /// Parses every `Cache-Control` field of a request; `pragma` counts as
    /// `no-cache` when the request has no `Cache-Control` (§5.4).
    pub fn parse(fields: &[&str], pragma: &[&str]) -> Self {
        let mut d = Self::default();
        if fields.is_empty() {
            d.no_cache = directives(pragma).iter().any(|(n, _)| n == "no-cache");
            return d;
        }
        for (name, arg) in directives(fields) {
            let seconds = arg.as_deref().and_then(delta_seconds);
            match name.as_str() {
                "no-store" => d.no_store = true,
                "no-cache" => d.no_cache = true,
                // An invalid argument is ignored: the directive cannot be understood.
                "max-age" if seconds.is_some() => d.max_age = seconds,
                "min-fresh" if seconds.is_some() => d.min_fresh = seconds,
                "max-stale" => match (&arg, seconds) {
                    (None, _) => d.max_stale = Some(None),
                    (Some(_), Some(s)) => d.max_stale = Some(Some(s)),
                    (Some(_), None) => {}
                },
                "only-if-cached" => d.only_if_cached = true,
                _ => {}
            }
        }
        d
    }
}

/// An HTTP-date in any of its three forms (RFC 9110 §5.6.7), as Unix seconds.
pub fn http_date(text: &str) -> Option<u64> {
    let t = httpdate::parse_http_date(text.trim()).ok()?;
    t.duration_since(SystemTime::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

/// Unix seconds as an IMF-fixdate.
pub fn format_date(secs: u64) -> String {
    httpdate::fmt_http_date(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs))
}

#[cfg(test)]
#[path = "directives_tests.rs"]
mod tests;
