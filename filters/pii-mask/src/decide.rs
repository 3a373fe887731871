//! A request's and a response's decisions, over plain data: whether masking applies,
//! how the body is read, and what the headers must say about the masked body.

use tollgate_kit::json::claim_holds;

use crate::body::{Encoding, Format};
use crate::config::{Choice, Compiled, Compression, MissingType};

/// What the request phase saw.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// jwt-auth's verified payload header, if any.
    pub claims: Option<&'a str>,
    pub content_type: Option<&'a str>,
    pub content_encoding: Option<&'a str>,
}

/// Why a response or request goes out unmasked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unmasked {
    /// Not on a masked route, or exempt by route.
    Route,
    /// The caller holds an exempting claim.
    Claim,
    /// A content type that is not read.
    ContentType,
    /// No body.
    NoBody,
    /// An encoding that cannot be decoded, with `on_unknown_encoding: pass`.
    Encoding,
    /// Over the size limit, with `on_oversize: pass`.
    Oversize,
    /// The host cannot replace bodies, with `on_unsupported_host: pass`.
    Host,
}

impl Unmasked {
    pub fn name(self) -> &'static str {
        match self {
            Unmasked::Route => "route",
            Unmasked::Claim => "claim",
            Unmasked::ContentType => "content_type",
            Unmasked::NoBody => "no_body",
            Unmasked::Encoding => "encoding",
            Unmasked::Oversize => "oversize",
            Unmasked::Host => "host",
        }
    }

    /// Whether a body that should have been masked goes out unmasked (counted in
    /// `pii_mask.unmasked`), as opposed to one that never needed it.
    pub fn is_loss(self) -> bool {
        matches!(
            self,
            Unmasked::Encoding | Unmasked::Oversize | Unmasked::Host
        )
    }
}

/// Why a response is replaced by a 502.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocked {
    Encoding,
    Oversize,
    Host,
    /// The body could not be read to its end (a corrupt compressed body).
    Unreadable,
}

impl Blocked {
    pub fn message(self) -> &'static str {
        match self {
            Blocked::Encoding => {
                "the response is in an encoding the edge cannot read, so it cannot be checked for personal data"
            }
            Blocked::Oversize => "the response is larger than the edge checks for personal data",
            Blocked::Host => "this gateway cannot check responses for personal data",
            Blocked::Unreadable => "the response could not be read to check it for personal data",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Blocked::Encoding => "encoding",
            Blocked::Oversize => "oversize",
            Blocked::Host => "host",
            Blocked::Unreadable => "unreadable",
        }
    }
}

/// What the request phase does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestPlan {
    /// Nothing, and nothing in the response either.
    Pass(Unmasked),
    /// Refused before the origin (the host cannot mask the response).
    Refuse(Blocked),
    /// The response will be masked.
    Watch {
        /// Remove `accept-encoding` (`compression: strip_accept_encoding`).
        strip_accept_encoding: bool,
        /// Mask the request body too, read this way.
        body: Option<Format>,
    },
}

/// The format a `content-type` is read in; `None`: not read.
pub fn format_of(c: &Compiled, content_type: Option<&str>) -> Option<Format> {
    let Some(ct) = content_type else {
        return match c.missing {
            MissingType::Text => Some(Format::Text),
            MissingType::Json => Some(Format::Json),
            MissingType::Pass => None,
        };
    };
    let media = ct
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let fits = |list: &[String]| {
        list.iter().any(|t| {
            if let Some(suffix) = t.strip_prefix('+') {
                media.ends_with(&format!("+{suffix}"))
            } else if t.ends_with('/') {
                media.starts_with(t.as_str())
            } else {
                media == *t
            }
        })
    };
    if fits(&c.json_types) {
        Some(Format::Json)
    } else if fits(&c.text_types) {
        Some(Format::Text)
    } else {
        None
    }
}

/// Whether a caller's verified claims exempt them.
pub fn exempt_by_claim(c: &Compiled, claims: Option<&str>) -> bool {
    if c.exempt_claims.is_empty() {
        return false;
    }
    let Some(claims) = tollgate_kit::contract::claims_from(claims) else {
        return false;
    };
    c.exempt_claims
        .iter()
        .any(|(claim, value)| claim_holds(&claims, claim, value))
}

