//! JWS algorithms, each bound to exactly one key type. Binding `alg` to the key is what
//! defeats key confusion (an RSA public key used as an HMAC secret).

use std::fmt;

use crate::denial::{Code, Denial};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alg {
    HS256,
    HS384,
    HS512,
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    ES512,
    EdDSA,
}

/// The key type an algorithm needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// `kty: oct`
    Secret,
    /// `kty: RSA`
    Rsa,
    /// `kty: EC`, `crv: P-256`
    P256,
    /// `kty: EC`, `crv: P-384`
    P384,
    /// `kty: EC`, `crv: P-521`
    P521,
    /// `kty: OKP`, `crv: Ed25519`
    Ed25519,
}

impl Alg {
    pub const ALL: [Alg; 13] = [
        Alg::HS256,
        Alg::HS384,
        Alg::HS512,
        Alg::RS256,
        Alg::RS384,
        Alg::RS512,
        Alg::PS256,
        Alg::PS384,
        Alg::PS512,
        Alg::ES256,
        Alg::ES384,
        Alg::ES512,
        Alg::EdDSA,
    ];

    /// Parses a header's `alg`. Names are case-sensitive (RFC 7515 §4.1.1); `none` is
    /// refused in every casing, with its own code, because it is an attack, not a typo.
    pub fn parse(name: &str) -> Result<Self, Denial> {
        if name.eq_ignore_ascii_case("none") {
            return Err(Denial::new(
                Code::AlgNone,
                "unsigned tokens (alg none) are never accepted",
            ));
        }
        Self::ALL
            .into_iter()
            .find(|a| a.name() == name)
            .ok_or_else(|| {
                Denial::new(
                    Code::AlgUnsupported,
                    format!("algorithm {:?} is not supported", truncate(name)),
                )
            })
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::HS256 => "HS256",
            Self::HS384 => "HS384",
            Self::HS512 => "HS512",
            Self::RS256 => "RS256",
            Self::RS384 => "RS384",
            Self::RS512 => "RS512",
            Self::PS256 => "PS256",
            Self::PS384 => "PS384",
            Self::PS512 => "PS512",
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
            Self::ES512 => "ES512",
            Self::EdDSA => "EdDSA",
        }
    }

    pub fn key_kind(self) -> KeyKind {
        match self {
            Self::HS256 | Self::HS384 | Self::HS512 => KeyKind::Secret,
            Self::RS256 | Self::RS384 | Self::RS512 | Self::PS256 | Self::PS384 | Self::PS512 => {
                KeyKind::Rsa
            }
            Self::ES256 => KeyKind::P256,
            Self::ES384 => KeyKind::P384,
            Self::ES512 => KeyKind::P521,
            Self::EdDSA => KeyKind::Ed25519,
        }
    }

    /// The smallest HMAC secret RFC 7518 §3.2 allows for this algorithm: the size of
    /// the hash output. 0 for the others.
    pub fn min_secret_bytes(self) -> usize {
        match self {
            Self::HS256 => 32,
            Self::HS384 => 48,
            Self::HS512 => 64,
            _ => 0,
        }
    }

    /// jsonwebtoken's name for the algorithm; `None` for ES512, verified with `p521`.
    pub(crate) fn to_jsonwebtoken(self) -> Option<jsonwebtoken::Algorithm> {
        use jsonwebtoken::Algorithm as A;
        Some(match self {
            Self::HS256 => A::HS256,
            Self::HS384 => A::HS384,
            Self::HS512 => A::HS512,
            Self::RS256 => A::RS256,
            Self::RS384 => A::RS384,
            Self::RS512 => A::RS512,
            Self::PS256 => A::PS256,
            Self::PS384 => A::PS384,
            Self::PS512 => A::PS512,
            Self::ES256 => A::ES256,
            Self::ES384 => A::ES384,
            Self::ES512 => return None,
            Self::EdDSA => A::EdDSA,
        })
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Keeps attacker-controlled strings short in messages.
pub(crate) fn truncate(s: &str) -> String {
    s.chars().take(32).collect()
}

#[cfg(test)]
#[path = "alg_tests.rs"]
mod tests;
