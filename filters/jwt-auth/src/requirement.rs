//! What a route requires, with Envoy `jwt_authn`'s semantics:
//! `provider_name`, `requires_any`, `requires_all`, `allow_missing`,
//! `allow_missing_or_failed`.

use crate::denial::{Code, Denial};

/// A requirement tree; providers are indices into the compiled provider list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    Provider(usize),
    /// Satisfied by the first child that is.
    Any(Vec<Requirement>),
    /// Satisfied when every child is.
    All(Vec<Requirement>),
    /// Satisfied when no token is present; a present token must be valid.
    AllowMissing,
    /// Always satisfied; valid tokens still produce their outputs.
    AllowMissingOrFailed,
}

/// What happened when a provider looked at the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Missing,
    Failed(Denial),
    Verified,
}

impl Requirement {
    /// Evaluates the tree. `outcome(i)` verifies provider `i` (callers cache it);
    /// `any_token` says whether any provider's sources held a token.
    pub fn evaluate(
        &self,
        outcome: &mut dyn FnMut(usize) -> Outcome,
        any_token: bool,
    ) -> Result<(), Denial> {
        match self {
            Self::Provider(i) => match outcome(*i) {
                Outcome::Verified => Ok(()),
                Outcome::Missing => Err(Denial::new(Code::TokenMissing, "no token was found")),
                Outcome::Failed(d) => Err(d),
            },
            Self::AllowMissingOrFailed => Ok(()),
            Self::AllowMissing if !any_token => Ok(()),
            Self::AllowMissing => Err(Denial::new(
                Code::TokenMalformed,
                "a token is present but was not accepted",
            )),
            Self::All(children) => children
                .iter()
                .try_for_each(|c| c.evaluate(outcome, any_token)),
            Self::Any(children) => {
                // Report a real failure over "missing": it says more.
                let mut first_failure: Option<Denial> = None;
                for child in children {
                    match child.evaluate(outcome, any_token) {
                        Ok(()) => return Ok(()),
                        Err(d) if d.code == Code::TokenMissing => {
                            first_failure.get_or_insert(d);
                        }
                        Err(d) => {
                            if first_failure
                                .as_ref()
                                .is_none_or(|f| f.code == Code::TokenMissing)
                            {
                                first_failure = Some(d);
                            }
                        }
                    }
                }
                Err(first_failure
                    .unwrap_or_else(|| Denial::new(Code::TokenMissing, "no token was found")))
            }
        }
    }
}

#[cfg(test)]
#[path = "requirement_tests.rs"]
mod tests;
