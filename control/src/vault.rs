//! Secrets at rest: AES-256-GCM under a master key that lives outside the database (a
//! file or an environment variable), so a copy of the database alone reveals nothing.
//! Each value is sealed with a fresh 96-bit nonce and bound (as associated data) to
//! where it is stored, so a sealed value moved to another name does not open.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand_core::{OsRng, RngCore};

pub struct MasterKey {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

const NONCE_LEN: usize = 12;

impl MasterKey {
    /// 32 bytes, written as base64 or hex (surrounding whitespace ignored).
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(text).map_err(|e| e.to_string())?
        } else {
            STANDARD
                .decode(text)
                .map_err(|_| "the master key is neither base64 nor hex".to_string())?
        };
        if bytes.len() != 32 {
            return Err(format!(
                "the master key must be 32 bytes (AES-256); it is {}",
                bytes.len()
            ));
        }
        let cipher = Aes256Gcm::new_from_slice(&bytes)
            .map_err(|_| "the master key is unusable".to_string())?;
        Ok(Self { cipher })
    }

    /// A new random key, base64 (what `tollgate-control --init-master-key` writes).
    pub fn generate_text() -> String {
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        STANDARD.encode(bytes)
    }

    /// `nonce || ciphertext+tag`.
    pub fn seal(&self, plaintext: &[u8], bound_to: &str) -> Result<Vec<u8>, String> {
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: bound_to.as_bytes(),
                },
            )
            .map_err(|_| "sealing failed".to_string())?;
        let mut out = nonce.to_vec();
        out.extend(sealed);
        Ok(out)
    }

    pub fn open(&self, sealed: &[u8], bound_to: &str) -> Result<Vec<u8>, String> {
        let (nonce, body) = sealed
            .split_at_checked(NONCE_LEN)
            .ok_or("a sealed value is truncated")?;
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: bound_to.as_bytes(),
                },
            )
            .map_err(|_| {
                "a sealed value does not open: wrong master key, or the value was tampered with"
                    .to_string()
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_where_they_were_sealed() {
        let key = MasterKey::parse(&MasterKey::generate_text()).unwrap();
        let sealed = key.seal(b"hunter2", "p/a/secret/x").unwrap();
        assert!(!sealed.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(key.open(&sealed, "p/a/secret/x").unwrap(), b"hunter2");
        assert!(key.open(&sealed, "p/a/secret/y").is_err());
        let other = MasterKey::parse(&MasterKey::generate_text()).unwrap();
        assert!(other.open(&sealed, "p/a/secret/x").is_err());
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(key.open(&tampered, "p/a/secret/x").is_err());
        assert!(key.open(&sealed[..5], "p/a/secret/x").is_err());
    }

    #[test]
    fn a_master_key_never_prints() {
        let key = MasterKey::parse(&"ab".repeat(32)).unwrap();
        assert_eq!(format!("{key:?}"), "MasterKey(..)");
    }

    #[test]
    fn master_keys_must_be_32_bytes() {
        assert!(MasterKey::parse("c2hvcnQ=").is_err());
        assert!(MasterKey::parse("not base64 !").is_err());
        assert!(MasterKey::parse(&"ab".repeat(32)).is_ok());
    }
}
