//! jwt-auth: verifies JWTs at the edge.
//!
//! Split by concern, as Envoy's `jwt_authn` is:
//! * [`extract`]: finds the token in a header, query parameter or cookie, and strips it;
//! * [`token`]: parses a compact JWS strictly (sizes, base64url, JSON objects, header rules);
//! * [`alg`]: the algorithms, each bound to one key type; `none` is never accepted;
//! * [`jwks`]: keys from a JWKS document or PEM;
//! * [`verify`]: picks candidate keys for a token and checks its signature;
//! * [`claims`]: `exp`/`nbf`/`iat` with clock skew, lifetime, issuer, audience, claim rules;
//! * [`requirement`]: Envoy's `requires_any` / `requires_all` / `allow_missing` trees;
//! * [`config`]: the documented configuration and its compiled form;
//! * [`decide`]: the whole per-request decision over plain data;
//! * [`denial`]: why a token was refused, as a stable code and a message that never
//!   contains the token.
//!
//! * [`remote`], [`jwks_fetch`]: when and how remote JWKS are fetched and shared;
//!   [`waiting`]: requests held for keys, and when each is decided again;
//! * [`jwe`]: encrypted tokens; [`token_cache`]: verified tokens by SHA-256;
//! * [`filter`]: the thin proxy-wasm glue, over the kit's `Host` trait; [`metrics`].
//!
//! Everything but the glue is plain functions over plain data.

pub mod alg;
pub mod claims;
pub mod config;
pub mod decide;
pub mod denial;
pub mod extract;
pub mod filter;
pub mod jwe;
pub mod jwks;
pub mod jwks_fetch;
pub mod metrics;
pub mod remote;
pub mod requirement;
pub mod token;
pub mod token_cache;
pub mod verify;
pub mod waiting;

pub use alg::Alg;
pub use denial::Denial;
pub use filter::JwtAuthRoot;

#[cfg(feature = "export")]
tollgate_kit::export_filter!(JwtAuthRoot::default());
