//! The proxy-wasm header-map wire format, used in both directions of the ABI:
//! a little-endian `u32` count, then a (`u32` name length, `u32` value length) pair
//! per entry, then each name and value followed by a NUL byte.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairsError(&'static str);

impl fmt::Display for PairsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed header pairs: {}", self.0)
    }
}

impl std::error::Error for PairsError {}

/// The first value of header `name` (as read: lower-case) in `pairs`; `""` when absent,
/// which no filter distinguishes from empty.
pub fn first<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

/// Encodes `pairs` in the ABI format.
pub fn encode<N: AsRef<[u8]>, V: AsRef<[u8]>>(pairs: &[(N, V)]) -> Vec<u8> {
    let payload: usize = pairs
        .iter()
        .map(|(n, v)| n.as_ref().len() + v.as_ref().len() + 2)
        .sum();
    let mut out = Vec::with_capacity(4 + pairs.len() * 8 + payload);
    out.extend_from_slice(&len_u32(pairs.len()).to_le_bytes());
    for (n, v) in pairs {
        out.extend_from_slice(&len_u32(n.as_ref().len()).to_le_bytes());
        out.extend_from_slice(&len_u32(v.as_ref().len()).to_le_bytes());
    }
    for (n, v) in pairs {
        out.extend_from_slice(n.as_ref());
        out.push(0);
        out.extend_from_slice(v.as_ref());
        out.push(0);
    }
    out
}

fn len_u32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// Name/value pairs as raw bytes.
pub type RawPairs = Vec<(Vec<u8>, Vec<u8>)>;

/// Decodes the ABI format into raw byte pairs. Empty input is an empty map; bytes
/// after the last pair are ignored.
pub fn decode(bytes: &[u8]) -> Result<RawPairs, PairsError> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let mut reader = Reader { bytes, pos: 0 };
    let count = reader.u32()? as usize;
    // Each entry needs at least 8 bytes of lengths and 2 NULs: bound the allocation by the input.
    if count > bytes.len() / 10 + 1 {
        return Err(PairsError("count larger than the input"));
    }
    let mut lengths = Vec::with_capacity(count);
    for _ in 0..count {
        lengths.push((reader.u32()? as usize, reader.u32()? as usize));
    }
    let mut pairs = Vec::with_capacity(count);
    for (name_len, value_len) in lengths {
        let name = reader.take(name_len)?.to_vec();
        reader.nul()?;
        let value = reader.take(value_len)?.to_vec();
        reader.nul()?;
        pairs.push((name, value));
    }
    // Bytes after the last pair are ignored: the count says where the map ends, and
    // APISIX's response header map comes with a few bytes of slack.
    Ok(pairs)
}

/// Decodes into `String` pairs; bytes that are not UTF-8 are replaced (header values
/// are ASCII in practice, and no filter rewrites a map it did not read as text).
pub fn decode_lossy(bytes: &[u8]) -> Result<Vec<(String, String)>, PairsError> {
    Ok(decode(bytes)?
        .into_iter()
        .map(|(n, v)| {
            (
                String::from_utf8_lossy(&n).into_owned(),
                String::from_utf8_lossy(&v).into_owned(),
            )
        })
        .collect())
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], PairsError> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or(PairsError("length overflow"))?;
        let slice = self
            .bytes
            .get(self.pos..end)
            .ok_or(PairsError("truncated"))?;
        self.pos = end;
        Ok(slice)
    }

    fn u32(&mut self) -> Result<u32, PairsError> {
        let raw = self.take(4)?;
        let mut word = [0u8; 4];
        word.copy_from_slice(raw);
        Ok(u32::from_le_bytes(word))
    }

    fn nul(&mut self) -> Result<(), PairsError> {
        match self.take(1)? {
            [0] => Ok(()),
            _ => Err(PairsError("missing NUL terminator")),
        }
    }
}

#[cfg(test)]
#[path = "pairs_tests.rs"]
mod tests;
