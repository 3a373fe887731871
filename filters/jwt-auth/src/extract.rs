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
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    fn sources() -> Vec<Source> {
        vec![
            Source::Header {
                name: "authorization".into(),
                prefix: "Bearer ".into(),
            },
            Source::Query {
                param: "access_token".into(),
            },
            Source::Cookie {
                name: "hcp_token".into(),
            },
        ]
    }

    #[test]
    fn finds_tokens_in_order() {
        let s = sources();
        let bearer = extract(&s, &h(&[("authorization", "bearer  abc.def.ghi ")]), "/").unwrap();
        assert_eq!((bearer.token.as_str(), bearer.source), ("abc.def.ghi", 0));
        assert_eq!(
            extract(&s, &h(&[("authorization", "Basic xyz")]), "/"),
            None
        );
        let q = extract(&s, &[], "/a?x=1&access_token=t.o.k#frag").unwrap();
        assert_eq!((q.token.as_str(), q.source), ("t.o.k", 1));
        let c = extract(&s, &h(&[("cookie", "a=1; hcp_token=\"c.o.k\"; b=2")]), "/").unwrap();
        assert_eq!((c.token.as_str(), c.source), ("c.o.k", 2));
        assert_eq!(
            extract(&s, &h(&[("authorization", "Bearer ")]), "/?access_token="),
            None,
            "empty is not a token"
        );
        assert_eq!(
            extract(&s, &h(&[("cookie", "xhcp_token=1")]), "/"),
            None,
            "cookie names match exactly"
        );
    }

    #[test]
    fn strips_what_it_found() {
        let s = sources();
        let headers = h(&[("cookie", "a=1; hcp_token=c.o.k; b=2")]);
        let found = extract(&s, &headers, "/").unwrap();
        assert_eq!(
            strip(&s, &found, &headers, "/"),
            Some(Strip::SetCookie(Some("a=1; b=2".into())))
        );
        let only = h(&[("cookie", "hcp_token=c.o.k")]);
        let found = extract(&s, &only, "/").unwrap();
        assert_eq!(strip(&s, &found, &only, "/"), Some(Strip::SetCookie(None)));
        let found = extract(&s, &[], "/a?x=1&access_token=t&y=2").unwrap();
        assert_eq!(
            strip(&s, &found, &[], "/a?x=1&access_token=t&y=2"),
            Some(Strip::SetPath("/a?x=1&y=2".into()))
        );
        let found = extract(&s, &[], "/a?access_token=t").unwrap();
        assert_eq!(
            strip(&s, &found, &[], "/a?access_token=t"),
            Some(Strip::SetPath("/a".into()))
        );
        let bearer = h(&[("authorization", "Bearer t")]);
        let found = extract(&s, &bearer, "/").unwrap();
        assert_eq!(
            strip(&s, &found, &bearer, "/"),
            Some(Strip::RemoveHeader("authorization".into()))
        );
    }
}
