//! Test tokens: HS256 with a shared secret, ES256 with the committed test key
//! (testing/fixtures/keys), and `dir`/A256GCM encrypted tokens wrapping them.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use anyhow::{Context, Result, anyhow};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::Value;

use tollgate_envoy_harness::repo_root;

/// The HMAC secret behind [`HS_JWKS`].
pub const HS_SECRET: &[u8] = b"tollgate-test-secret-0123456789ab";

/// The HS512 test secret: 64 bytes, as RFC 7518 §3.2 requires for HS512.
pub const HS512_SECRET: &[u8; 64] =
    b"tollgate-test-secret-for-hs512-that-is-sixty-four-bytes-long-ok!";

/// A JWKS holding [`HS_SECRET`] as kid `hs1`.
pub fn hs_jwks() -> Value {
    serde_json::json!({"keys": [{"kty": "oct", "kid": "hs1", "alg": "HS256",
        "k": URL_SAFE_NO_PAD.encode(HS_SECRET)}]})
}

pub fn hs256(claims: &Value) -> Result<String> {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("hs1".into());
    Ok(jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_secret(HS_SECRET),
    )?)
}

fn key_file(name: &str) -> Result<String> {
    let path = repo_root().join("testing/fixtures/keys").join(name);
    std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
}

/// The ES256 test key's public JWKS (kid `es1`).
pub fn es_jwks() -> Result<Value> {
    Ok(serde_json::from_str(&key_file("es256-jwks.json")?)?)
}

pub fn es256(claims: &Value) -> Result<String> {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("es1".into());
    let key = EncodingKey::from_ec_pem(key_file("es256-private.pem")?.as_bytes())?;
    Ok(jsonwebtoken::encode(&header, claims, &key)?)
}

/// Wraps a signed token in a compact JWE (`dir`, `A256GCM`) under `key` (32 bytes).
pub fn encrypt_dir(inner: &str, key: &[u8], iv: [u8; 12]) -> Result<String> {
    seal(
        r#"{"alg":"dir","enc":"A256GCM","cty":"JWT"}"#,
        key,
        &[],
        inner,
        iv,
    )
}

/// Wraps a signed token in a compact JWE (`RSA-OAEP-256`, `A256GCM`) for the test RSA
/// key (`rsa-private.pem`), with a random content key.
pub fn encrypt_rsa(inner: &str) -> Result<String> {
    use rand_core::{OsRng, RngCore};
    use rsa::pkcs8::DecodePrivateKey;
    let private = rsa::RsaPrivateKey::from_pkcs8_pem(&key_file("rsa-private.pem")?)?;
    let mut cek = [0u8; 32];
    OsRng.fill_bytes(&mut cek);
    let mut iv = [0u8; 12];
    OsRng.fill_bytes(&mut iv);
    let wrapped = rsa::RsaPublicKey::from(&private).encrypt(
        &mut OsRng,
        rsa::Oaep::new::<sha2::Sha256>(),
        &cek,
    )?;
    seal(
        r#"{"alg":"RSA-OAEP-256","enc":"A256GCM","cty":"JWT"}"#,
        &cek,
        &wrapped,
        inner,
        iv,
    )
}

/// The X25519 test recipient key (it protects nothing).
const X25519_TEST_SECRET: [u8; 32] = [0x42; 32];

/// The X25519 test key as a private JWK, for a provider's `decryption.ecdh_es`.
pub fn ecdh_private_jwk() -> Value {
    let secret = x25519_dalek::StaticSecret::from(X25519_TEST_SECRET);
    let public = x25519_dalek::PublicKey::from(&secret);
    serde_json::json!({"kty": "OKP", "crv": "X25519",
        "d": URL_SAFE_NO_PAD.encode(secret.as_bytes()),
        "x": URL_SAFE_NO_PAD.encode(public.as_bytes())})
}

/// Wraps a signed token in a compact JWE (`ECDH-ES+A256KW`, `A256GCM`) for the X25519
/// test key: what an issuer that shares no secret with the edge sends.
pub fn encrypt_ecdh(inner: &str) -> Result<String> {
    use rand_core::{OsRng, RngCore};
    let recipient =
        x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(X25519_TEST_SECRET));
    let ephemeral = x25519_dalek::StaticSecret::random_from_rng(OsRng);
    let epk = x25519_dalek::PublicKey::from(&ephemeral);
    let z = ephemeral.diffie_hellman(&recipient);
    let kek = tollgate_jwt_auth::jwe::concat_kdf(z.as_bytes(), "ECDH-ES+A256KW", b"", b"", 32);
    let mut cek = [0u8; 32];
    OsRng.fill_bytes(&mut cek);
    let mut iv = [0u8; 12];
    OsRng.fill_bytes(&mut iv);
    let wrapped = aes_kw::KekAes256::try_from(kek.as_slice())
        .map_err(|_| anyhow!("bad key-encryption key"))?
        .wrap_vec(&cek)
        .map_err(|_| anyhow!("key wrap failed"))?;
    let header = format!(
        r#"{{"alg":"ECDH-ES+A256KW","enc":"A256GCM","cty":"JWT","epk":{{"kty":"OKP","crv":"X25519","x":"{}"}}}}"#,
        URL_SAFE_NO_PAD.encode(epk.as_bytes())
    );
    seal(&header, &cek, &wrapped, inner, iv)
}

