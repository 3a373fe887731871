//! Signed bundles as OPA signs them: `.signatures.json` holds one JWS whose payload lists
//! every file with its digest (`{"files": [{"name", "hash", "algorithm"}], "keyid",
//! "scope"}`). The JWS is verified with jwt-auth's code against a configured key, then
//! every file must be listed with a matching digest and every listed file must exist.
//!
//! Digests follow OPA: raw bytes for policies, and for structured files (`data.json`,
//! `data.yaml`, `.manifest`) a digest of the parsed value with object keys sorted, so
//! whitespace and key order do not matter.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Deserialize;
use serde_json::Value as Json;
use sha2::Digest as _;
use tollgate_jwt_auth::Alg;
use tollgate_jwt_auth::jwks::{Key, KeySet};
use tollgate_jwt_auth::token::parse_jws;

use crate::bundle::{Files, SIGNATURES_FILE};

/// A key that may sign bundles.
#[derive(Debug, Clone)]
pub struct VerificationKey {
    pub algorithm: Alg,
    /// PEM public key, or the HMAC secret.
    pub key: String,
    /// The scope a bundle signed with this key must carry (`""` for none).
    pub scope: String,
}

/// How bundles are verified.
#[derive(Debug, Clone, Default)]
pub struct Verification {
    /// Keys by id.
    pub keys: BTreeMap<String, VerificationKey>,
    /// The key to use whatever the signature names (OPA's `keyid` setting).
    pub key_id: Option<String>,
    /// Overrides the key's scope.
    pub scope: Option<String>,
}

#[derive(Deserialize)]
struct SignaturesFile {
    signatures: Vec<String>,
}

#[derive(Deserialize)]
struct FileEntry {
    name: String,
    hash: String,
    #[serde(default)]
    algorithm: String,
}

#[derive(Deserialize)]
struct Payload {
    files: Vec<FileEntry>,
    #[serde(default)]
    keyid: Option<String>,
    #[serde(default)]
    scope: Option<String>,
}

fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Whether OPA digests this file as a parsed value rather than as bytes.
fn structured(path: &str) -> bool {
    matches!(
        base_name(path),
        "data.json" | "data.yaml" | ".manifest" | SIGNATURES_FILE
    )
}

/// Writes a string as Go's `encoding/json` does with HTML escaping off.
fn go_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            '\u{2028}' => out.extend_from_slice(b"\\u2028"),
            '\u{2029}' => out.extend_from_slice(b"\\u2029"),
            c if (c as u32) < 0x20 => {
                let mut esc = String::new();
                let _ = write!(esc, "\\u{:04x}", c as u32);
                out.extend_from_slice(esc.as_bytes());
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

/// The bytes OPA feeds its hash for a structured value.
fn canonical(value: &Json, out: &mut Vec<u8>) {
    match value {
        Json::Object(map) => {
            out.push(b'{');
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                go_string(k, out);
                out.push(b':');
                if let Some(v) = map.get(k) {
                    canonical(v, out);
                }
            }
            out.push(b'}');
        }
        Json::Array(items) => {
            out.push(b'[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                canonical(v, out);
            }
            out.push(b']');
        }
        Json::String(s) => go_string(s, out),
        other => out.extend_from_slice(other.to_string().as_bytes()),
    }
}

fn digest(algorithm: &str, bytes: &[u8]) -> Result<Vec<u8>, String> {
    Ok(match algorithm {
        "SHA-256" => sha2::Sha256::digest(bytes).to_vec(),
        "SHA-384" => sha2::Sha384::digest(bytes).to_vec(),
        "SHA-512" => sha2::Sha512::digest(bytes).to_vec(),
        "" => return Err("no hashing algorithm".into()),
        other => return Err(format!("the hashing algorithm `{other}` is not accepted")),
    })
}

/// The digest OPA lists for `path` with `algorithm`, hex.
pub fn file_digest(path: &str, bytes: &[u8], algorithm: &str) -> Result<String, String> {
    let input = if structured(path) {
        let value: Json = if path.ends_with(".yaml") {
            serde_norway::from_slice(bytes).map_err(|e| format!("{path}: {e}"))?
        } else {
            serde_json::from_slice(bytes).map_err(|e| format!("{path}: {e}"))?
        };
        let mut out = Vec::new();
        canonical(&value, &mut out);
        out
    } else {
        bytes.to_vec()
    };
    let raw = digest(algorithm, &input)?;
    Ok(raw.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    }))
}

/// What a verified `.signatures.json` says: the key that signed it and the files it
/// lists (`name` → `(hash, algorithm)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub key_id: String,
    pub files: BTreeMap<String, (String, String)>,
}

