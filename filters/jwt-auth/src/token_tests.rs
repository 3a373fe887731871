//! Unit tests of `token`.

use super::*;

fn b64(s: &str) -> String {
    URL_SAFE_NO_PAD.encode(s)
}

fn token(header: &str, payload: &str) -> String {
    format!("{}.{}.c2ln", b64(header), b64(payload))
}

fn code(t: &str) -> Code {
    parse(t, DEFAULT_MAX_BYTES, &[]).unwrap_err().code
}

#[test]
fn well_formed_token_parses() {
    let t = token(
        r#"{"alg":"HS256","kid":"k1","typ":"JWT"}"#,
        r#"{"sub":"a"}"#,
    );
    let parsed = parse(&t, DEFAULT_MAX_BYTES, &[]).unwrap();
    assert_eq!(parsed.jws.header.alg, Alg::HS256);
    assert_eq!(parsed.jws.header.kid.as_deref(), Some("k1"));
    assert_eq!(parsed.claims["sub"], "a");
    assert_eq!(parsed.jws.signature, "c2ln");
    assert!(t.starts_with(parsed.jws.signing_input));
}

#[test]
fn structural_attacks_are_refused_before_crypto() {
    assert_eq!(code(""), Code::TokenMalformed);
    assert_eq!(code("a.b"), Code::TokenMalformed);
    assert_eq!(code("a.b.c.d.e"), Code::TokenEncrypted);
    assert_eq!(
        code(&format!("{}.", token(r#"{"alg":"HS256"}"#, "{}"))),
        Code::TokenMalformed,
        "four segments"
    );
    let stripped = format!("{}.{}.", b64(r#"{"alg":"HS256"}"#), b64("{}"));
    assert_eq!(code(&stripped), Code::TokenMalformed, "stripped signature");
    assert_eq!(code(&token(r#"{"alg":"none"}"#, "{}")), Code::AlgNone);
    assert_eq!(code(&token(r#"{"alg":"NoNe"}"#, "{}")), Code::AlgNone);
    assert_eq!(
        code(&token(r#"{"alg":"HS256"}"#, "[1]")),
        Code::TokenMalformed,
        "payload not an object"
    );
    assert_eq!(
        code(&token(r#"{"alg":"HS256"}"#, "not json")),
        Code::TokenMalformed
    );
    assert_eq!(
        code(&format!(
            "{}=.{}.c2ln",
            b64(r#"{"alg":"HS256"}"#),
            b64("{}")
        )),
        Code::TokenMalformed,
        "padding"
    );
    assert_eq!(
        code(&format!(
            "{}.{}+.c2ln",
            b64(r#"{"alg":"HS256"}"#),
            b64("{}")
        )),
        Code::TokenMalformed,
        "standard alphabet"
    );
    assert_eq!(
        code(&"a".repeat(DEFAULT_MAX_BYTES + 1)),
        Code::TokenTooLarge
    );
}

#[test]
fn kid_injection_is_refused_and_traversal_is_just_an_unknown_kid() {
    assert_eq!(
        code(&token(r#"{"alg":"HS256","kid":"a\nb"}"#, "{}")),
        Code::TokenMalformed
    );
    assert_eq!(
        code(&token(r#"{"alg":"HS256","kid":7}"#, "{}")),
        Code::TokenMalformed
    );
    assert_eq!(
        code(&token(
            &format!(r#"{{"alg":"HS256","kid":"{}"}}"#, "k".repeat(300)),
            "{}"
        )),
        Code::TokenMalformed
    );
    // A path-like kid is only ever compared with key ids, never used to load anything.
    let t = token(r#"{"alg":"HS256","kid":"../../etc/passwd"}"#, "{}");
    assert_eq!(
        parse(&t, DEFAULT_MAX_BYTES, &[])
            .unwrap()
            .jws
            .header
            .kid
            .as_deref(),
        Some("../../etc/passwd")
    );
}

#[test]
fn crit_is_honoured() {
    let t = token(r#"{"alg":"HS256","crit":["exp"],"exp":1}"#, "{}");
    assert_eq!(code(&t), Code::CritUnsupported);
    assert!(parse(&t, DEFAULT_MAX_BYTES, &["exp"]).is_ok());
    assert_eq!(
        code(&token(r#"{"alg":"HS256","crit":["b64"]}"#, "{}")),
        Code::TokenMalformed,
        "crit names an absent parameter"
    );
    assert_eq!(
        code(&token(r#"{"alg":"HS256","crit":["alg"]}"#, "{}")),
        Code::TokenMalformed,
        "crit names a registered parameter"
    );
    assert_eq!(
        code(&token(r#"{"alg":"HS256","crit":[]}"#, "{}")),
        Code::TokenMalformed
    );
}

#[test]
fn embedded_keys_are_noted_not_used() {
    let t = token(
        r#"{"alg":"RS256","jwk":{"kty":"RSA","n":"x","e":"AQAB"},"jku":"https://evil"}"#,
        "{}",
    );
    assert!(
        parse(&t, DEFAULT_MAX_BYTES, &[])
            .unwrap()
            .jws
            .header
            .embedded_key
    );
}

#[test]
fn the_size_limit_is_inclusive() {
    let header = b64(r#"{"alg":"HS256"}"#);
    let sig = "c2ln";
    let fixed = header.len() + sig.len() + 2;
    let payload = "A".repeat(DEFAULT_MAX_BYTES - fixed);
    let exact = format!("{header}.{payload}.{sig}");
    assert_eq!(exact.len(), DEFAULT_MAX_BYTES);
    assert_eq!(DEFAULT_MAX_BYTES, 8192);
    assert!(parse_jws(&exact, DEFAULT_MAX_BYTES, &[]).is_ok());
    let over = format!("{header}.A{payload}.{sig}");
    assert_eq!(
        parse_jws(&over, DEFAULT_MAX_BYTES, &[]).unwrap_err().code,
        Code::TokenTooLarge
    );
}
