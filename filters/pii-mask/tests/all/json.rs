//! The JSON walker (`tests/cases/json/*.yaml`): field rules, detectors on values,
//! valid JSON out for valid JSON in, and the fallback to text for invalid JSON.

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;
use tollgate_cases::Case;
use tollgate_pii_mask::body::Format;

use crate::common::{chunking_problems, compiled, mask};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonCase {
    name: String,
    #[serde(default)]
    config: Option<Value>,
    /// The body, as written (not re-serialised).
    body: String,
    /// The masked body, byte for byte.
    masked: String,
    /// Whether the input is invalid JSON (then the output need not parse). Default:
    /// `false`: input and output must both parse.
    #[serde(default)]
    invalid: bool,
}

impl Case for JsonCase {
    fn name(&self) -> &str {
        &self.name
    }
}

fn parses(text: &str) -> bool {
    serde_json::Deserializer::from_str(text)
        .into_iter::<Value>()
        .all(|v| v.is_ok())
}

fn json_file(path: &Path) {
    let cases: Vec<JsonCase> = tollgate_cases::load(path);
    tollgate_cases::run(path, &cases, |case| {
        let c = compiled(case.config.as_ref());
        let got =
            String::from_utf8_lossy(&mask(&c, Format::Json, case.body.as_bytes())).into_owned();
        let mut problems = Vec::new();
        if got != case.masked {
            problems.push(format!("masked {got:?}, want {:?}", case.masked));
        }
        if !case.invalid {
            if !parses(&case.body) {
                problems.push("the body is not JSON: mark the case `invalid: true`".into());
            } else if !parses(&got) {
                problems.push(format!("the output is not JSON: {got:?}"));
            }
        }
        problems.extend(chunking_problems(&c, Format::Json, case.body.as_bytes()));
        problems
    });
}

tollgate_cases::case_files!(dir: "tests/cases/json", run: json_file, files: [rules, values, structure]);
