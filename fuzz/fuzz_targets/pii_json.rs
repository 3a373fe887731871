//! pii-mask's JSON walker on arbitrary bytes with field rules, cut into chunks where the
//! input says: never a panic, chunks give what the whole body gives, valid JSON in gives
//! valid JSON out, and a dropped member never appears.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_kit::HostFacts;
use tollgate_pii_mask::body::{BodyMasker, Format, Over};
use tollgate_pii_mask::json::Ctx;
use tollgate_pii_mask::segment::Tally;

const CONFIG: &str = r#"{"fields": [
    {"pointer": "/**/secret", "rule": "drop"},
    {"pointer": "/a/*/b", "rule": "mask", "action": {"type": "partial", "keep": 2}},
    {"pointer": "/n", "rule": "never"}]}"#;

/// The config, compiled once (as `on_configure` does).
fn compiled() -> Option<&'static tollgate_pii_mask::config::Compiled> {
    static C: std::sync::OnceLock<Option<tollgate_pii_mask::config::Compiled>> = std::sync::OnceLock::new();
    C.get_or_init(|| tollgate_pii_mask::config::load(CONFIG.as_bytes(), HostFacts::default()).ok())
        .as_ref()
}

fn mask(chunks: &[&[u8]]) -> Vec<u8> {
    let Some(c) = compiled() else {
        return Vec::new();
    };
    let cx = Ctx { masker: &c.masker, rules: &c.rules };
    let mut m = BodyMasker::new(Format::Json, None, 1 << 30, Over::Stop);
    let mut out = Vec::new();
    let mut t = Tally::default();
    for (i, ch) in chunks.iter().enumerate() {
        let _ = m.push(&cx, ch, i + 1 == chunks.len(), &mut out, &mut t);
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut, body)) = data.split_first() else { return };
    let at = usize::from(cut) * body.len() / 256;
    let (a, b) = body.split_at(at);
    let whole = mask(&[body]);
    assert_eq!(mask(&[a, b]), whole, "chunks differ");
    let docs: Result<Vec<serde_json::Value>, _> =
        serde_json::Deserializer::from_slice(body).into_iter().collect();
    if let Ok(docs) = docs {
        let out: Vec<serde_json::Value> = serde_json::Deserializer::from_slice(&whole)
            .into_iter()
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("valid JSON in, invalid out: {e}"));
        assert_eq!(out.len(), docs.len());
        let text = String::from_utf8_lossy(&whole);
        if !String::from_utf8_lossy(body).contains("secret\\") {
            assert!(!text.contains("\"secret\":"), "a dropped member appears");
        }
    }
});
