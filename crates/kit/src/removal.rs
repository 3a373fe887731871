//! Taking request headers out before the upstream sees them, on every host.
//!
//! On Envoy and APISIX a removed header is gone. On Kong it is only marked removed and
//! nginx's proxy module still sends it, and a replaced header is replaced in its first
//! copy only. So on Kong:
//! * a value that must not go upstream (a token, a handoff header) is emptied in
//!   place when the request has one copy of it;
//! * a header the filter owns (its value is the filter's word to the upstream) must not
//!   come from the client at all: such a request is refused;
//! * so is a request with several copies of a header that has to be emptied or
//!   replaced, since only the first copy can be reached.

use crate::facts::HostFacts;
use crate::host::{Host, HostResult};
use crate::types::MapKind;

/// Why a header is taken out or written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    /// A value that must not reach the upstream: a token, a consumed handoff header.
    Strip,
    /// A header this filter owns: no client copy may reach the upstream.
    Own,
    /// A header the filter writes its own value into.
    Replace,
}

/// What to do with one header on this host, for this request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// Nothing to take out (not in the request), or a plain write.
    Proceed,
    /// `proxy_remove_header_map_value` really removes it here.
    Remove,
    /// Replace its only copy with an empty value (Kong).
    Blank,
    /// This host cannot keep the client's copy from the upstream: refuse the request.
    Refuse,
}

/// Headers nginx's proxy module writes itself from its own state: the client's copies
/// are never forwarded, so removing them is always effective.
const REGENERATED_BY_NGINX: [&str; 8] = [
    "host",
    "connection",
    "content-length",
    "transfer-encoding",
    "te",
    "keep-alive",
    "expect",
    "upgrade",
];

/// Decides how `name` is handled, given the request's headers as read.
pub fn plan(facts: HostFacts, headers: &[(String, String)], name: &str, intent: Intent) -> Removal {
    let copies = headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .count();
    let removes = facts.removes_request_headers()
        || REGENERATED_BY_NGINX
            .iter()
            .any(|h| h.eq_ignore_ascii_case(name));
    match intent {
        // Only the first copy can be replaced where copies cannot be removed.
        Intent::Replace if copies > 1 && !removes => Removal::Refuse,
        Intent::Replace => Removal::Proceed,
        _ if copies == 0 => Removal::Proceed,
        _ if removes => Removal::Remove,
        Intent::Strip if copies == 1 => Removal::Blank,
        _ => Removal::Refuse,
    }
}

/// Carries out a [`Removal`] of a request header (`Refuse` is the caller's to answer).
pub fn take_out(host: &dyn Host, name: &str, removal: Removal) -> HostResult<()> {
    let map = MapKind::RequestHeaders;
    match removal {
        Removal::Remove => host.remove_header(map, name),
        Removal::Blank => host.replace_header(map, name, ""),
        Removal::Proceed | Removal::Refuse => Ok(()),
    }
}

/// The code of a request refused because of [`Removal::Refuse`].
pub const REFUSED_CODE: &str = "header_not_removable";

/// The message of that refusal: names the header (never its value).
pub fn refused_message(name: &str) -> String {
    format!(
        "this gateway cannot keep the request's `{name}` header from the upstream; send it at most once, or not at all if the gateway sets it"
    )
}

#[cfg(test)]
#[path = "removal_tests.rs"]
mod tests;
