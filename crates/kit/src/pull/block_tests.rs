use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePublicKey as _;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use serde_json::{Value, json};

use super::*;

fn pem() -> String {
    SigningKey::from_bytes(&[7; 32])
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap()
}

fn control() -> Value {
    json!({"upstream": "tollgate_control", "project": "hcp", "group": "prod",
           "gateway": "kong-1", "token": "tgt_a_b", "public_keys": {"k1": pem()}})
}

#[test]
fn a_config_without_a_control_block_is_left_whole() {
    for text in [&b"{\"rules\":[]}"[..], b"not json", b"[1]", b""] {
        assert_eq!(
            split(text).unwrap(),
            Split {
                control: None,
                config: Some(text.to_vec())
            }
        );
    }
}

#[test]
fn the_block_is_taken_out_with_its_defaults_and_the_rest_is_the_seed() {
    let s = split(
        json!({"control": control(), "rules": []})
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    let c = s.control.unwrap();
    assert_eq!(
        (c.poll_seconds, c.timeout_ms, c.authority.as_str()),
        (10, 5000, "tollgate-control")
    );
    assert_eq!(s.config.unwrap(), br#"{"rules":[]}"#);
    let alone = split(json!({"control": control()}).to_string().as_bytes()).unwrap();
    assert_eq!(alone.config, None, "no seed: nothing until the first pull");
}

#[test]
fn a_bad_block_is_refused_naming_the_field() {
    let with = |key: &str, value: Value| {
        let mut c = control();
        c[key] = value;
        split(json!({"control": c}).to_string().as_bytes()).unwrap_err()
    };
    assert!(with("pol_seconds", json!(5)).contains("unknown field `pol_seconds`"));
    assert!(with("poll_seconds", json!(0)).starts_with("control.poll_seconds"));
    assert!(with("project", json!("HCP")).starts_with("control.project"));
    assert!(with("gateway", json!("a b")).starts_with("control.gateway"));
    assert!(with("token", json!("")).starts_with("control.token"));
    assert!(with("upstream", json!("")).starts_with("control.upstream"));
    assert!(with("public_keys", json!({})).starts_with("control.public_keys"));
    assert!(with("public_keys", json!({"k": "nope"})).starts_with("control.public_keys.k"));
    assert!(
        with("poll_seconds", json!("x")).starts_with("control.poll_seconds"),
        "{}",
        with("poll_seconds", json!("x"))
    );
    let mut missing = control();
    missing.as_object_mut().unwrap().remove("token");
    let e = split(json!({"control": missing}).to_string().as_bytes()).unwrap_err();
    assert!(e.contains("missing field `token`"), "{e}");
}

#[test]
fn names_with_dashes_and_digits_and_gateway_ids_up_to_256_are_taken() {
    let with = |key: &str, value: Value| {
        let mut c = control();
        c[key] = value;
        split(json!({"control": c}).to_string().as_bytes())
    };
    assert!(with("project", json!("hcp-2")).is_ok());
    assert!(with("group", json!("prod-eu-1")).is_ok());
    assert!(with("gateway", json!("g".repeat(256))).is_ok());
    assert!(with("gateway", json!("g".repeat(257))).is_err());
    assert!(with("gateway", json!("")).is_err());
}
