//! Where a token is found: a header with a prefix (`Authorization: Bearer …`), a query
//! parameter, or a cookie (the HCP web app keeps its token in an httpOnly cookie). The
//! sources are searched for every token they hold; [`strip`] removes them when tokens
//! must not reach the upstream.

use crate::denial::{Code, Denial};

/// One place a provider looks for its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `name` (lower-case) with the value starting with `prefix` (matched without regard to
    /// case, as auth schemes are: RFC 9110 §11.1). An empty prefix takes the whole value.
    Header {
        name: String,
        prefix: String,
    },
    Query {
        param: String,
    },
    Cookie {
        name: String,
    },
}

/// Where a token was found, so it can be stripped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub token: String,
    pub source: usize,
}

fn header_values<'a>(
    headers: &'a [(String, String)],
    name: &'a str,
) -> impl Iterator<Item = &'a str> {
    headers
        .iter()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn strip_prefix_ignore_case<'a>(value: &'a str, prefix: &str) -> Option<&'a str> {
    let head = value.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| value.get(prefix.len()..))
        .flatten()
}

fn query_values<'a>(path: &'a str, param: &'a str) -> impl Iterator<Item = &'a str> {
    let query = path.split_once('?').map_or("", |(_, q)| q);
    let query = query.split('#').next().unwrap_or(query);
    query.split('&').filter_map(move |pair| {
        let (k, v) = pair.split_once('=')?;
        (k == param).then_some(v)
    })
}

fn cookie_values<'a>(
    headers: &'a [(String, String)],
    name: &'a str,
) -> impl Iterator<Item = &'a str> {
    header_values(headers, "cookie")
        .flat_map(|h| h.split(';'))
        .filter_map(move |c| {
            let (k, v) = c.trim().split_once('=')?;
            (k.trim() == name).then(|| v.trim().trim_matches('"'))
        })
}

fn repeated() -> Denial {
    Denial::new(
        Code::TokenRepeated,
        "the header that carries the token appears more than once",
    )
}

/// Every token the sources hold, in source order, each once. A request may carry
/// tokens in several places (a header and a query parameter): each of them must then
/// verify, as in Envoy's `jwt_authn`, or a forged second token would reach the upstream
/// next to a valid first one. A token header sent twice is refused outright (Envoy
/// joins repeated headers with commas, which no token contains).
pub fn extract(
    sources: &[Source],
    headers: &[(String, String)],
    path: &str,
) -> Result<Vec<Found>, Denial> {
    let mut found: Vec<Found> = Vec::new();
    let mut add = |token: &str, source: usize| {
        if !token.is_empty() && !found.iter().any(|f| f.token == token) {
            found.push(Found {
                token: token.to_string(),
                source,
            });
        }
    };
    for (i, source) in sources.iter().enumerate() {
        match source {
            Source::Header { name, prefix } => {
                let mut tokens = header_values(headers, name)
                    .filter_map(|v| strip_prefix_ignore_case(v, prefix))
                    .map(str::trim);
                if let Some(token) = tokens.next() {
                    if tokens.next().is_some() || token.contains(',') {
                        return Err(repeated());
                    }
                    add(token, i);
                }
            }
            Source::Query { param } => query_values(path, param).for_each(|t| add(t, i)),
            Source::Cookie { name } => cookie_values(headers, name).for_each(|t| add(t, i)),
        }
    }
    Ok(found)
}

/// What to change so the request no longer carries the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Strip {
    RemoveHeader(String),
    /// Replace the `cookie` header with this (or remove it when `None`).
    SetCookie(Option<String>),
    /// Replace `:path` with this.
    SetPath(String),
}

/// How to remove every occurrence of `sources` (headers, query parameters, cookies)
/// from the request at once: one path rewrite and one cookie rewrite at most.
pub fn strip(sources: &[&Source], headers: &[(String, String)], path: &str) -> Vec<Strip> {
    let mut out = Vec::new();
    let mut params: Vec<&str> = Vec::new();
    let mut cookies: Vec<&str> = Vec::new();
    for source in sources {
        match source {
            Source::Header { name, .. } => {
                let strip = Strip::RemoveHeader(name.clone());
                if !out.contains(&strip) {
                    out.push(strip);
                }
            }
            Source::Query { param } => params.push(param),
            Source::Cookie { name } => cookies.push(name),
        }
    }
    if !params.is_empty()
        && let Some((base, query)) = path.split_once('?')
    {
        let kept: Vec<&str> = query
            .split('&')
            .filter(|p| !params.contains(&p.split_once('=').map_or(*p, |(k, _)| k)))
            .collect();
        let rewritten = if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        if rewritten != path {
            out.push(Strip::SetPath(rewritten));
        }
    }
    if !cookies.is_empty() {
        let all: Vec<&str> = header_values(headers, "cookie")
            .flat_map(|h| h.split(';'))
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        let kept: Vec<&str> = all
            .iter()
            .copied()
            .filter(|c| !cookies.contains(&c.split_once('=').map_or(*c, |(k, _)| k.trim())))
            .collect();
        if kept.len() != all.len() {
            out.push(Strip::SetCookie(
                (!kept.is_empty()).then(|| kept.join("; ")),
            ));
        }
    }
    out
}

#[cfg(test)]
#[path = "extract_tests.rs"]
mod tests;
