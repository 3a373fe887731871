//! rego-authz reads bundles that may come from anywhere before their signature is
//! checked: arbitrary bytes as a `.tar.gz`, then as files, then through signature
//! verification, give an error or a bundle, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_rego_authz::bundle::{Bundle, Files, Limits};
use tollgate_rego_authz::signature::{Verification, VerificationKey, verify};

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_bytes: 1 << 20, max_files: 64 };
    if let Ok(files) = Files::from_tar_gz(data, limits) {
        let _ = Bundle::from_files(files.clone());
    }
    // The same bytes as the files of a bundle: a signature file, a manifest, data.
    let mut files = Files::default();
    let text = String::from_utf8_lossy(data).into_owned();
    files.0.insert(".signatures.json".into(), data.to_vec());
    files.0.insert(".manifest".into(), data.to_vec());
    files.0.insert("a/data.json".into(), data.to_vec());
    files.0.insert("a/p.rego".into(), text.into_bytes());
    let mut v = Verification::default();
    v.keys.insert(
        "k".into(),
        VerificationKey {
            algorithm: tollgate_jwt_auth::Alg::HS256,
            key: "fuzz-secret-of-at-least-32-bytes!!".into(),
            scope: String::new(),
        },
    );
    // Unsigned by the key, whatever the bytes: never verified.
    assert!(verify(&files, &v).is_err());
    let _ = Bundle::from_files(files);
});
