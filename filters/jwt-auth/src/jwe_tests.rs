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
    assert_eq!(decrypt(&jwe, &d, 0.0).unwrap(), INNER);
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
    assert_eq!(decrypt(&jwe, &d, 0.0).unwrap(), INNER);
    let (_, d256) = dir_key();
    assert_eq!(
        decrypt(&jwe, &d256, 0.0).unwrap_err().code,
        Code::TokenUndecryptable
    );
}

#[test]
fn rsa_oaep_256_round_trip_from_pem() {
    let pem = rsa_key().to_pkcs8_pem(LineEnding::LF).unwrap();
    let d = Decryptor::rsa_pem(&pem, 10).unwrap();
    let jwe = rsa_seal(&[5u8; 32], INNER.as_bytes());
    assert_eq!(decrypt(&jwe, &d, 0.0).unwrap(), INNER);
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
        let err = decrypt(&p.join("."), &d, 0.0).unwrap_err();
        assert_eq!(err.code, Code::TokenUndecryptable, "segment {i}");
    }
    // A wrong RSA key: same error, no hint that the key unwrap failed.
    let other = Decryptor::RsaOaep256(
        Box::new(RsaPrivateKey::new(&mut OsRng, 1024).unwrap()),
        RsaBudget::new(10),
    );
    let err = decrypt(&rsa_seal(&[5u8; 32], INNER.as_bytes()), &other, 0.0).unwrap_err();
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
        assert_eq!(decrypt(&jwe, &d, 0.0).unwrap_err().code, code, "{header}");
    }
    // The plaintext must be a signed token, not bare claims.
    let bare = seal(
        r#"{"alg":"dir","enc":"A256GCM"}"#,
        &key,
        &[],
        br#"{"sub":"alice"}"#,
    );
    assert_eq!(
        decrypt(&bare, &d, 0.0).unwrap_err().code,
        Code::TokenMalformed
    );
    // dir with an encrypted key segment is not dir.
    let wrapped = seal(
        r#"{"alg":"dir","enc":"A256GCM"}"#,
        &key,
        b"x",
        INNER.as_bytes(),
    );
    assert_eq!(
        decrypt(&wrapped, &d, 0.0).unwrap_err().code,
        Code::TokenUndecryptable
    );
    for garbage in ["a.b.c.d.e", "....", "!!.a.b.c.d", "e30.a.b.c"] {
        assert!(decrypt(garbage, &d, 0.0).is_err(), "{garbage}");
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
        Decryptor::rsa_pem(
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
            10
        )
        .is_err()
    );
}

#[test]
fn wrong_iv_or_tag_lengths_are_undecryptable_not_a_panic() {
    let (parts, d) = dir_segments();
    // IV (segment 2) must be 12 bytes and the tag (segment 4) 16 bytes.
    for (i, len) in [(2usize, 0usize), (2, 11), (2, 16), (4, 0), (4, 12), (4, 32)] {
        let mut p = parts.clone();
        p[i] = b64(&vec![7u8; len]);
        let err = decrypt(&p.join("."), &d, 0.0).unwrap_err();
        assert_eq!(
            err.code,
            Code::TokenUndecryptable,
            "segment {i}, {len} bytes"
        );
    }
}

/// RFC 7518 Appendix C: ECDH-ES on P-256 with apu "Alice" and apv "Bob" derives this
/// A128GCM key. Exercises the key agreement and the Concat KDF against the RFC.
#[test]
fn rfc7518_appendix_c_ecdh_es_key_agreement() {
    let bob = serde_json::json!({"kty": "EC", "crv": "P-256",
        "x": "weNJy2HscCSM6AEDTDg04biOvhFhyyWvOHQfeF_PxMQ",
        "y": "e8lnCO-AlStT-NJVX-crhB7QRYhiix03illJOVAOyck",
        "d": "VEmDZpDXXK8p8N0Cndsxs924q6nS1RXFASRl6BfUqdw"});
    let Decryptor::Ecdh(key) = Decryptor::ecdh_jwk(bob.as_object().unwrap()).unwrap() else {
        panic!("not an ECDH key");
    };
    let epk = serde_json::json!({"kty": "EC", "crv": "P-256",
        "x": "gI0GAILBdu7T53akrFmMyGcsF3n5dO7MmwNBHKW5SV0",
        "y": "SLW_xSffzlPWrHEVI30DHM_4egVwt3NQqeUD7nMFpps"});
    let z = shared_secret(epk.as_object().unwrap(), &key).unwrap();
    let derived = concat_kdf(&z, "A128GCM", b"Alice", b"Bob", 16);
    assert_eq!(b64(&derived), "VqqN6vgjbSBcIijNcacQGg");
}

