//! Where a token is found: a header with a prefix (`Authorization: Bearer …`), a query
//! parameter, or a cookie (the HCP web app keeps its token in an httpOnly cookie). The
//! first source that holds a token wins; [`strip`] removes it when the token must not
//! reach the upstream.

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

fn query_value<'a>(path: &'a str, param: &str) -> Option<&'a str> {
    let query = path.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or(query);
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == param).then_some(v)
    })
}

fn cookie_value<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    header_values(headers, "cookie")
        .flat_map(|h| h.split(';'))
        .find_map(|c| {
            let (k, v) = c.trim().split_once('=')?;
            (k.trim() == name).then(|| v.trim().trim_matches('"'))
        })
}

/// The first token found, in source order. Empty values are not tokens.
pub fn extract(sources: &[Source], headers: &[(String, String)], path: &str) -> Option<Found> {
    sources.iter().enumerate().find_map(|(i, source)| {
        let token = match source {
            Source::Header { name, prefix } => header_values(headers, name)
                .find_map(|v| strip_prefix_ignore_case(v, prefix))
                .map(str::trim),
            Source::Query { param } => query_value(path, param),
            Source::Cookie { name } => cookie_value(headers, name),
        }?;
        (!token.is_empty()).then(|| Found {
            token: token.to_string(),
            source: i,
        })
    })
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

/// How to remove the token found at `found` from the request.
pub fn strip(
    sources: &[Source],
    found: &Found,
    headers: &[(String, String)],
    path: &str,
) -> Option<Strip> {
    match sources.get(found.source)? {
        Source::Header { name, .. } => Some(Strip::RemoveHeader(name.clone())),
        Source::Query { param } => {
            let (base, query) = path.split_once('?')?;
            let kept: Vec<&str> = query
                .split('&')
                .filter(|p| p.split_once('=').map_or(*p, |(k, _)| k) != param.as_str())
                .collect();
            Some(Strip::SetPath(if kept.is_empty() {
                base.to_string()
            } else {
                format!("{base}?{}", kept.join("&"))
            }))
        }
        Source::Cookie { name } => {
            let kept: Vec<&str> = header_values(headers, "cookie")
                .flat_map(|h| h.split(';'))
                .map(str::trim)
                .filter(|c| {
                    !c.is_empty()
                        && c.split_once('=').map_or(*c, |(k, _)| k.trim()) != name.as_str()
                })
                .collect();
            Some(Strip::SetCookie(
                (!kept.is_empty()).then(|| kept.join("; ")),
            ))
        }
    }
}

#[cfg(test)]
#[path = "extract_tests.rs"]
mod tests;
