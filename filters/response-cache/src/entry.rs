//! A stored response and its byte form.
//!
//! An entry carries the hash of its key, so a reader that finds another key's entry in
//! a slot (two workers filled it at once, or the slot was reused) sees a miss, never
//! someone else's response. Nothing in it names the identity in clear.

use tollgate_kit::pairs;

use crate::freshness::Freshness;

/// The byte format, so a later build can tell old entries apart (and ignore them).
const FORMAT: u8 = 1;

/// SHA-256 of an entry's key material.
pub type KeyHash = [u8; 32];

/// A stored response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: KeyHash,
    /// When the request that filled it started, Unix nanoseconds: a write marked at or
    /// after it invalidates the entry.
    pub request_time_ns: u64,
    pub freshness: Freshness,
    pub status: u16,
    /// The request headers its `Vary` names, with the values the filling request had
    /// (`None`: absent).
    pub vary: Vec<(String, Option<String>)>,
    /// Response headers, hop-by-hop ones and `Age` left out.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Headers that describe one connection or hop, never a stored response (RFC 9110
/// §7.6.1), and those this cache sets itself.
const NOT_STORED: [&str; 12] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authentication-info",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "age",
    "x-cache",
    "content-length",
];

/// The response headers to store: pseudo-headers, hop-by-hop headers (and those
/// `Connection` names) and `Age` left out.
pub fn storable_headers(headers: &[(String, String)]) -> Vec<(String, String)> {
    let named: Vec<String> = headers
        .iter()
        .filter(|(k, _)| k == "connection")
        .flat_map(|(_, v)| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .collect();
    headers
        .iter()
        .filter(|(k, _)| {
            !k.starts_with(':') && !NOT_STORED.contains(&k.as_str()) && !named.contains(k)
        })
        .cloned()
        .collect()
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_section(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// Reads the byte form front to back; every read is checked.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, tail) = self.bytes.split_at_checked(n)?;
        self.bytes = tail;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.take(2)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn section(&mut self) -> Option<&'a [u8]> {
        let n = usize::try_from(self.u32()?).ok()?;
        self.take(n)
    }
}

const NO_CACHE: u8 = 1;
const FORBIDS_STALE: u8 = 2;
const VALIDATOR: u8 = 4;

impl Entry {
    pub fn encode(&self) -> Vec<u8> {
        let f = &self.freshness;
        let mut out = Vec::with_capacity(128 + self.body.len());
        out.push(FORMAT);
        out.extend_from_slice(&self.key);
        put_u64(&mut out, self.request_time_ns);
        for v in [
            f.lifetime,
            f.initial_age,
            f.response_time,
            f.stale_while_revalidate,
            f.stale_if_error,
        ] {
            put_u64(&mut out, v);
        }
        let flags = (if f.no_cache { NO_CACHE } else { 0 })
            | (if f.forbids_stale { FORBIDS_STALE } else { 0 })
            | (if f.validator { VALIDATOR } else { 0 });
        out.push(flags);
        out.extend_from_slice(&self.status.to_le_bytes());
        // Absent and empty are different for `Vary`: absent is marked with a
        // leading 0, present with 1.
        let vary: Vec<(&str, String)> = self
            .vary
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str(),
                    v.as_ref()
                        .map_or_else(|| "0".to_string(), |v| format!("1{v}")),
                )
            })
            .collect();
        put_section(&mut out, &pairs::encode(&vary));
        put_section(&mut out, &pairs::encode(&self.headers));
        out.extend_from_slice(&self.body);
        out
    }

    /// `None` for anything this build did not write whole.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let mut r = Reader { bytes };
        if r.u8()? != FORMAT {
            return None;
        }
        let key: KeyHash = r.take(32)?.try_into().ok()?;
        let request_time_ns = r.u64()?;
        let lifetime = r.u64()?;
        let initial_age = r.u64()?;
        let response_time = r.u64()?;
        let stale_while_revalidate = r.u64()?;
        let stale_if_error = r.u64()?;
        let flags = r.u8()?;
        let status = r.u16()?;
        let vary = pairs::decode_lossy(r.section()?)
            .ok()?
            .into_iter()
            .map(|(k, v)| {
                let value = v.strip_prefix('1').map(str::to_string);
                (k, value)
            })
            .collect();
        let headers = pairs::decode_lossy(r.section()?).ok()?;
        Some(Self {
            key,
            request_time_ns,
            freshness: Freshness {
                lifetime,
                initial_age,
                response_time,
                no_cache: flags & NO_CACHE != 0,
                forbids_stale: flags & FORBIDS_STALE != 0,
                stale_while_revalidate,
                stale_if_error,
                validator: flags & VALIDATOR != 0,
            },
            status,
            vary,
            headers,
            body: r.bytes.to_vec(),
        })
    }

    /// The first value of response header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
#[path = "entry_tests.rs"]
mod tests;
