//! Keys and signed things for tests.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey, LineEnding};

pub const RSA_PRIVATE: &str = include_str!("../../../testing/fixtures/keys/rsa-private.pem");
pub const HS_SECRET: &str = "a-test-secret-that-is-at-least-32-bytes-long";

pub fn rsa_public_pem() -> String {
    rsa::RsaPrivateKey::from_pkcs8_pem(RSA_PRIVATE)
        .or_else(|_| {
            use rsa::pkcs1::DecodeRsaPrivateKey;
            rsa::RsaPrivateKey::from_pkcs1_pem(RSA_PRIVATE)
        })
        .unwrap()
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap()
}

pub fn sign(alg: Algorithm, kid: Option<&str>, claims: &serde_json::Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_string);
    let key = match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            EncodingKey::from_secret(HS_SECRET.as_bytes())
        }
        _ => EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap(),
    };
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

/// Signs `files` with the test keys, as `opa build --signing-key` does.
pub fn sign_bundle(files: &mut crate::bundle::Files, alg: Algorithm, kid: Option<&str>) {
    let key = match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            EncodingKey::from_secret(HS_SECRET.as_bytes())
        }
        _ => EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap(),
    };
    crate::signature::sign(files, alg, &key, kid).unwrap();
}

pub fn files(list: &[(&str, &str)]) -> crate::bundle::Files {
    crate::bundle::Files(
        list.iter()
            .map(|(p, c)| (p.to_string(), c.as_bytes().to_vec()))
            .collect(),
    )
}

pub fn gunzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read as _;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}