/// An issuer's side of ECDH-ES, for the round trips: ephemeral X25519 key, KDF, and
/// (for `+A256KW`) a random content key wrapped under the derived key.
fn x25519_seal(recipient: &x25519_dalek::PublicKey, alg: &str, plaintext: &[u8]) -> String {
    let ephemeral = x25519_dalek::StaticSecret::random_from_rng(OsRng);
    let epk = x25519_dalek::PublicKey::from(&ephemeral);
    let z = ephemeral.diffie_hellman(recipient);
    let header = format!(
        r#"{{"alg":"{alg}","enc":"A256GCM","apu":"{}","epk":{{"kty":"OKP","crv":"X25519","x":"{}"}}}}"#,
        b64(b"issuer"),
        b64(epk.as_bytes())
    );
    if alg == "ECDH-ES" {
        let cek = concat_kdf(z.as_bytes(), "A256GCM", b"issuer", b"", 32);
        seal(&header, &cek, &[], plaintext)
    } else {
        let kek = concat_kdf(z.as_bytes(), alg, b"issuer", b"", 32);
        let cek = [0x5au8; 32];
        let wrapped = aes_kw::KekAes256::try_from(kek.as_slice())
            .unwrap()
            .wrap_vec(&cek)
            .unwrap();
        seal(&header, &cek, &wrapped, plaintext)
    }
}

fn x25519_decryptor() -> (x25519_dalek::PublicKey, Decryptor) {
    let secret = x25519_dalek::StaticSecret::random_from_rng(OsRng);
    let public = x25519_dalek::PublicKey::from(&secret);
    let jwk = serde_json::json!({"kty": "OKP", "crv": "X25519", "d": b64(secret.as_bytes()),
                                 "x": b64(public.as_bytes())});
    (
        public,
        Decryptor::ecdh_jwk(jwk.as_object().unwrap()).unwrap(),
    )
}

#[test]
fn ecdh_es_x25519_round_trips() {
    let (public, d) = x25519_decryptor();
    for alg in ["ECDH-ES", "ECDH-ES+A256KW"] {
        let jwe = x25519_seal(&public, alg, INNER.as_bytes());
        assert_eq!(decrypt(&jwe, &d, 0.0).unwrap(), INNER, "{alg}");
        // Sealed for another recipient: the same error as any tampering.
        let (other, _) = x25519_decryptor();
        let err = decrypt(&x25519_seal(&other, alg, INNER.as_bytes()), &d, 0.0).unwrap_err();
        assert_eq!(err.code, Code::TokenUndecryptable, "{alg}");
    }
}

#[test]
fn ecdh_es_refuses_bad_ephemeral_keys() {
    let (public, d) = x25519_decryptor();
    let jwe = x25519_seal(&public, "ECDH-ES", INNER.as_bytes());
    let mut parts: Vec<String> = jwe.split('.').map(str::to_string).collect();
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[0]).unwrap()).unwrap();
    let variants = [
        // A small-order point gives an all-zero secret.
        serde_json::json!({"kty": "OKP", "crv": "X25519", "x": b64(&[0u8; 32])}),
        serde_json::json!({"kty": "OKP", "crv": "X25519", "x": b64(&[1u8; 31])}),
        serde_json::json!({"kty": "EC", "crv": "P-256", "x": b64(&[1u8; 32]), "y": b64(&[2u8; 32])}),
        serde_json::json!("not a key"),
    ];
    for epk in variants {
        let mut h = header.clone();
        h["epk"] = epk.clone();
        parts[0] = b64(h.to_string().as_bytes());
        let err = decrypt(&parts.join("."), &d, 0.0).unwrap_err();
        assert_eq!(err.code, Code::TokenUndecryptable, "{epk}");
    }
    // ECDH-ES direct has no encrypted key.
    let mut with_key: Vec<&str> = jwe.split('.').collect();
    with_key[1] = "AAAA";
    let err = decrypt(&with_key.join("."), &d, 0.0).unwrap_err();
    assert_eq!(err.code, Code::TokenUndecryptable);
}

