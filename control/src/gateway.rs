//! What a gateway (or `tollgate-ratelimit`) does with a config it pulls: check the
//! `Tollgate-Signature` the service puts on every resolved config.

use anyhow::{Context as _, Result, bail};
use serde_json::Value;

use crate::client::field;

/// Checks a resolved config's signature: an EdDSA JWS by a key published at
/// `/v1/signing-keys` (`keys`, that document), over the body's SHA-256, naming `filter`.
/// Returns the revision it names.
pub fn verify_resolved(signature: &str, body: &[u8], keys: &Value, filter: &str) -> Result<u64> {
    let kid = jsonwebtoken::decode_header(signature)?
        .kid
        .context("the signature names no key")?;
    let pem = field(keys, "/keys")
        .as_array()
        .and_then(|ks| ks.iter().find(|k| field(k, "/kid") == kid.as_str()))
        .and_then(|k| field(k, "/public_key_pem").as_str())
        .context("the signature's key is not published")?;
    let key = jsonwebtoken::DecodingKey::from_ed_pem(pem.as_bytes())?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    let claims = jsonwebtoken::decode::<Value>(signature, &key, &validation)?.claims;
    let digest = crate::docs::digest(body);
    if field(&claims, "/sha256") != digest.as_str() || field(&claims, "/filter") != filter {
        bail!("the {filter} config does not match its signature");
    }
    field(&claims, "/revision")
        .as_u64()
        .context("the signature names no revision")
}
