//! The published RFC vectors (tests/vectors/README.md): every algorithm
//! verifies (ES512 too, through `p521`); `none` is refused with its code.

use serde_json::Value;
use tollgate_jwt_auth::denial::Code;
use tollgate_jwt_auth::jwks::KeySet;
use tollgate_jwt_auth::token::{DEFAULT_MAX_BYTES, parse, parse_jws};
use tollgate_jwt_auth::verify::verify;

fn vectors() -> Vec<Value> {
    serde_json::from_str(include_str!("../vectors/jws-rfc-vectors.json")).unwrap()
}

/// The verification side of a JWK: private members dropped, as a JWKS would publish it.
fn public_jwk(jwk: &Value) -> Value {
    let mut jwk = jwk.clone();
    if jwk["kty"] != "oct" {
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            jwk.as_object_mut().unwrap().remove(private);
        }
    }
    jwk
}

#[test]
fn rfc_vectors() {
    let mut checked = 0;
    for v in vectors() {
        let id = v["id"].as_str().unwrap();
        let compact = v["compact"].as_str().unwrap();
        let keys = KeySet::from_jwks(
            serde_json::to_string(&public_jwk(&v["jwk"]))
                .unwrap()
                .as_bytes(),
        );
        // Signature level: RFC 7520's payloads are text, not claims, so verify the JWS.
        let outcome = parse_jws(compact, DEFAULT_MAX_BYTES, &[]).and_then(|t| {
            let keys = keys
                .as_ref()
                .map_err(|e| tollgate_jwt_auth::Denial::new(Code::NoKeys, e.clone()))?;
            verify(&t, keys).map(|_| ())
        });
        match (v["expect"].as_str().unwrap(), v["alg"].as_str().unwrap()) {
            ("valid", _) => {
                assert!(outcome.is_ok(), "{id}: {outcome:?}");
                // As a JWT, a text payload is refused; a claims payload is accepted.
                let jwt = parse(compact, DEFAULT_MAX_BYTES, &[]);
                if id.starts_with("RFC7520") || id.starts_with("RFC8037") || id == "RFC7515-A.4" {
                    assert_eq!(jwt.unwrap_err().code, Code::TokenMalformed, "{id}");
                } else {
                    assert!(jwt.is_ok(), "{id}");
                }
            }
            ("invalid-unless-none-allowed", _) => {
                assert_eq!(outcome.unwrap_err().code, Code::AlgNone, "{id}")
            }
            ("detached-payload(skip)", _) => assert_eq!(
                outcome.unwrap_err().code,
                Code::TokenMalformed,
                "{id}: a detached payload is not a JWT"
            ),
            (other, _) => panic!("{id}: unknown expectation {other}"),
        }
        checked += 1;
    }
    assert_eq!(checked, 11);
}
