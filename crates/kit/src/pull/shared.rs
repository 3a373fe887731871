//! The document the polling worker loaded, in shared data, so every other worker of
//! the process loads the same one on its next tick (they check its signature too).

use crate::host::Host;
use crate::types::Status;

/// A pulled document with what proves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub revision: u64,
    pub etag: String,
    pub signature: String,
    pub body: Vec<u8>,
}

const MAGIC: &str = "tollgate-pull-1";

fn key(filter: &str) -> String {
    format!("tollgate.pull.{filter}.doc")
}

impl Document {
    /// Four header lines (magic, revision, ETag, signature), then the body.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = format!(
            "{MAGIC}\n{}\n{}\n{}\n",
            self.revision, self.etag, self.signature
        )
        .into_bytes();
        out.extend_from_slice(&self.body);
        out
    }

    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let mut rest = bytes;
        let mut line = || {
            let end = rest.iter().position(|b| *b == b'\n')?;
            let (head, tail) = rest.split_at(end);
            rest = tail.get(1..)?;
            std::str::from_utf8(head).ok().map(str::to_string)
        };
        if line()? != MAGIC {
            return None;
        }
        let revision = line()?.parse().ok()?;
        let etag = line()?;
        let signature = line()?;
        Some(Self {
            revision,
            etag,
            signature,
            body: rest.to_vec(),
        })
    }
}

/// Publishes `doc` for the other workers (bounded retries on a concurrent write).
pub fn publish(host: &dyn Host, filter: &str, doc: &Document) -> Result<(), String> {
    let key = key(filter);
    let bytes = doc.encode();
    for _ in 0..8 {
        let cas = host.shared_data(&key).map_err(|e| e.to_string())?.cas;
        match host.set_shared_data(&key, Some(&bytes), cas) {
            Ok(()) => return Ok(()),
            Err(e) if e.status == Status::CasMismatch => continue,
            Err(e) => return Err(e.to_string()),
        }
    }
    Err("shared data kept changing".into())
}

/// The published document and its version (`cas`), if any: a worker loads it when
/// the version differs from the one it loaded last.
pub fn read(host: &dyn Host, filter: &str) -> Option<(u32, Document)> {
    let found = host.shared_data(&key(filter)).ok()?;
    Some((found.cas?, Document::decode(&found.value?)?))
}

#[cfg(test)]
#[path = "shared_tests.rs"]
mod tests;
