//! The demo identity provider behind `tollgate run`: it publishes a JWKS on the demo
//! upstream and mints tokens, so the edge verifies real ES256 tokens end to end.
//! Like the HCP backend's tokens they carry the user's password, so they are sealed
//! the recommended way (a `dir` JWE, A256GCM): a plain signed token would show the
//! password to anyone who can read it, which is what encrypted tokens exist to stop.
//!
//! The keys are committed demo keys (testing/fixtures/keys and [`JWE_KEY`]): they
//! protect nothing, and a real deployment points jwt-auth at its own issuer instead.

use anyhow::Result;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

pub const ISSUER: &str = "https://demo-idp.tollgate.local";
pub const AUDIENCE: &str = "tollgate-demo";
pub const JWKS_PATH: &str = "/.well-known/jwks.json";
pub const JWKS: &str = include_str!("../../../testing/fixtures/keys/es256-jwks.json");
const PRIVATE_KEY: &str = include_str!("../../../testing/fixtures/keys/es256-private.pem");
/// The demo's shared content key for `dir` JWEs (not a secret: committed).
pub const JWE_KEY: &[u8; 32] = b"tollgate-demo-dir-key-not-secret";

pub fn signing_key() -> Result<EncodingKey> {
    Ok(EncodingKey::from_ec_pem(PRIVATE_KEY.as_bytes())?)
}

/// The demo user the main job's token is for (tenant `acme`).
pub fn demo_user() -> Result<tollgate_hcp_demo::User> {
    tollgate_hcp_demo::demo_users()
        .into_iter()
        .find(|u| u.username == "alice")
        .ok_or_else(|| anyhow::anyhow!("the demo HCP has no user alice"))
}

/// A token for demo user `username`, valid for `ttl_seconds`: ES256-signed claims with
/// the user's HCP credentials, sealed in a `dir` JWE. jwt-auth decrypts it and keeps the
/// password out of every header.
pub fn mint(username: &str, ttl_seconds: u64) -> Result<String> {
    let signed = mint_signed(username, ttl_seconds)?;
    tollgate_jwt_auth::jwe::encrypt_dir(&signed, JWE_KEY).map_err(anyhow::Error::msg)
}

/// The signed token alone (the edge refuses it: the demo provider requires encryption).
pub fn mint_signed(username: &str, ttl_seconds: u64) -> Result<String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let user = tollgate_hcp_demo::demo_users()
        .into_iter()
        .find(|u| u.username == username)
        .ok_or_else(|| anyhow::anyhow!("no demo user {username}"))?;
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("es1".into());
    // HCP's role names, for the policy rego-authz runs (policies/hcp).
    let roles: Vec<&str> = user.roles.iter().map(|r| r.hcp_name()).collect();
    let claims = json!({"iss": ISSUER, "aud": AUDIENCE, "sub": username,
                        "username": user.username, "password": user.password,
                        "tenant": user.tenant, "roles": roles,
                        "iat": now, "exp": now + ttl_seconds});
    Ok(jsonwebtoken::encode(&header, &claims, &signing_key()?)?)
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    #[test]
    fn the_embedded_config_keeps_the_demo_jwe_key_in_a_secret() {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(super::JWE_KEY);
        let config = crate::edge::config_of("jwt-auth").unwrap();
        assert!(!config.contains(&b64));
        assert!(
            config.contains("\"secret\": \"demo-jwe-key\"")
                && config.contains("\"require_encryption\": true")
        );
    }

    #[test]
    fn minted_tokens_are_encrypted_and_hide_the_password() {
        let token = super::mint("alice", 60).unwrap();
        assert_eq!(token.matches('.').count(), 4, "a compact JWE");
        let user = super::demo_user().unwrap();
        assert!(!token.contains(&user.password));
        for part in token.split('.') {
            let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part)
                .unwrap_or_default();
            assert!(!String::from_utf8_lossy(&bytes).contains(&user.password));
        }
    }
}