/// Verifies the JWS of a `.signatures.json` (its one token) with the configured keys:
/// the key by config `key_id`, then the header's `kid`, then the payload's `keyid`; its
/// algorithm and scope must match.
pub fn verify_token(token: &str, verification: &Verification) -> Result<Signed, String> {
    let jws = parse_jws(token, 1024 * 1024, &[])
        .map_err(|d| format!("{SIGNATURES_FILE}: {}", d.message))?;
    let payload: Payload = serde_json::from_slice(&jws.payload)
        .map_err(|e| format!("{SIGNATURES_FILE}: the signature's payload: {e}"))?;
    let key_id = verification
        .key_id
        .clone()
        .or_else(|| jws.header.kid.clone())
        .or_else(|| payload.keyid.clone())
        .ok_or("the signature names no key, and no `key_id` is configured")?;
    let Some(key) = verification.keys.get(&key_id) else {
        return Err(format!(
            "the bundle is signed with key `{key_id}`, which is not configured"
        ));
    };
    if jws.header.alg != key.algorithm {
        return Err(format!(
            "key `{key_id}` verifies {} signatures; the bundle's is {}",
            key.algorithm, jws.header.alg
        ));
    }
    let material = if key.algorithm.key_kind() == tollgate_jwt_auth::alg::KeyKind::Secret {
        Key::secret(
            key.key.as_bytes(),
            Some(key.algorithm),
            jws.header.kid.clone(),
        )
    } else {
        Key::from_pem(&key.key, key.algorithm, jws.header.kid.clone())
    }
    .map_err(|e| format!("key `{key_id}` is not usable: {e:?}"))?;
    let set = KeySet {
        keys: vec![material],
        ..KeySet::default()
    };
    tollgate_jwt_auth::verify::verify(&jws, &set)
        .map_err(|d| format!("the bundle's signature does not verify: {}", d.message))?;
    let want_scope = verification.scope.as_deref().unwrap_or(&key.scope);
    if payload.scope.as_deref().unwrap_or("") != want_scope {
        return Err("the signature's scope does not match".into());
    }
    let files = payload
        .files
        .into_iter()
        .map(|f| {
            (
                f.name.trim_start_matches('/').to_string(),
                (f.hash, f.algorithm),
            )
        })
        .collect();
    Ok(Signed { key_id, files })
}

/// Verifies a signed bundle's files before anything in it is used. `Ok` names the key
/// that signed it.
pub fn verify(files: &Files, verification: &Verification) -> Result<String, String> {
    let Some(raw) = files.0.get(SIGNATURES_FILE) else {
        return Err(format!("the bundle is not signed (no {SIGNATURES_FILE})"));
    };
    let sigs: SignaturesFile =
        serde_json::from_slice(raw).map_err(|e| format!("{SIGNATURES_FILE}: {e}"))?;
    let [token] = sigs.signatures.as_slice() else {
        return Err(format!("{SIGNATURES_FILE}: expected exactly one signature"));
    };
    let Signed {
        key_id,
        files: mut listed,
    } = verify_token(token, verification)?;

    for (path, bytes) in &files.0 {
        if path == SIGNATURES_FILE {
            continue;
        }
        let Some((hash, algorithm)) = listed.remove(path) else {
            return Err(format!("`{path}` is not covered by the bundle's signature"));
        };
        let actual = file_digest(path, bytes, &algorithm)?;
        if !actual.eq_ignore_ascii_case(&hash) {
            return Err(format!("`{path}` does not match its signed digest"));
        }
    }
    if let Some(missing) = listed.keys().next() {
        return Err(format!("`{missing}` is signed but missing from the bundle"));
    }
    Ok(key_id)
}

/// Signs `files` as `opa build --signing-key` does: `.signatures.json` with one JWS
/// whose payload lists every other file's SHA-256 (and `keyid` when given).
pub fn sign(
    files: &mut Files,
    alg: jsonwebtoken::Algorithm,
    key: &jsonwebtoken::EncodingKey,
    key_id: Option<&str>,
) -> Result<(), String> {
    let mut list = Vec::new();
    for (path, bytes) in &files.0 {
        if path != SIGNATURES_FILE {
            list.push(serde_json::json!({
                "name": path,
                "hash": file_digest(path, bytes, "SHA-256")?,
                "algorithm": "SHA-256",
            }));
        }
    }
    let mut header = jsonwebtoken::Header::new(alg);
    header.kid = key_id.map(str::to_string);
    // The `keyid` claim is deprecated in OPA but still written by `opa build`.
    let payload = match key_id {
        Some(k) => serde_json::json!({ "files": list, "keyid": k }),
        None => serde_json::json!({ "files": list }),
    };
    let token = jsonwebtoken::encode(&header, &payload, key).map_err(|e| e.to_string())?;
    files.0.insert(
        SIGNATURES_FILE.into(),
        serde_json::json!({ "signatures": [token] })
            .to_string()
            .into_bytes(),
    );
    Ok(())
}

#[cfg(test)]
#[path = "signature_tests.rs"]
mod tests;
