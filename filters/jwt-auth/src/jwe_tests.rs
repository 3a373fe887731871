use super::*;
use rsa::RsaPublicKey;
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use std::sync::OnceLock;

const INNER: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Builds a compact JWE the way an issuer would, independently of `decrypt`.
pub(crate) fn seal(header: &str, cek: &[u8], wrapped: &[u8], plaintext: &[u8]) -> String {
    let header_b64 = b64(header.as_bytes());
    let iv = [7u8; 12];
    let payload = Payload {
        msg: plaintext,
        aad: header_b64.as_bytes(),
    };
    let sealed = match cek.len() {
        16 => Aes128Gcm::new_from_slice(cek)
            .unwrap()
            .encrypt(Nonce::from_slice(&iv), payload),
        _ => Aes256Gcm::new_from_slice(cek)
            .unwrap()
            .encrypt(Nonce::from_slice(&iv), payload),
    }
    .unwrap();
    let (ct, tag) = sealed.split_at(sealed.len() - 16);
    format!(
        "{header_b64}.{}.{}.{}.{}",
        b64(wrapped),
        b64(&iv),
        b64(ct),
        b64(tag)
    )
}

fn rsa_key() -> &'static RsaPrivateKey {
    static KEY: OnceLock<RsaPrivateKey> = OnceLock::new();
    KEY.get_or_init(|| RsaPrivateKey::new(&mut OsRng, 2048).unwrap())
}

fn rsa_seal(cek: &[u8], plaintext: &[u8]) -> String {
    let public = RsaPublicKey::from(rsa_key());
    let wrapped = public
        .encrypt(&mut OsRng, Oaep::new::<sha2::Sha256>(), cek)
        .unwrap();
    seal(
        r#"{"alg":"RSA-OAEP-256","enc":"A256GCM","cty":"JWT"}"#,
        cek,
        &wrapped,
        plaintext,
    )
}

fn dir_key() -> (Vec<u8>, Decryptor) {
    let key = vec![42u8; 32];
    let d = Decryptor::direct(&b64(&key)).unwrap();
    (key, d)
}

#[test]
fn dir_a256gcm_round_trip() {
    let (key, d) = dir_key();
    let jwe = seal(
        r#"{"alg":"dir","enc":"A256GCM","cty":"JWT"}"#,
        &key,
        &[],
        INNER.as_bytes(),
    );
    assert!(is_jwe(&jwe));
    assert_eq!(decrypt(&jwe, &d).unwrap(), INNER);
}

#[test]
fn dir_a128gcm_needs_a_16_byte_key() {
    let key = vec![9u8; 16];
    let jwe = seal(
        r#"{"alg":"dir","enc":"A128GCM"}"#,
        &key,
        &[],
        INNER.as_bytes(),
    );
    let d = Decryptor::direct(&b64(&key)).unwrap();
    assert_eq!(decrypt(&jwe, &d).unwrap(), INNER);
    let (_, d256) = dir_key();
    assert_eq!(
        decrypt(&jwe, &d256).unwrap_err().code,
        Code::TokenUndecryptable
    );
}

#[test]
fn rsa_oaep_256_round_trip_from_pem() {
    let pem = rsa_key().to_pkcs8_pem(LineEnding::LF).unwrap();
    let d = Decryptor::rsa_pem(&pem).unwrap();
    let jwe = rsa_seal(&[5u8; 32], INNER.as_bytes());
    assert_eq!(decrypt(&jwe, &d).unwrap(), INNER);
    assert_eq!(
        format!("{d:?}"),
        "RsaOaep256(..)",
        "no key material in Debug"
    );
}

/// A valid `dir` + A256GCM token of [`INNER`] split into its five segments, and its key.
fn dir_segments() -> (Vec<String>, Decryptor) {
    let (key, d) = dir_key();
    let jwe = seal(
        r#"{"alg":"dir","enc":"A256GCM"}"#,
        &key,
        &[],
        INNER.as_bytes(),
    );
    (jwe.split('.').map(String::from).collect(), d)
}

