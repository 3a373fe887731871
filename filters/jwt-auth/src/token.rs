//! Strict parsing of a compact JWS (`header.payload.signature`).
//!
//! Refused before any cryptography: oversized input, anything but three base64url
//! segments (five is a JWE), padding or stray characters, non-object JSON, a missing
//! signature, `alg: none`, an unknown `alg`, a malformed `kid`, and `crit` entries the
//! filter does not understand (RFC 7515 §4.1.11). Keys embedded in the header (`jwk`,
//! `jku`, `x5u`, `x5c`) are never used; they are only noted.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::alg::{Alg, truncate};
use crate::denial::{Code, Denial};

/// Default bound on a token's size: far above real tokens, far below abuse.
pub const DEFAULT_MAX_BYTES: usize = 8 * 1024;

/// Header parameters that carry or point at keys: never trusted.
const EMBEDDED_KEY_PARAMS: [&str; 6] = ["jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256"];

/// Header parameters defined by RFC 7515: `crit` must not list them.
const REGISTERED_PARAMS: [&str; 11] = [
    "alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub alg: Alg,
    pub kid: Option<String>,
    pub typ: Option<String>,
    /// The header named keys we ignored (`jwk`, `jku`, `x5u`, `x5c`, …).
    pub embedded_key: bool,
}

/// A parsed, not yet verified JWS: any payload.
#[derive(Debug, Clone)]
pub struct Jws<'a> {
    pub header: Header,
    pub payload: Vec<u8>,
    /// `header.payload`, exactly as received: what the signature covers.
    pub signing_input: &'a str,
    /// The signature segment, base64url.
    pub signature: &'a str,
}

/// A parsed, not yet verified JWT: a JWS whose payload is a JSON object of claims.
#[derive(Debug, Clone)]
pub struct Token<'a> {
    pub jws: Jws<'a>,
    pub claims: Map<String, Value>,
}

fn malformed(message: impl Into<String>) -> Denial {
    Denial::new(Code::TokenMalformed, message)
}

fn decode_segment(segment: &str, what: &str) -> Result<Vec<u8>, Denial> {
    if segment.is_empty() {
        return Err(malformed(format!("the {what} is empty")));
    }
    if !segment
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(malformed(format!(
            "the {what} is not base64url without padding"
        )));
    }
    URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| malformed(format!("the {what} is not valid base64url")))
}

fn json_object(bytes: &[u8], what: &str) -> Result<Map<String, Value>, Denial> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(malformed(format!("the {what} is not a JSON object"))),
        Err(_) => Err(malformed(format!("the {what} is not valid JSON"))),
    }
}

/// Parses a JWT: [`parse_jws`], then the payload must be a JSON object.
pub fn parse<'a>(
    compact: &'a str,
    max_bytes: usize,
    understood_crit: &[&str],
) -> Result<Token<'a>, Denial> {
    let jws = parse_jws(compact, max_bytes, understood_crit)?;
    let claims = json_object(&jws.payload, "payload")?;
    Ok(Token { jws, claims })
}

/// Parses `compact` as a JWS. `understood_crit` lists extension parameters the caller processes.
pub fn parse_jws<'a>(
    compact: &'a str,
    max_bytes: usize,
    understood_crit: &[&str],
) -> Result<Jws<'a>, Denial> {
    if compact.is_empty() {
        return Err(malformed("the token is empty"));
    }
    if compact.len() > max_bytes {
        return Err(Denial::new(
            Code::TokenTooLarge,
            format!(
                "the token is {} bytes; the limit is {max_bytes}",
                compact.len()
            ),
        ));
    }
    let dots = compact.bytes().filter(|b| *b == b'.').count();
    if dots == 4 {
        return Err(Denial::new(
            Code::TokenEncrypted,
            "an encrypted token (JWE) is not accepted here",
        ));
    }
    let mut parts = compact.splitn(3, '.');
    let (Some(header_b64), Some(payload_b64), Some(signature), 2) =
        (parts.next(), parts.next(), parts.next(), dots)
    else {
        return Err(malformed("a JWS has three dot-separated segments"));
    };
    let signing_input = compact
        .get(..header_b64.len() + 1 + payload_b64.len())
        .unwrap_or_default();
    let header = parse_header(
        &json_object(&decode_segment(header_b64, "header")?, "header")?,
        understood_crit,
    )?;
    let payload = decode_segment(payload_b64, "payload")?;
    if signature.is_empty() {
        return Err(malformed("the signature is missing"));
    }
    decode_segment(signature, "signature")?;
    Ok(Jws {
        header,
        payload,
        signing_input,
        signature,
    })
}

fn parse_header(map: &Map<String, Value>, understood_crit: &[&str]) -> Result<Header, Denial> {
    let alg = match map.get("alg") {
        Some(Value::String(name)) => Alg::parse(name)?,
        Some(_) => return Err(malformed("the header's alg is not a string")),
        None => return Err(malformed("the header has no alg")),
    };
    let kid = match map.get("kid") {
        None => None,
        Some(Value::String(kid))
            if kid.len() <= 256 && !kid.is_empty() && !kid.chars().any(char::is_control) =>
        {
            Some(kid.clone())
        }
        Some(_) => {
            return Err(malformed(
                "the header's kid is not a short printable string",
            ));
        }
    };
    let typ = match map.get("typ") {
        None => None,
        Some(Value::String(typ)) => Some(typ.clone()),
        Some(_) => return Err(malformed("the header's typ is not a string")),
    };
    if let Some(crit) = map.get("crit") {
        check_crit(crit, map, understood_crit)?;
    }
    let embedded_key = EMBEDDED_KEY_PARAMS.iter().any(|p| map.contains_key(*p));
    Ok(Header {
        alg,
        kid,
        typ,
        embedded_key,
    })
}

fn check_crit(
    crit: &Value,
    header: &Map<String, Value>,
    understood: &[&str],
) -> Result<(), Denial> {
    let Value::Array(items) = crit else {
        return Err(malformed("crit is not an array"));
    };
    if items.is_empty() {
        return Err(malformed("crit is empty"));
    }
    let mut seen = Vec::with_capacity(items.len());
    for item in items {
        let Value::String(name) = item else {
            return Err(malformed("crit lists a non-string"));
        };
        if REGISTERED_PARAMS.contains(&name.as_str())
            || seen.contains(&name.as_str())
            || !header.contains_key(name)
        {
            return Err(malformed(format!(
                "crit entry {:?} is invalid",
                truncate(name)
            )));
        }
        if !understood.contains(&name.as_str()) {
            return Err(Denial::new(
                Code::CritUnsupported,
                format!(
                    "critical header parameter {:?} is not understood",
                    truncate(name)
                ),
            ));
        }
        seen.push(name.as_str());
    }
    Ok(())
}

#[cfg(test)]
#[path = "token_tests.rs"]
mod tests;