/// The request phase's decision.
pub fn request(c: &Compiled, r: &Request<'_>) -> RequestPlan {
    let on_route = c.routes.is_empty() || c.routes.iter().any(|m| m.matches(r.method, r.path));
    if !on_route || c.exempt_routes.iter().any(|m| m.matches(r.method, r.path)) {
        return RequestPlan::Pass(Unmasked::Route);
    }
    if exempt_by_claim(c, r.claims) {
        return RequestPlan::Pass(Unmasked::Claim);
    }
    if !c.rewrites_bodies {
        return match c.on_unsupported_host {
            Choice::Block => RequestPlan::Refuse(Blocked::Host),
            Choice::Pass => RequestPlan::Pass(Unmasked::Host),
        };
    }
    let body = if c.requests
        && r.content_encoding
            .is_none_or(|e| Encoding::parse(e) == Ok(None))
    {
        format_of(c, r.content_type)
    } else {
        None
    };
    RequestPlan::Watch {
        strip_accept_encoding: c.compression == Compression::StripAcceptEncoding,
        body,
    }
}

/// A header change the response needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    Remove(&'static str),
    Set(&'static str, String),
}

/// What the response phase does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponsePlan {
    Pass(Unmasked),
    /// The status becomes 502 and the body an error saying why.
    Block(Blocked, Vec<Edit>),
    Mask {
        format: Format,
        encoding: Option<Encoding>,
        edits: Vec<Edit>,
    },
}

/// What the response phase saw.
#[derive(Debug, Clone, Copy)]
pub struct Response<'a> {
    pub status: u16,
    pub head: bool,
    /// The headers say there is no body (Envoy's `end_of_stream`).
    pub no_body: bool,
    pub content_type: Option<&'a str>,
    pub content_encoding: Option<&'a str>,
    pub content_length: Option<&'a str>,
    pub etag: Option<&'a str>,
}

/// The headers of a masked body: its length and validators are no longer the
/// origin's.
fn mask_edits(r: &Response<'_>, decoded: bool) -> Vec<Edit> {
    let mut edits = vec![
        Edit::Remove("content-length"),
        Edit::Remove("accept-ranges"),
    ];
    if decoded {
        edits.push(Edit::Remove("content-encoding"));
    }
    if let Some(tag) = r.etag
        && !tag.starts_with("W/")
    {
        // Equal masked bodies stay equivalent, not byte-identical (RFC 9110 §8.8.3).
        edits.push(Edit::Set("etag", format!("W/{tag}")));
    }
    edits
}

fn block_edits() -> Vec<Edit> {
    vec![
        Edit::Set(":status", "502".into()),
        Edit::Set("content-type", "application/json".into()),
        Edit::Remove("content-length"),
        Edit::Remove("content-encoding"),
        Edit::Remove("etag"),
        Edit::Remove("last-modified"),
        Edit::Remove("accept-ranges"),
        Edit::Set("cache-control", "no-store".into()),
    ]
}

/// The response phase's decision, for a request that is watched.
pub fn response(c: &Compiled, r: &Response<'_>) -> ResponsePlan {
    if r.head || r.no_body || matches!(r.status, 100..=199 | 204 | 304) {
        return ResponsePlan::Pass(Unmasked::NoBody);
    }
    let Some(format) = format_of(c, r.content_type) else {
        return ResponsePlan::Pass(Unmasked::ContentType);
    };
    let encoding = match r.content_encoding.map(Encoding::parse) {
        None | Some(Ok(None)) => None,
        Some(Ok(Some(e))) => Some(e),
        Some(Err(crate::body::UnknownEncoding)) => {
            return match c.on_unknown_encoding {
                Choice::Block => ResponsePlan::Block(Blocked::Encoding, block_edits()),
                Choice::Pass => ResponsePlan::Pass(Unmasked::Encoding),
            };
        }
    };
    // A length over the limit is known before any byte (compressed bodies only grow).
    let declared = r.content_length.and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > c.max_body_bytes) {
        return match c.on_oversize {
            Choice::Block => ResponsePlan::Block(Blocked::Oversize, block_edits()),
            Choice::Pass => ResponsePlan::Pass(Unmasked::Oversize),
        };
    }
    ResponsePlan::Mask {
        format,
        encoding,
        edits: mask_edits(r, encoding.is_some()),
    }
}

/// The body of a blocked response.
pub fn block_body(b: Blocked) -> String {
    tollgate_kit::reply::error_body("pii_mask_blocked", b.message())
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
