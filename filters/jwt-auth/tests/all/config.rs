//! Configs that must be refused (`tests/cases/config/*.yaml`), and the RSA opt-in.

use tollgate_jwt_auth::config::JwtAuthConfig;
use tollgate_kit::HostFacts;
use tollgate_kit::config;

fn errors_file(path: &std::path::Path) {
    tollgate_cases::run_config_errors(path, |bytes| {
        tollgate_jwt_auth::config::load(bytes, HostFacts::default())
    });
}

tollgate_cases::case_files!(dir: "tests/cases/config", run: errors_file, files: [errors]);

/// RSA-OAEP-256 decryption loads only with its opt-in, and then warns, naming the
/// advisory, at configure time (the filter logs it, `tollgate validate` prints it).
#[test]
fn rsa_decryption_opt_in_warns() {
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};
    let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).unwrap();
    let pem = key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
    let config = |accept: bool| {
        serde_json::json!({"providers": {"web": {
            "keys": {"jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0LW9uZS0wMTIzNDU2Nzg5YWJjZGVmZ2hpams"}]}},
            "decryption": {"rsa_oaep_256": {"private_key": pem, "accept_rustsec_2023_0071": accept,
                                            "max_decryptions_per_second": 5}}}}})
        .to_string()
    };
    let err = config::load::<JwtAuthConfig>(config(false).as_bytes()).unwrap_err();
    assert_eq!(
        err.path,
        "providers.web.decryption.rsa_oaep_256.accept_rustsec_2023_0071"
    );
    let compiled = config::load::<JwtAuthConfig>(config(true).as_bytes()).unwrap();
    assert_eq!(compiled.warnings.len(), 1, "{:?}", compiled.warnings);
    let w = &compiled.warnings[0];
    assert!(
        w.contains("RUSTSEC-2023-0071") && w.contains("provider web") && w.contains("at most 5"),
        "{w}"
    );
    assert!(!w.contains("PRIVATE KEY"), "never the key");
}
