//! What a write invalidates (RFC 9111 §4.4) and what a lookup must check.
//!
//! Invalidation works by scopes, not by entries: entries are keyed per identity, and a
//! write must reach every identity's entry for its URI. A scope is a URI (authority and
//! path, every query), a configured path prefix, or everything; a lookup checks the
//! marks of the scopes its request falls in.

use tollgate_kit::path::normalize;

use crate::config::Compiled;
use crate::glob::segments;

/// Deepest prefix a lookup checks when an invalidation rule's depth depends on the
/// write (a `**` capture in its prefix).
pub const MAX_PREFIX_DEPTH: usize = 8;

/// The scope of everything (a purge of `*`).
pub const ALL: &str = "*";

pub fn uri_scope(authority: &str, path: &str) -> String {
    format!("u {} {path}", authority.to_ascii_lowercase())
}

pub fn prefix_scope(authority: &str, prefix: &str) -> String {
    format!("p {} {prefix}", authority.to_ascii_lowercase())
}

/// The first `depth` segments of `path` (`/a/b/c`, 2 → `/a/b`; 0 → `/`).
fn ancestor(path: &str, depth: usize) -> Option<&str> {
    if depth == 0 {
        return Some("/");
    }
    if segments(path) < depth {
        return None;
    }
    let end = path
        .char_indices()
        .filter(|(_, c)| *c == '/')
        .nth(depth)
        .map_or(path.len(), |(i, _)| i);
    path.get(..end)
}

/// The scopes whose marks invalidate an entry for `path` (no query) at `authority`.
pub fn lookup_scopes(authority: &str, path: &str, prefix_depths: &[usize]) -> Vec<String> {
    let mut scopes = vec![ALL.to_string(), uri_scope(authority, path)];
    for depth in prefix_depths {
        if let Some(prefix) = ancestor(path, *depth) {
            scopes.push(prefix_scope(authority, prefix));
        }
    }
    scopes
}

/// The path of a `Location` or `Content-Location` value, when it names the same
/// authority (§4.4: never another host's), resolved against `base`.
pub fn same_origin_path(value: &str, authority: &str, base: &str) -> Option<String> {
    let value = value.trim();
    let reference = if let Some((_, rest)) = value.split_once("://") {
        let (host, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, "/"),
        };
        if !host.eq_ignore_ascii_case(authority) {
            return None;
        }
        path.to_string()
    } else if value.starts_with("//") {
        return None;
    } else if value.starts_with('/') {
        value.to_string()
    } else {
        // A relative reference: merge with the base's directory (RFC 3986 §5.2.3).
        let dir = base.rfind('/').and_then(|i| base.get(..=i)).unwrap_or("/");
        format!("{dir}{value}")
    };
    let path = tollgate_kit::route::path_only(&reference);
    normalize(path).ok().map(|p| p.into_owned())
}

/// What a successful write at `path` (no query) invalidates: its URI, its
/// `Location` and `Content-Location` on the same authority, and the prefixes of the
/// first invalidation rule that fits.
pub fn write_scopes(
    config: &Compiled,
    method: &str,
    authority: &str,
    path: &str,
    response_headers: &[(String, String)],
) -> Vec<String> {
    let mut scopes = vec![uri_scope(authority, path)];
    for (name, value) in response_headers {
        if (name == "location" || name == "content-location")
            && let Some(p) = same_origin_path(value, authority, path)
        {
            scopes.push(uri_scope(authority, &p));
        }
    }
    let first_fit = config.invalidate.iter().find_map(|rule| {
        if !rule.methods.iter().any(|m| m == method) {
            return None;
        }
        rule.glob.capture(path).map(|captures| (rule, captures))
    });
    if let Some((rule, captures)) = first_fit {
        for t in &rule.prefixes {
            scopes.push(prefix_scope(authority, &t.fill(&captures)));
        }
    }
    scopes.sort();
    scopes.dedup();
    scopes
}

/// Whether a method is unsafe: its success invalidates (§4.4).
pub fn is_unsafe(method: &str) -> bool {
    !matches!(method, "GET" | "HEAD" | "OPTIONS" | "TRACE")
}

/// Whether a status means the write succeeded (2xx or 3xx, §4.4).
pub fn succeeded(status: u16) -> bool {
    (200..400).contains(&status)
}

#[cfg(test)]
#[path = "invalidate_tests.rs"]
mod tests;