#[test]
fn tampering_anywhere_fails_the_same_way() {
    let (parts, d) = dir_segments();
    // Header (AAD), IV, ciphertext and tag are all covered.
    let other_header = b64(br#"{"alg":"dir","enc":"A256GCM","x":1}"#);
    let flipped = |s: &str| {
        let mut bytes = URL_SAFE_NO_PAD.decode(s).unwrap();
        bytes[0] ^= 1;
        b64(&bytes)
    };
    for i in [0usize, 2, 3, 4] {
        let mut p = parts.clone();
        p[i] = if i == 0 {
            other_header.clone()
        } else {
            flipped(&p[i])
        };
        let err = decrypt(&p.join("."), &d).unwrap_err();
        assert_eq!(err.code, Code::TokenUndecryptable, "segment {i}");
    }
    // A wrong RSA key: same error, no hint that the key unwrap failed.
    let other = Decryptor::RsaOaep256(Box::new(RsaPrivateKey::new(&mut OsRng, 1024).unwrap()));
    let err = decrypt(&rsa_seal(&[5u8; 32], INNER.as_bytes()), &other).unwrap_err();
    assert_eq!(err.code, Code::TokenUndecryptable);
}

#[test]
fn refused_forms() {
    let (key, d) = dir_key();
    let cases = [
        (
            r#"{"alg":"dir","enc":"A256CBC-HS512"}"#,
            Code::AlgUnsupported,
        ),
        (r#"{"alg":"A256KW","enc":"A256GCM"}"#, Code::AlgUnsupported),
        (
            r#"{"alg":"RSA-OAEP-256","enc":"A256GCM"}"#,
            Code::AlgKeyMismatch,
        ),
        (
            r#"{"alg":"dir","enc":"A256GCM","zip":"DEF"}"#,
            Code::AlgUnsupported,
        ),
        (
            r#"{"alg":"dir","enc":"A256GCM","crit":["exp"],"exp":1}"#,
            Code::CritUnsupported,
        ),
    ];
    for (header, code) in cases {
        let jwe = seal(header, &key, &[], INNER.as_bytes());
        assert_eq!(decrypt(&jwe, &d).unwrap_err().code, code, "{header}");
    }
    // The plaintext must be a signed token, not bare claims.
    let bare = seal(
        r#"{"alg":"dir","enc":"A256GCM"}"#,
        &key,
        &[],
        br#"{"sub":"alice"}"#,
    );
    assert_eq!(decrypt(&bare, &d).unwrap_err().code, Code::TokenMalformed);
    // dir with an encrypted key segment is not dir.
    let wrapped = seal(
        r#"{"alg":"dir","enc":"A256GCM"}"#,
        &key,
        b"x",
        INNER.as_bytes(),
    );
    assert_eq!(
        decrypt(&wrapped, &d).unwrap_err().code,
        Code::TokenUndecryptable
    );
    for garbage in ["a.b.c.d.e", "....", "!!.a.b.c.d", "e30.a.b.c"] {
        assert!(decrypt(garbage, &d).is_err(), "{garbage}");
    }
}

#[test]
fn bad_keys_in_config() {
    assert!(
        Decryptor::direct("c2hvcnQ")
            .unwrap_err()
            .contains("16 or 32")
    );
    assert!(Decryptor::direct("not base64!").is_err());
    assert!(
        Decryptor::rsa_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----").is_err()
    );
}

#[test]
fn wrong_iv_or_tag_lengths_are_undecryptable_not_a_panic() {
    let (parts, d) = dir_segments();
    // IV (segment 2) must be 12 bytes and the tag (segment 4) 16 bytes.
    for (i, len) in [(2usize, 0usize), (2, 11), (2, 16), (4, 0), (4, 12), (4, 32)] {
        let mut p = parts.clone();
        p[i] = b64(&vec![7u8; len]);
        let err = decrypt(&p.join("."), &d).unwrap_err();
        assert_eq!(
            err.code,
            Code::TokenUndecryptable,
            "segment {i}, {len} bytes"
        );
    }
}
