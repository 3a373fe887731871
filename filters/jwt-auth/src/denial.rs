//! Why a token was refused. The code is stable (metrics, JSON error bodies, case files);
//! the message explains without echoing the token or any secret.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    pub code: Code,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    TokenMissing,
    /// The token header appears more than once (two `Authorization` headers).
    TokenRepeated,
    TokenTooLarge,
    TokenMalformed,
    TokenEncrypted,
    TokenUndecryptable,
    /// RSA decryption budget spent: the token was refused without decrypting it.
    DecryptionThrottled,
    EncryptionRequired,
    AlgNone,
    AlgUnsupported,
    AlgKeyMismatch,
    CritUnsupported,
    TypMismatch,
    KidUnknown,
    NoKeys,
    SignatureInvalid,
    TokenExpired,
    TokenNotYetValid,
    IssuedInFuture,
    LifetimeTooLong,
    IssuerMismatch,
    AudienceMismatch,
    ClaimMissing,
    ClaimMismatch,
    /// The path has dot-segments or encoded slashes (see the kit's `paths` setting).
    PathInvalid,
    /// The request carries a header the host cannot keep from the upstream (Kong: a
    /// header this filter owns, or several copies of a token header).
    HeaderNotRemovable,
}

impl Code {
    /// The code as it appears in error bodies and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TokenMissing => "token_missing",
            Self::TokenRepeated => "token_repeated",
            Self::TokenTooLarge => "token_too_large",
            Self::TokenMalformed => "token_malformed",
            Self::TokenEncrypted => "token_encrypted",
            Self::TokenUndecryptable => "token_undecryptable",
            Self::DecryptionThrottled => "decryption_throttled",
            Self::EncryptionRequired => "encryption_required",
            Self::AlgNone => "alg_none",
            Self::AlgUnsupported => "alg_unsupported",
            Self::AlgKeyMismatch => "alg_key_mismatch",
            Self::CritUnsupported => "crit_unsupported",
            Self::TypMismatch => "typ_mismatch",
            Self::KidUnknown => "kid_unknown",
            Self::NoKeys => "no_keys",
            Self::SignatureInvalid => "signature_invalid",
            Self::TokenExpired => "token_expired",
            Self::TokenNotYetValid => "token_not_yet_valid",
            Self::IssuedInFuture => "issued_in_future",
            Self::LifetimeTooLong => "lifetime_too_long",
            Self::IssuerMismatch => "issuer_mismatch",
            Self::AudienceMismatch => "audience_mismatch",
            Self::ClaimMissing => "claim_missing",
            Self::ClaimMismatch => "claim_mismatch",
            Self::PathInvalid => "path_invalid",
            Self::HeaderNotRemovable => tollgate_kit::removal::REFUSED_CODE,
        }
    }
}

impl Denial {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for Denial {}
