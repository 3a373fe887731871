//! Ed25519 key rings: one signs what gateways receive (bundles in OPA's
//! `.signatures.json` format, resolved configs), one signs session tokens. Private keys
//! are sealed under the master key. Rotation makes a new current key; the previous ones
//! stay valid (published, accepted) for a grace period, then drop out.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{EncodePrivateKey, EncodePublicKey};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use rand_core::OsRng;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::audit::{Event, Outcome};
use crate::error::{ApiError, ApiResult};
use crate::ledger::{self, CommitError};
use crate::store::{Compare, Op, SharedStore};
use crate::vault::MasterKey;

/// What a ring signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ring {
    Distribution,
    Session,
}

impl Ring {
    pub fn name(self) -> &'static str {
        match self {
            Ring::Distribution => "distribution",
            Ring::Session => "session",
        }
    }

    fn key(self) -> String {
        format!("keys/{}", self.name())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredKey {
    pub kid: String,
    pub created: u64,
    /// When it stopped being current; it verifies until `retired + grace`.
    #[serde(default)]
    pub retired: Option<u64>,
    pub public_pem: String,
    /// The PKCS#8 private key, sealed (base64).
    pub sealed_private: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StoredRing {
    /// Newest last; the last is current.
    pub keys: Vec<StoredKey>,
}

/// A ring opened for use.
pub struct Signer {
    pub kid: String,
    pub encoding: EncodingKey,
    pub public_pem: String,
}

fn new_key(master: &MasterKey, ring: Ring, now: u64) -> Result<StoredKey, String> {
    let key = SigningKey::generate(&mut OsRng);
    let public_pem = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| e.to_string())?;
    let der = key.to_pkcs8_der().map_err(|e| e.to_string())?;
    let public_raw = key.verifying_key().to_bytes();
    let kid = format!(
        "{}-{}",
        ring.name(),
        URL_SAFE_NO_PAD.encode(sha2_prefix(&public_raw))
    );
    let sealed = master.seal(der.as_bytes(), &format!("{}/{kid}", ring.key()))?;
    Ok(StoredKey {
        kid,
        created: now,
        retired: None,
        public_pem,
        sealed_private: URL_SAFE_NO_PAD.encode(sealed),
    })
}

fn sha2_prefix(bytes: &[u8]) -> Vec<u8> {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes)
        .iter()
        .take(9)
        .copied()
        .collect()
}

async fn load(store: &SharedStore, ring: Ring) -> ApiResult<(StoredRing, u64)> {
    Ok(crate::records::get(store, &ring.key())
        .await?
        .unwrap_or_default())
}

/// Adds a new current key (the first, or a rotation); recorded in the audit log.
pub async fn rotate(
    store: &SharedStore,
    master: &MasterKey,
    ring: Ring,
    actor: &str,
    only_if_empty: bool,
) -> ApiResult<StoredKey> {
    for _ in 0..8 {
        let (mut stored, version) = load(store, ring).await?;
        if only_if_empty && let Some(k) = stored.keys.last() {
            return Ok(k.clone());
        }
        let now = ledger::now_unix();
        if let Some(last) = stored.keys.last_mut() {
            last.retired.get_or_insert(now);
        }
        let key = new_key(master, ring, now).map_err(ApiError::internal)?;
        stored.keys.push(key.clone());
        let value = serde_json::to_vec(&stored).map_err(ApiError::internal)?;
        let event = Event {
            actor: actor.into(),
            action: "signing_key.rotate".into(),
            target: ring.key(),
            outcome: Outcome::Applied,
            detail: json!({ "kid": key.kid }),
        };
        let guard = [Compare {
            key: ring.key(),
            version,
        }];
        let ops = [Op::Put {
            key: ring.key(),
            value,
        }];
        match ledger::commit(store, &guard, &ops, &event).await {
            Ok(_) => return Ok(key),
            Err(CommitError::Conflict) => continue,
            Err(CommitError::Store(e)) => return Err(e.into()),
        }
    }
    Err(ApiError::internal(
        "signing keys changed too often to rotate",
    ))
}

/// The current key, made on first use.
pub async fn signer(store: &SharedStore, master: &MasterKey, ring: Ring) -> ApiResult<Signer> {
    let (stored, _) = load(store, ring).await?;
    let key = match stored.keys.last() {
        Some(k) => k.clone(),
        None => rotate(store, master, ring, "tollgate-control", true).await?,
    };
    let sealed = URL_SAFE_NO_PAD
        .decode(&key.sealed_private)
        .map_err(ApiError::internal)?;
    let der = master
        .open(&sealed, &format!("{}/{}", ring.key(), key.kid))
        .map_err(ApiError::internal)?;
    Ok(Signer {
        kid: key.kid,
        encoding: EncodingKey::from_ed_der(&der),
        public_pem: key.public_pem,
    })
}

/// Keys that verify now: the current one and those retired less than `grace` ago.
pub async fn verifying_keys(
    store: &SharedStore,
    ring: Ring,
    grace_seconds: u64,
) -> ApiResult<Vec<StoredKey>> {
    let (stored, _) = load(store, ring).await?;
    let now = ledger::now_unix();
    Ok(stored
        .keys
        .into_iter()
        .filter(|k| {
            k.retired
                .is_none_or(|r| r.saturating_add(grace_seconds) > now)
        })
        .collect())
}

/// The public form: kid, PEM, and a JWK.
pub fn public(key: &StoredKey, grace_seconds: u64) -> Value {
    use ed25519_dalek::pkcs8::DecodePublicKey;
    let x = ed25519_dalek::VerifyingKey::from_public_key_pem(&key.public_pem)
        .map(|k| URL_SAFE_NO_PAD.encode(k.to_bytes()))
        .unwrap_or_default();
    json!({
        "kid": key.kid,
        "algorithm": "EdDSA",
        "public_key_pem": key.public_pem,
        "jwk": {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": key.kid, "alg": "EdDSA", "use": "sig"},
        "current": key.retired.is_none(),
        "valid_until": key.retired.map(|r| r.saturating_add(grace_seconds)),
    })
}

/// A JWS (compact) over `claims`, by the ring's current key.
pub fn sign_claims(signer: &Signer, claims: &Value) -> ApiResult<String> {
    let mut header = jsonwebtoken::Header::new(Algorithm::EdDSA);
    header.kid = Some(signer.kid.clone());
    jsonwebtoken::encode(&header, claims, &signer.encoding).map_err(ApiError::internal)
}

/// Verifies a compact JWS made by one of `keys`; returns its claims.
pub fn verify_claims<T: serde::de::DeserializeOwned>(
    token: &str,
    keys: &[StoredKey],
    validation: &jsonwebtoken::Validation,
) -> Result<T, String> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
    if header.alg != Algorithm::EdDSA {
        return Err("not an EdDSA token".into());
    }
    let kid = header.kid.ok_or("the token names no key")?;
    let key = keys
        .iter()
        .find(|k| k.kid == kid)
        .ok_or("the token's key is unknown or expired")?;
    let decoding =
        DecodingKey::from_ed_pem(key.public_pem.as_bytes()).map_err(|e| e.to_string())?;
    jsonwebtoken::decode::<T>(token, &decoding, validation)
        .map(|d| d.claims)
        .map_err(|e| e.to_string())
}
