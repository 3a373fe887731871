//! Unit tests of `alg`.

use super::*;

#[test]
fn none_is_refused_in_every_casing() {
    for name in ["none", "None", "NONE", "nOnE", "noNe"] {
        assert_eq!(Alg::parse(name).unwrap_err().code, Code::AlgNone, "{name}");
    }
}

#[test]
fn names_are_case_sensitive_and_round_trip() {
    for alg in Alg::ALL {
        assert_eq!(Alg::parse(alg.name()).unwrap(), alg);
    }
    assert_eq!(Alg::parse("hs256").unwrap_err().code, Code::AlgUnsupported);
    assert_eq!(Alg::parse("ES512").unwrap(), Alg::ES512);
    assert_eq!(Alg::ES512.key_kind(), KeyKind::P521);
    assert_eq!(Alg::parse("ES256K").unwrap_err().code, Code::AlgUnsupported);
}

#[test]
fn hmac_secrets_are_at_least_the_hash_size() {
    assert_eq!(Alg::HS256.min_secret_bytes(), 32);
    assert_eq!(Alg::HS384.min_secret_bytes(), 48);
    assert_eq!(Alg::HS512.min_secret_bytes(), 64);
    assert_eq!(Alg::RS256.min_secret_bytes(), 0);
}
