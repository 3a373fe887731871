//! Detectors on text (`tests/cases/detect/*.yaml`): positives, negatives and
//! lookalikes, each masked whole and in every chunking.

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;
use tollgate_cases::Case;
use tollgate_pii_mask::body::Format;

use crate::common::{chunking_problems, compiled, mask};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TextCase {
    name: String,
    /// Config fields (JSON as YAML). Default: `{}` (every detector, placeholders).
    #[serde(default)]
    config: Option<Value>,
    text: String,
    /// The masked text. Default: `text` unchanged (a negative).
    #[serde(default)]
    masked: Option<String>,
}

impl Case for TextCase {
    fn name(&self) -> &str {
        &self.name
    }
}

fn detect_file(path: &Path) {
    let cases: Vec<TextCase> = tollgate_cases::load(path);
    tollgate_cases::run(path, &cases, |case| {
        let c = compiled(case.config.as_ref());
        let got =
            String::from_utf8_lossy(&mask(&c, Format::Text, case.text.as_bytes())).into_owned();
        let want = case.masked.clone().unwrap_or_else(|| case.text.clone());
        let mut problems = Vec::new();
        if got != want {
            problems.push(format!("masked {got:?}, want {want:?}"));
        }
        problems.extend(chunking_problems(&c, Format::Text, case.text.as_bytes()));
        problems
    });
}

tollgate_cases::case_files!(
    dir: "tests/cases/detect",
    run: detect_file,
    files: [email, phone, card, iban, ssn, ip, secrets, custom, actions, text],
);
