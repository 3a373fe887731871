//! Masking a body whole and in every kind of chunking, for the case files and the
//! property tests: every case checks that chunks give what the whole body gives.

use serde_json::Value;
use tollgate_kit::HostFacts;
use tollgate_pii_mask::body::{BodyMasker, Format, Over};
use tollgate_pii_mask::config::{self, Compiled};
use tollgate_pii_mask::json::Ctx;
use tollgate_pii_mask::segment::Tally;

/// A base64 pseudonym key for tests (32 bytes of 0x2a).
pub const KEY: &str = "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=";

/// Compiles `config` (JSON) with the test key added when it has none.
pub fn compiled(config: Option<&Value>) -> Compiled {
    let mut c = config.cloned().unwrap_or_else(|| serde_json::json!({}));
    if let Value::Object(m) = &mut c {
        m.entry("pseudonym_key")
            .or_insert(Value::String(KEY.into()));
    }
    config::load(c.to_string().as_bytes(), HostFacts::default()).unwrap_or_else(|e| panic!("{e}"))
}

/// Masks `body` given in `chunks` (their concatenation is the body).
pub fn mask_chunks(c: &Compiled, format: Format, chunks: &[&[u8]]) -> (Vec<u8>, Tally) {
    let cx = Ctx {
        masker: &c.masker,
        rules: &c.rules,
    };
    let mut m = BodyMasker::new(format, None, c.max_body_bytes, Over::Stop);
    let mut out = Vec::new();
    let mut tally = Tally::default();
    for (i, ch) in chunks.iter().enumerate() {
        m.push(&cx, ch, i + 1 == chunks.len(), &mut out, &mut tally)
            .unwrap();
    }
    if chunks.is_empty() {
        m.push(&cx, b"", true, &mut out, &mut tally).unwrap();
    }
    (out, tally)
}

pub fn mask(c: &Compiled, format: Format, body: &[u8]) -> Vec<u8> {
    mask_chunks(c, format, &[body]).0
}

/// Problems if any chunking of `body` (every two-way split, and one byte at a time)
/// gives other bytes than the whole body.
pub fn chunking_problems(c: &Compiled, format: Format, body: &[u8]) -> Vec<String> {
    let whole = mask(c, format, body);
    let mut problems = Vec::new();
    for at in 0..=body.len() {
        let (a, b) = body.split_at(at);
        let split = mask_chunks(c, format, &[a, b]).0;
        if split != whole {
            problems.push(format!(
                "split at {at} gives {:?}, whole gives {:?}",
                String::from_utf8_lossy(&split),
                String::from_utf8_lossy(&whole)
            ));
            break;
        }
    }
    let bytes: Vec<&[u8]> = body.chunks(1).collect();
    let single = mask_chunks(c, format, &bytes).0;
    if single != whole {
        problems.push(format!(
            "byte by byte gives {:?}",
            String::from_utf8_lossy(&single)
        ));
    }
    problems
}
