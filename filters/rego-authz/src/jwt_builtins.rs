//! OPA's `io.jwt.*` builtins, which regorus lacks, as regorus extensions built on
//! jwt-auth's JWS code: one implementation of JWS parsing and verification in the
//! project, with its rules (no `none`, key type bound to the algorithm, no RS/HS key
//! confusion).
//!
//! One difference from OPA, stricter: `verify_<alg>` also requires the token's header to
//! name that algorithm. HMAC secrets of any length are taken, as OPA takes them (its
//! Envoy tutorial uses `"secret"`); jwt-auth itself refuses short ones.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use regorus::{Engine, Value};
use serde_json::{Map, Value as Json, json};
use tollgate_jwt_auth::Alg;
use tollgate_jwt_auth::jwks::{Key, KeySet};
use tollgate_jwt_auth::token::{Jws, parse_jws};

use crate::engine::{to_json, to_regorus};

/// The largest token the builtins parse (as jwt-auth's default).
const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The `verify_<alg>` builtins and the algorithm each checks.
const VERIFY: &[(&str, &str)] = &[
    ("io.jwt.verify_hs256", "HS256"),
    ("io.jwt.verify_hs384", "HS384"),
    ("io.jwt.verify_hs512", "HS512"),
    ("io.jwt.verify_rs256", "RS256"),
    ("io.jwt.verify_rs384", "RS384"),
    ("io.jwt.verify_rs512", "RS512"),
    ("io.jwt.verify_ps256", "PS256"),
    ("io.jwt.verify_ps384", "PS384"),
    ("io.jwt.verify_ps512", "PS512"),
    ("io.jwt.verify_es256", "ES256"),
    ("io.jwt.verify_es384", "ES384"),
    ("io.jwt.verify_es512", "ES512"),
    ("io.jwt.verify_eddsa", "EdDSA"),
];

/// Adds every `io.jwt.*` builtin to `engine`.
pub fn register(engine: &mut Engine) -> std::result::Result<(), String> {
    let wrap = |f: fn(&[Value]) -> Result<Json>| {
        move |args: Vec<Value>| -> Result<Value> {
            to_regorus(&f(&args)?).map_err(anyhow::Error::msg)
        }
    };
    engine
        .add_extension("io.jwt.decode".into(), 1, Box::new(wrap(decode)))
        .map_err(|e| e.to_string())?;
    engine
        .add_extension(
            "io.jwt.decode_verify".into(),
            2,
            Box::new(wrap(decode_verify)),
        )
        .map_err(|e| e.to_string())?;
    for (name, alg) in VERIFY {
        let alg: &'static str = alg;
        let f =
            move |args: Vec<Value>| -> Result<Value> { verify_with(alg, &args).map(Value::from) };
        engine
            .add_extension((*name).into(), 2, Box::new(f))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn string_arg<'a>(args: &'a [Value], i: usize, what: &str) -> Result<&'a str> {
    match args.get(i).map(Value::as_string) {
        Some(Ok(s)) => Ok(s),
        _ => bail!("{what} must be a string"),
    }
}

fn segments_json(jws: &Jws<'_>) -> Result<(Json, Json)> {
    let Some((header_b64, _)) = jws.signing_input.split_once('.') else {
        bail!("the token has no header");
    };
    let header: Json = URL_SAFE_NO_PAD
        .decode(header_b64)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Json::Null);
    let payload: Json = match serde_json::from_slice(&jws.payload) {
        Ok(v @ Json::Object(_)) => v,
        _ => bail!("the token's payload is not a JSON object"),
    };
    Ok((header, payload))
}

fn parse(token: &str) -> Result<Jws<'_>> {
    parse_jws(token, MAX_TOKEN_BYTES, &[]).map_err(|d| anyhow::anyhow!(d.message))
}

