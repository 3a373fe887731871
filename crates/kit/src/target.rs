//! Rewriting the request target (the path and its query) on every host.
//!
//! * **Envoy** takes the whole target in `:path`.
//! * **APISIX** puts what is written to `:path` into nginx's `r->uri` as is: the query
//!   does not go into the arguments (a `?` is sent escaped, and the old query stays),
//!   and nginx escapes the path again when it proxies it (`%20` would go out as
//!   `%2520`). So the path is written decoded, and the query through the `args` nginx
//!   variable.
//! * **Kong** accepts the write, but nginx's `proxy_pass` without a URI sends the request
//!   line as received: the rewrite never reaches the upstream. Filters refuse, at
//!   configure time, what depends on it (a token in the query).

use crate::facts::{HostFacts, HostKind};
use crate::host::{Host, HostError, HostResult};
use crate::percent::escape_at;
use crate::types::{MapKind, Status};

const WRITE: &str = "proxy_replace_header_map_value";

/// Makes `target` (`/path?query`, already in the form the upstream must see) the
/// request's target.
pub fn set_request_target(host: &dyn Host, facts: HostFacts, target: &str) -> HostResult<()> {
    let map = MapKind::RequestHeaders;
    match facts.kind {
        HostKind::Envoy | HostKind::Kong => host.replace_header(map, ":path", target),
        HostKind::Apisix => {
            let (path, query) = target.split_once('?').unwrap_or((target, ""));
            let uri = nginx_uri(path).ok_or(HostError::new(WRITE, Status::BadArgument))?;
            host.replace_header(map, ":path", &uri)?;
            host.set_property(&["args"], query.as_bytes())
        }
    }
}

/// `path` as nginx keeps it in `r->uri`: percent-decoded, since nginx escapes it again
/// when it proxies. `None` when that cannot express it: an encoded `/` or `\` (it would
/// become a separator), a control character (APISIX refuses it), or bytes that are not
/// UTF-8.
pub fn nginx_uri(path: &str) -> Option<String> {
    if !path.contains('%') {
        return Some(path.to_string());
    }
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match escape_at(bytes, i) {
            Some(b'/' | b'\\') => return None,
            Some(decoded) => {
                out.push(decoded);
                i += 3;
            }
            None => {
                out.push(b);
                i += 1;
            }
        }
    }
    let text = String::from_utf8(out).ok()?;
    (!text.chars().any(char::is_control)).then_some(text)
}

#[cfg(test)]
#[path = "target_tests.rs"]
mod tests;
