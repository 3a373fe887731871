//! Request paths in normal form before any rule matches them.
//!
//! A rule for `/health` must not let `GET /health/../api/hello` through to a backend
//! that resolves the dot-segments itself and serves `/api/hello`. Envoy normalizes
//! paths only when its HTTP connection manager is told to (`normalize_path`,
//! `merge_slashes`, `path_with_escaped_slashes_action`), and a filter cannot rely on
//! every operator's config, so every filter runs its route matching on the path
//! [`PathHandling::prepare`] returns.
//!
//! Normal form (RFC 3986 §6.2.2): percent-encoded unreserved characters decoded, other
//! escapes in upper case, dot-segments removed, runs of slashes merged. Paths that have
//! no unambiguous normal form are refused in every mode but `as_is`: encoded slashes
//! and backslashes (`%2F`, `%5C`: a backend may or may not split on them), dot-segments
//! with parameters (`/..;/`, which Java servers resolve), bad escapes, and paths that
//! do not start with `/`.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;

/// What a filter does with a path that is not in normal form. Default: `normalize`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum PathHandling {
    /// Match on the normal form and send it upstream (`:path` rewritten when it
    /// differs), so the upstream serves exactly the path the rules saw. Ambiguous
    /// paths are refused with 400.
    #[default]
    Normalize,
    /// Refuse (400) every path that is not already in normal form.
    Reject,
    /// Match the path as received. Only for hosts that normalize paths themselves
    /// (Envoy with `normalize_path` and `merge_slashes` on, and escaped slashes rejected).
    AsIs,
}

/// Why a path was refused. The messages never echo the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathProblem {
    /// Not starting with `/` (and not `*`).
    NotAbsolute,
    /// `%` not followed by two hex digits.
    BadEscape,
    /// `%2F` or `%5C`.
    EncodedSlash,
    /// `.;x` or `..;x` as a segment.
    DotSegmentParameter,
    /// Not in normal form, under [`PathHandling::Reject`].
    NotNormal,
}

impl fmt::Display for PathProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotAbsolute => "the request path does not start with /",
            Self::BadEscape => "the request path has a malformed percent-escape",
            Self::EncodedSlash => "the request path has an encoded slash or backslash",
            Self::DotSegmentParameter => "the request path has a dot-segment with parameters",
            Self::NotNormal => {
                "the request path is not in normal form (dot-segments, repeated slashes or \
                 needless escapes)"
            }
        })
    }
}

impl PathHandling {
    /// The path rules should match (`:path`, query included, the query untouched), or
    /// why the request must be refused. Borrowed when the path is already normal.
    pub fn prepare(self, path: &str) -> Result<Cow<'_, str>, PathProblem> {
        if self == Self::AsIs || path == "*" {
            return Ok(Cow::Borrowed(path));
        }
        let normal = normalize(path)?;
        match (self, &normal) {
            (Self::Reject, Cow::Owned(_)) => Err(PathProblem::NotNormal),
            _ => Ok(normal),
        }
    }
}

fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Decodes escaped unreserved characters and upper-cases the other escapes.
fn decode_unreserved(path: &str) -> Result<String, PathProblem> {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b != b'%' {
            out.push(char::from(b));
            i += 1;
            continue;
        }
        let decoded = crate::percent::escape_at(bytes, i).ok_or(PathProblem::BadEscape)?;
        if decoded == b'/' || decoded == b'\\' {
            return Err(PathProblem::EncodedSlash);
        }
        if unreserved(decoded) {
            out.push(char::from(decoded));
        } else {
            out.push_str(&format!("%{decoded:02X}"));
        }
        i += 3;
    }
    Ok(out)
}

/// Whether `raw` (absolute, ASCII, no query) needs no work: no escapes, no empty
/// segment but a trailing one, no dot-segment (with or without parameters).
fn already_normal(raw: &str) -> bool {
    let mut segments = raw.split('/').skip(1).peekable();
    while let Some(segment) = segments.next() {
        let name = segment.split(';').next().unwrap_or(segment);
        let last = segments.peek().is_none();
        if (segment.is_empty() && !last) || name == "." || name == ".." || segment.contains('%') {
            return false;
        }
    }
    true
}

/// The normal form of `path` (query kept as it is).
pub fn normalize(path: &str) -> Result<Cow<'_, str>, PathProblem> {
    let (raw, query) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    };
    if !raw.starts_with('/') {
        return Err(PathProblem::NotAbsolute);
    }
    if !raw.is_ascii() {
        // Envoy refuses raw non-ASCII in paths; so do we, as a bad escape.
        return Err(PathProblem::BadEscape);
    }
    if already_normal(raw) {
        // The common case, on every request: no allocation.
        return Ok(Cow::Borrowed(path));
    }
    let decoded = decode_unreserved(raw)?;
    let mut segments: Vec<&str> = Vec::new();
    let mut trailing_slash = false;
    for segment in decoded.split('/').skip(1) {
        let name = segment.split(';').next().unwrap_or(segment);
        if (name == "." || name == "..") && segment != name {
            return Err(PathProblem::DotSegmentParameter);
        }
        trailing_slash = true;
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => {
                segments.push(s);
                trailing_slash = false;
            }
        }
    }
    let mut normal = String::with_capacity(decoded.len());
    for s in &segments {
        normal.push('/');
        normal.push_str(s);
    }
    if trailing_slash || segments.is_empty() {
        normal.push('/');
    }
    if normal == raw {
        return Ok(Cow::Borrowed(path));
    }
    if let Some(q) = query {
        normal.push('?');
        normal.push_str(q);
    }
    Ok(Cow::Owned(normal))
}

#[cfg(test)]
#[path = "path_tests.rs"]
mod tests;