/// The RSA test key as PKCS#8 PEM, for a provider's `decryption`.
pub fn rsa_private_pem() -> Result<String> {
    key_file("rsa-private.pem")
}

fn seal(header: &str, key: &[u8], wrapped: &[u8], inner: &str, iv: [u8; 12]) -> Result<String> {
    let header = URL_SAFE_NO_PAD.encode(header.as_bytes());
    let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| anyhow!("key must be 32 bytes"))?;
    let sealed = cipher
        .encrypt(
            Nonce::from_slice(&iv),
            Payload {
                msg: inner.as_bytes(),
                aad: header.as_bytes(),
            },
        )
        .map_err(|_| anyhow!("encryption failed"))?;
    let split = sealed.len().saturating_sub(16);
    let (ct, tag) = sealed.split_at(split);
    Ok(format!(
        "{header}.{}.{}.{}.{}",
        URL_SAFE_NO_PAD.encode(wrapped),
        URL_SAFE_NO_PAD.encode(iv),
        URL_SAFE_NO_PAD.encode(ct),
        URL_SAFE_NO_PAD.encode(tag)
    ))
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The algorithms the benchmarks and tests sign with, by JOSE name.
pub const ALGS: [&str; 8] = [
    "HS256", "RS256", "PS256", "ES256", "ES384", "ES512", "EdDSA", "HS512",
];

/// A JWKS with every test key: the ES/RS/Ed keys of `all-jwks.json` plus the HMAC key.
pub fn every_jwks() -> Result<Value> {
    let mut jwks: Value = serde_json::from_str(&key_file("all-jwks.json")?)?;
    let hs = URL_SAFE_NO_PAD.encode(HS_SECRET);
    if let Some(keys) = jwks.get_mut("keys").and_then(Value::as_array_mut) {
        keys.push(serde_json::json!({"kty": "oct", "kid": "hs1", "alg": "HS256", "k": hs}));
        let hs512 = URL_SAFE_NO_PAD.encode(HS512_SECRET);
        keys.push(serde_json::json!({"kty": "oct", "kid": "hs512", "alg": "HS512", "k": hs512}));
    }
    Ok(jwks)
}

/// Signs `claims` with `alg` (one of [`ALGS`]) and the matching test key.
pub fn sign(alg: &str, claims: &Value) -> Result<String> {
    if alg == "ES512" {
        return es512(claims);
    }
    let (algorithm, kid, key) = match alg {
        "HS256" => (Algorithm::HS256, "hs1", EncodingKey::from_secret(HS_SECRET)),
        "HS512" => (
            Algorithm::HS512,
            "hs512",
            EncodingKey::from_secret(HS512_SECRET),
        ),
        "RS256" | "PS256" => {
            let key = EncodingKey::from_rsa_pem(key_file("rsa-private.pem")?.as_bytes())?;
            let a = if alg == "RS256" {
                Algorithm::RS256
            } else {
                Algorithm::PS256
            };
            (a, "rs1", key)
        }
        "ES256" => (
            Algorithm::ES256,
            "es1",
            EncodingKey::from_ec_pem(key_file("es256-private.pem")?.as_bytes())?,
        ),
        "ES384" => (
            Algorithm::ES384,
            "es384",
            EncodingKey::from_ec_pem(key_file("es384-private.pem")?.as_bytes())?,
        ),
        "EdDSA" => (
            Algorithm::EdDSA,
            "ed1",
            EncodingKey::from_ed_pem(key_file("ed25519-private.pem")?.as_bytes())?,
        ),
        other => return Err(anyhow!("no test key for {other}")),
    };
    let mut header = Header::new(algorithm);
    header.kid = Some(kid.into());
    Ok(jsonwebtoken::encode(&header, claims, &key)?)
}

/// An ES512 token (P-521, kid `es512`), signed with RustCrypto's `p521`.
pub fn es512(claims: &Value) -> Result<String> {
    use p521::ecdsa::signature::Signer as _;
    use p521::pkcs8::DecodePrivateKey as _;
    let secret = p521::SecretKey::from_pkcs8_pem(&key_file("es512-private.pem")?)
        .map_err(|e| anyhow!("es512 key: {e}"))?;
    let key = p521::ecdsa::SigningKey::from_bytes(&secret.to_bytes())
        .map_err(|e| anyhow!("es512 key: {e}"))?;
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"ES512","kid":"es512","typ":"JWT"}"#);
    let input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(claims.to_string()));
    let signature: p521::ecdsa::Signature = key.sign(input.as_bytes());
    Ok(format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(signature.to_bytes())
    ))
}
