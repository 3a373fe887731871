//! Changes a filter decides to make to a request, and how each is carried out on the
//! host at hand. A decision returns [`Mutation`]s (plain data, compared in tests); the
//! glue calls [`plan`] once, refuses the request if a header cannot be kept from the
//! upstream, then [`apply`]s the plans.

use crate::facts::HostFacts;
use crate::host::{Host, HostResult};
use crate::removal::{self, Intent, Removal};
use crate::types::MapKind;

/// One change to the request before it goes upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mutation {
    /// A header the filter owns (it sets it, so a client copy would be spoofing): every
    /// copy is taken out.
    RemoveOwned(String),
    /// A header to take out (a token's, a credential the upstream must not see).
    Remove(String),
    /// A header set to one value, replacing every copy.
    Set(String, String),
    /// The request target (path and query) as the upstream must receive it.
    SetPath(String),
    /// The upstream authority: `:authority` on Envoy, `Host` on the nginx hosts.
    SetAuthority(String),
    /// The `cookie` header without the cookies the filter consumed; `None`: none left.
    SetCookie(Option<String>),
}

impl Mutation {
    /// The header this mutation writes, by its Envoy name.
    pub fn target(&self) -> &str {
        match self {
            Self::RemoveOwned(h) | Self::Remove(h) | Self::Set(h, _) => h,
            Self::SetPath(_) => ":path",
            Self::SetAuthority(_) => ":authority",
            Self::SetCookie(_) => "cookie",
        }
    }

    /// The value this mutation gives header `name` (Envoy names: `:path`,
    /// `:authority`), if it sets it.
    pub fn value_of(&self, name: &str) -> Option<&str> {
        let value = match self {
            Self::Set(_, v) | Self::SetPath(v) | Self::SetAuthority(v) => v.as_str(),
            Self::SetCookie(Some(c)) => c.as_str(),
            Self::RemoveOwned(_) | Self::Remove(_) | Self::SetCookie(None) => return None,
        };
        (self.target() == name).then_some(value)
    }

    /// Whether this mutation takes header `name` out.
    pub fn removes(&self, name: &str) -> bool {
        matches!(self, Self::RemoveOwned(h) | Self::Remove(h) if h == name)
    }
}

/// The value `mutations` give header `name`, if one sets it.
pub fn value_of<'m>(mutations: &'m [Mutation], name: &str) -> Option<&'m str> {
    mutations.iter().find_map(|m| m.value_of(name))
}

/// How each mutation is carried out on this host for this request, or the name of the
/// first header the host cannot keep from the upstream (the request must be refused
/// before anything is written: [`removal::refused_message`]).
pub fn plan<'m>(
    facts: HostFacts,
    headers: &[(String, String)],
    mutations: &'m [Mutation],
) -> Result<Vec<Removal>, &'m str> {
    mutations
        .iter()
        .map(|m| {
            let intent = match m {
                Mutation::RemoveOwned(_) => Intent::Own,
                Mutation::Remove(_) | Mutation::SetCookie(None) => Intent::Strip,
                Mutation::Set(..) | Mutation::SetCookie(Some(_)) => Intent::Replace,
                // The target and the authority are rewritten, never removed: Envoy
                // replaces them, and on the nginx hosts nginx writes `Host` itself.
                Mutation::SetPath(_) | Mutation::SetAuthority(_) => return Ok(Removal::Proceed),
            };
            match removal::plan(facts, headers, m.target(), intent) {
                Removal::Refuse => Err(m.target()),
                how => Ok(how),
            }
        })
        .collect()
}

/// Applies planned mutations (one plan each, from [`plan`]). Every mutation is tried;
/// the first failure is returned, and the filter then refuses the request (500).
pub fn apply(
    host: &dyn Host,
    facts: HostFacts,
    mutations: &[Mutation],
    plans: &[Removal],
) -> HostResult<()> {
    let map = MapKind::RequestHeaders;
    let mut first_error = Ok(());
    for (m, &how) in mutations.iter().zip(plans) {
        let result = match m {
            Mutation::RemoveOwned(h) | Mutation::Remove(h) => removal::take_out(host, h, how),
            Mutation::Set(h, v) => host.replace_header(map, h, v),
            Mutation::SetPath(p) => crate::target::set_request_target(host, facts, p),
            Mutation::SetAuthority(a) => host.replace_header(map, facts.authority_header(), a),
            Mutation::SetCookie(Some(c)) => host.replace_header(map, "cookie", c),
            Mutation::SetCookie(None) => removal::take_out(host, "cookie", how),
        };
        if first_error.is_ok() {
            first_error = result;
        }
    }
    first_error
}

#[cfg(test)]
#[path = "mutation_tests.rs"]
mod tests;
