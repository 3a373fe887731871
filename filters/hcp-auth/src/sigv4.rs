//! AWS Signature Version 4 over plain data (header-based, `AWS4-HMAC-SHA256`).
//!
//! The canonical request follows the S3 rules: the path is percent-decoded then encoded
//! once per segment (no double encoding, no dot-segment removal), the query is decoded
//! (a raw `+` is a space, as HTML forms, `URLSearchParams` and Java's `URLEncoder` write
//! it and as S3 servers read it), re-encoded with RFC 3986 unreserved characters, and
//! sorted by name then value. Header values are trimmed and inner runs of spaces
//! collapsed.
//!
//! [`canonical_target`] is the request target in that same canonical form: the filter
//! forwards it, so the server sees exactly the bytes that were signed, whatever its own
//! reading of `+` or its order of repeated parameters.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// The hash of an empty payload.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// What is signed. `headers` are exactly the headers to sign (any case, any order).
#[derive(Debug, Clone, Copy)]
pub struct Signable<'a> {
    pub method: &'a str,
    /// `:path`, query included.
    pub path: &'a str,
    pub headers: &'a [(String, String)],
    /// Hex SHA-256 of the body, or [`UNSIGNED_PAYLOAD`].
    pub payload_hash: &'a str,
}

/// The signer's identity and scope.
pub struct Scope<'a> {
    pub access_key: &'a str,
    pub secret_key: &'a str,
    pub region: &'a str,
    pub service: &'a str,
    /// `YYYYMMDD'T'HHMMSS'Z'`.
    pub amz_date: &'a str,
}

impl std::fmt::Debug for Scope<'_> {
    // The secret key is never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scope")
            .field("region", &self.region)
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        for nibble in [b >> 4, b & 0x0f] {
            if let Some(d) = DIGITS.get(usize::from(nibble)) {
                out.push(char::from(*d));
            }
        }
    }
    out
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so this never fails.
    match HmacSha256::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(data);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// Percent-decodes; malformed escapes stay as they are.
pub fn percent_decode(s: &str) -> Vec<u8> {
    tollgate_kit::percent::decode(s, false)
}

/// Percent-decodes a query component: `+` is a space (form encoding).
pub fn query_decode(s: &str) -> Vec<u8> {
    tollgate_kit::percent::decode(s, true)
}

/// RFC 3986 encoding: unreserved characters stay, everything else is `%XX` (upper hex).
pub fn uri_encode(bytes: &[u8], keep_slash: bool) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn canonical_uri(path: &str) -> String {
    if path.is_empty() {
        return "/".into();
    }
    uri_encode(&percent_decode(path), true)
}

fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                uri_encode(&query_decode(k), false),
                uri_encode(&query_decode(v), false),
            )
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn canonical_headers(headers: &[(String, String)]) -> (String, String) {
    let mut list: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| {
            let value = v.split_whitespace().collect::<Vec<_>>().join(" ");
            (n.to_ascii_lowercase(), value)
        })
        .collect();
    list.sort();
    // Repeated headers join their values with commas.
    let mut merged: Vec<(String, String)> = Vec::with_capacity(list.len());
    for (n, v) in list {
        match merged.last_mut() {
            Some((last, value)) if *last == n => {
                value.push(',');
                value.push_str(&v);
            }
            _ => merged.push((n, v)),
        }
    }
    let canonical = merged
        .iter()
        .map(|(n, v)| format!("{n}:{v}\n"))
        .collect::<String>();
    let signed = merged
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(";");
    (canonical, signed)
}

/// `:path` in canonical form: what the filter forwards, so the upstream reads the
/// very path and query that were signed.
pub fn canonical_target(path: &str) -> String {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let query = canonical_query(query);
    if query.is_empty() {
        canonical_uri(path)
    } else {
        format!("{}?{query}", canonical_uri(path))
    }
}

/// The canonical request (exposed for tests and debugging; it holds no secret).
pub fn canonical_request(req: &Signable<'_>) -> (String, String) {
    let (path, query) = req.path.split_once('?').unwrap_or((req.path, ""));
    let (headers, signed) = canonical_headers(req.headers);
    let text = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        canonical_uri(path),
        canonical_query(query),
        headers,
        signed,
        req.payload_hash
    );
    (text, signed)
}

/// The `Authorization` header value for `req`.
pub fn authorization(req: &Signable<'_>, scope: &Scope<'_>) -> String {
    let (canonical, signed_headers) = canonical_request(req);
    let date = scope.amz_date.get(..8).unwrap_or_default();
    let credential_scope = format!("{date}/{}/{}/aws4_request", scope.region, scope.service);
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{}\n{credential_scope}\n{}",
        scope.amz_date,
        sha256_hex(canonical.as_bytes())
    );
    let k_date = hmac(
        format!("AWS4{}", scope.secret_key).as_bytes(),
        date.as_bytes(),
    );
    let k_region = hmac(&k_date, scope.region.as_bytes());
    let k_service = hmac(&k_region, scope.service.as_bytes());
    let k_signing = hmac(&k_service, b"aws4_request");
    let signature = hex(&hmac(&k_signing, string_to_sign.as_bytes()));
    format!(
        "AWS4-HMAC-SHA256 Credential={}/{credential_scope}, SignedHeaders={signed_headers}, Signature={signature}",
        scope.access_key
    )
}

/// `YYYYMMDD'T'HHMMSS'Z'` for seconds since the epoch (UTC).
pub fn amz_date(epoch_seconds: u64) -> String {
    let days = i64::try_from(epoch_seconds / 86_400).unwrap_or(0);
    let secs = epoch_seconds % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        secs / 3_600,
        secs % 3_600 / 60,
        secs % 60
    )
}

#[cfg(test)]
#[path = "sigv4_tests.rs"]
mod tests;
