//! pii-mask's scanner on arbitrary text, cut into chunks where the input says: never a
//! panic, masking chunk by chunk gives exactly what masking the whole text gives, and
//! no value the whole-text scan detected survives in the output.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_kit::HostFacts;
use tollgate_pii_mask::body::{BodyMasker, Format, Over};
use tollgate_pii_mask::json::Ctx;
use tollgate_pii_mask::segment::Tally;

const CONFIG: &str = r#"{"custom": [{"name": "emp", "pattern": "EMP-[0-9]{4,6}"}],
  "detectors": {"card": {"action": {"type": "partial"}}}}"#;

/// The config, compiled once (as `on_configure` does).
fn compiled() -> Option<&'static tollgate_pii_mask::config::Compiled> {
    static C: std::sync::OnceLock<Option<tollgate_pii_mask::config::Compiled>> = std::sync::OnceLock::new();
    C.get_or_init(|| tollgate_pii_mask::config::load(CONFIG.as_bytes(), HostFacts::default()).ok())
        .as_ref()
}

fn mask(format: Format, chunks: &[&[u8]]) -> Vec<u8> {
    let Some(c) = compiled() else {
        return Vec::new();
    };
    let cx = Ctx { masker: &c.masker, rules: &c.rules };
    let mut m = BodyMasker::new(format, None, 1 << 30, Over::Stop);
    let mut out = Vec::new();
    let mut t = Tally::default();
    for (i, ch) in chunks.iter().enumerate() {
        let _ = m.push(&cx, ch, i + 1 == chunks.len(), &mut out, &mut t);
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut, text)) = data.split_first() else { return };
    let at = usize::from(cut) * text.len() / 256;
    let (a, b) = text.split_at(at);
    let whole = mask(Format::Text, &[text]);
    assert_eq!(mask(Format::Text, &[a, b]), whole, "text chunks differ");
    let bytes: Vec<&[u8]> = text.chunks(7).collect();
    assert_eq!(mask(Format::Text, &bytes), whole, "7-byte chunks differ");
    let Some(c) = compiled() else {
        return;
    };
    for line in text.split(|&b| b == b'\n') {
        for f in c.masker.detectors.find_all(line) {
            let value = &line[f.span.0..f.span.1];
            // A detected value never survives (unless the text holds it elsewhere too,
            // inside something that is not a value).
            let seen = text.windows(value.len()).filter(|w| *w == value).count();
            if seen == 1 && value.len() >= 8 {
                assert!(!whole.windows(value.len()).any(|w| w == value), "a detected value survived: {:?} in {:?}", String::from_utf8_lossy(value), String::from_utf8_lossy(&whole));
            }
        }
    }
});