/// `io.jwt.decode(jwt)`: `[header, payload, signature (hex)]`, unverified.
fn decode(args: &[Value]) -> Result<Json> {
    let token = string_arg(args, 0, "the token")?;
    let jws = parse(token)?;
    let (header, payload) = segments_json(&jws)?;
    let signature = URL_SAFE_NO_PAD
        .decode(jws.signature)
        .map_err(|_| anyhow::anyhow!("the signature is not base64url"))?;
    Ok(json!([header, payload, hex(&signature)]))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The keys a `certificate` argument names: a JWK or JWKS (JSON), or a PEM public key.
fn keys_for(alg: Alg, certificate: &str) -> Result<KeySet> {
    let trimmed = certificate.trim_start();
    if trimmed.starts_with('{') {
        let set = KeySet::from_jwks(certificate.as_bytes()).map_err(anyhow::Error::msg)?;
        if set.keys.is_empty() {
            bail!("the JWK set has no usable key");
        }
        return Ok(set);
    }
    let key = Key::from_pem(certificate, alg, None).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok(KeySet {
        keys: vec![key],
        ..KeySet::default()
    })
}

fn secret_keys(alg: Alg, secret: &str) -> Result<KeySet> {
    if secret.is_empty() {
        bail!("the HMAC secret is empty");
    }
    Ok(KeySet {
        keys: vec![Key::secret_of_any_length(secret.as_bytes(), alg)],
        ..KeySet::default()
    })
}

/// `io.jwt.verify_<alg>(jwt, certificate_or_secret)`.
fn verify_with(alg_name: &str, args: &[Value]) -> Result<bool> {
    let token = string_arg(args, 0, "the token")?;
    let material = string_arg(args, 1, "the key")?;
    let alg = Alg::parse(alg_name).map_err(|d| anyhow::anyhow!(d.message))?;
    let Ok(jws) = parse(token) else {
        return Ok(false);
    };
    if jws.header.alg != alg {
        return Ok(false);
    }
    let keys = if alg.key_kind() == tollgate_jwt_auth::alg::KeyKind::Secret {
        secret_keys(alg, material)?
    } else {
        keys_for(alg, material)?
    };
    Ok(tollgate_jwt_auth::verify::verify(&jws, &keys).is_ok())
}

/// The constraints `io.jwt.decode_verify` accepts (OPA's names).
struct Constraints {
    cert: Option<String>,
    secret: Option<String>,
    alg: Option<String>,
    iss: Option<String>,
    aud: Option<String>,
    /// Nanoseconds since the epoch.
    time: Option<f64>,
}

fn constraints(value: &Value) -> Result<Constraints> {
    let Ok(Json::Object(map)) = to_json(value) else {
        bail!("the constraints must be an object");
    };
    let mut c = Constraints {
        cert: None,
        secret: None,
        alg: None,
        iss: None,
        aud: None,
        time: None,
    };
    for (k, v) in map {
        let text = || v.as_str().map(str::to_string);
        match k.as_str() {
            "cert" => c.cert = text(),
            "secret" => c.secret = text(),
            "alg" => c.alg = text(),
            "iss" => c.iss = text(),
            "aud" => c.aud = text(),
            "time" => c.time = v.as_f64(),
            other => bail!("unknown constraint `{other}`"),
        }
    }
    if c.cert.is_some() == c.secret.is_some() {
        bail!("exactly one of `cert` and `secret` is required");
    }
    Ok(c)
}

fn now_seconds(c: &Constraints) -> f64 {
    match c.time {
        Some(ns) => ns / 1e9,
        None => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0),
    }
}

/// Whether the claims pass `exp`, `nbf`, `iss` and `aud` as OPA checks them.
fn claims_pass(payload: &Map<String, Json>, c: &Constraints) -> bool {
    let now = now_seconds(c);
    if let Some(exp) = payload.get("exp") {
        match exp.as_f64() {
            Some(exp) if now < exp => {}
            _ => return false,
        }
    }
    if let Some(nbf) = payload.get("nbf") {
        match nbf.as_f64() {
            Some(nbf) if now >= nbf => {}
            _ => return false,
        }
    }
    if let Some(iss) = &c.iss
        && payload.get("iss").and_then(Json::as_str) != Some(iss.as_str())
    {
        return false;
    }
    match (payload.get("aud"), &c.aud) {
        (None, None) => true,
        (None, Some(_)) | (Some(_), None) => false,
        (Some(Json::String(a)), Some(want)) => a == want,
        (Some(Json::Array(list)), Some(want)) => {
            list.iter().any(|a| a.as_str() == Some(want.as_str()))
        }
        (Some(_), Some(_)) => false,
    }
}

/// `io.jwt.decode_verify(jwt, constraints)`: `[valid, header, payload]`; an invalid
/// token gives `[false, {}, {}]`.
fn decode_verify(args: &[Value]) -> Result<Json> {
    let token = string_arg(args, 0, "the token")?;
    let Some(c) = args.get(1).map(constraints).transpose()? else {
        bail!("the constraints are required");
    };
    let invalid = json!([false, {}, {}]);
    let Ok(jws) = parse(token) else {
        return Ok(invalid);
    };
    if let Some(want) = &c.alg
        && jws.header.alg.name() != want.as_str()
    {
        return Ok(invalid);
    }
    let alg = jws.header.alg;
    let keys = match (&c.cert, &c.secret) {
        (Some(cert), _) => keys_for(alg, cert),
        (None, Some(secret)) => secret_keys(alg, secret),
        (None, None) => bail!("exactly one of `cert` and `secret` is required"),
    };
    let Ok(keys) = keys else {
        return Ok(invalid);
    };
    if tollgate_jwt_auth::verify::verify(&jws, &keys).is_err() {
        return Ok(invalid);
    }
    let (header, payload) = segments_json(&jws)?;
    let Json::Object(claims) = &payload else {
        return Ok(invalid);
    };
    if !claims_pass(claims, &c) {
        return Ok(invalid);
    }
    Ok(json!([true, header, payload]))
}

#[cfg(test)]
#[path = "jwt_builtins_tests.rs"]
mod tests;