#[test]
fn ecdh_es_p256_with_key_wrap_round_trips() {
    let secret = p256::SecretKey::random(&mut OsRng);
    let public = secret.public_key();
    let d = Decryptor::Ecdh(EcdhKey::P256(secret));
    let ephemeral = p256::SecretKey::random(&mut OsRng);
    let point = p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(
        &ephemeral.public_key(),
        false,
    );
    let z = p256::ecdh::diffie_hellman(ephemeral.to_nonzero_scalar(), public.as_affine());
    let kek = concat_kdf(z.raw_secret_bytes(), "ECDH-ES+A128KW", b"", b"", 16);
    let cek = [0x33u8; 16];
    let wrapped = aes_kw::KekAes128::try_from(kek.as_slice())
        .unwrap()
        .wrap_vec(&cek)
        .unwrap();
    let header = format!(
        r#"{{"alg":"ECDH-ES+A128KW","enc":"A128GCM","epk":{{"kty":"EC","crv":"P-256","x":"{}","y":"{}"}}}}"#,
        b64(point.x().unwrap()),
        b64(point.y().unwrap())
    );
    let jwe = seal(&header, &cek, &wrapped, INNER.as_bytes());
    assert_eq!(decrypt(&jwe, &d, 0.0).unwrap(), INNER);
    // An X25519 ephemeral key for a P-256 recipient is refused.
    let (x_public, _) = x25519_decryptor();
    let wrong = x25519_seal(&x_public, "ECDH-ES", INNER.as_bytes());
    assert_eq!(
        decrypt(&wrong, &d, 0.0).unwrap_err().code,
        Code::TokenUndecryptable
    );
    // An ECDH token for a `dir` provider is a key mismatch.
    let (_, dir) = dir_key();
    assert_eq!(
        decrypt(&jwe, &dir, 0.0).unwrap_err().code,
        Code::AlgKeyMismatch
    );
}

#[test]
fn rsa_decryptions_are_budgeted_per_second() {
    let pem = rsa_key().to_pkcs8_pem(LineEnding::LF).unwrap();
    let d = Decryptor::rsa_pem(&pem, 2).unwrap();
    let jwe = rsa_seal(&[5u8; 32], INNER.as_bytes());
    let t = 1_700_000_000.0;
    assert!(decrypt(&jwe, &d, t).is_ok());
    assert!(decrypt(&jwe, &d, t + 0.1).is_ok());
    assert_eq!(
        decrypt(&jwe, &d, t + 0.2).unwrap_err().code,
        Code::DecryptionThrottled
    );
    // Garbage that claims RSA spends the budget too: that is the attack.
    assert_eq!(
        decrypt(&jwe, &d, t + 0.3).unwrap_err().code,
        Code::DecryptionThrottled
    );
    // Half a second later one decryption (2/s) is available again, and only one.
    assert!(decrypt(&jwe, &d, t + 0.8).is_ok());
    assert_eq!(
        decrypt(&jwe, &d, t + 0.8).unwrap_err().code,
        Code::DecryptionThrottled
    );
    // Time going backwards refills nothing.
    assert_eq!(
        decrypt(&jwe, &d, t).unwrap_err().code,
        Code::DecryptionThrottled
    );
}

#[test]
fn budget_refills_up_to_its_rate() {
    let b = RsaBudget::new(3);
    assert!(b.take(10.0) && b.take(10.0) && b.take(10.0));
    assert!(!b.take(10.0));
    // A long pause refills to the rate, not beyond.
    assert!(b.take(1000.0) && b.take(1000.0) && b.take(1000.0));
    assert!(!b.take(1000.0));
}

#[test]
fn encrypt_dir_round_trips_with_a_fresh_iv() {
    let (key, d) = dir_key();
    let a = encrypt_dir(INNER, &key).unwrap();
    let b = encrypt_dir(INNER, &key).unwrap();
    assert_ne!(a, b, "a fresh IV each time");
    assert_eq!(decrypt(&a, &d, 0.0).unwrap(), INNER);
    assert!(encrypt_dir(INNER, &[1u8; 16]).is_err());
}
