//! The demo identity provider behind `tollgate run`: it publishes a JWKS on the demo
//! upstream and mints tokens, so the edge verifies real ES256 tokens end to end.
//!
//! The key is the committed test key (host-tests/fixtures/keys): it protects nothing,
//! and a real deployment points jwt-auth at its own issuer instead.

use anyhow::Result;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

pub const ISSUER: &str = "https://demo-idp.tollgate.local";
pub const AUDIENCE: &str = "tollgate-demo";
pub const JWKS_PATH: &str = "/.well-known/jwks.json";
pub const JWKS: &str = include_str!("../../host-tests/fixtures/keys/es256-jwks.json");
const PRIVATE_KEY: &str = include_str!("../../host-tests/fixtures/keys/es256-private.pem");

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

/// An ES256 token for demo user `username`, valid for `ttl_seconds`. Like the HCP
/// backend's tokens it carries the user's HCP credentials; jwt-auth keeps the password
/// out of every header.
pub fn mint(username: &str, ttl_seconds: u64) -> Result<String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let user = tollgate_hcp_demo::demo_users()
        .into_iter()
        .find(|u| u.username == username)
        .ok_or_else(|| anyhow::anyhow!("no demo user {username}"))?;
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("es1".into());
    let claims = json!({"iss": ISSUER, "aud": AUDIENCE, "sub": username,
                        "username": user.username, "password": user.password,
                        "tenant": user.tenant, "iat": now, "exp": now + ttl_seconds});
    Ok(jsonwebtoken::encode(&header, &claims, &signing_key()?)?)
}
