//! Typed, table-driven case files for the filters' native tests, as regorus keeps its
//! own: YAML files split by topic, each a struct with `deny_unknown_fields`, so a
//! misspelt expectation key fails the run instead of silently dropping an assertion.
//!
//! * [`case_files!`] generates one `#[test]` per file (named after it) and a test that
//!   every `.yaml` file in the directory has one, so a new file cannot go unrun.
//! * `cargo test -p <filter> --test cases <file>` runs one file; `CASE=<text>` runs only
//!   the cases whose name contains it.
//! * [`ConfigErrorCase`] is the one shape of a config-error case for every filter.
#![allow(clippy::panic)] // a test support crate: a broken case file fails the test

use std::fmt::Write as _;
use std::path::Path;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use tollgate_kit::config::ConfigError;

/// A case has a name, unique in its file; failures and `CASE=` use it.
pub trait Case {
    fn name(&self) -> &str;
}

/// Reads a YAML case file into `F`. An unknown key, a missing one or a wrong type fails
/// with the file and the key's path (`cases[3].expect.staus`).
pub fn load<F: DeserializeOwned>(path: &Path) -> F {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let de = serde_norway::Deserializer::from_str(&text);
    serde_path_to_error::deserialize(de)
        .unwrap_or_else(|e| panic!("{}: at `{}`: {}", path.display(), e.path(), e.inner()))
}

/// The cases `CASE` selects (a substring of the name), or all.
fn selected<C: Case>(cases: &[C]) -> impl Iterator<Item = &C> {
    let only = std::env::var("CASE").ok();
    cases
        .iter()
        .filter(move |c| only.as_deref().is_none_or(|o| c.name().contains(o)))
}

/// Runs `check` on every selected case of `file`; fails listing each case that went
/// wrong and why. A file without cases, or with two cases of one name, fails too.
pub fn run<C: Case>(file: &Path, cases: &[C], mut check: impl FnMut(&C) -> Vec<String>) {
    assert!(!cases.is_empty(), "{}: no cases", file.display());
    let mut names: Vec<&str> = cases.iter().map(Case::name).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w.first() == w.last()) {
        panic!("{}: two cases named {:?}", file.display(), w.first());
    }
    let mut report = String::new();
    let mut failed = 0;
    for case in selected(cases) {
        let problems = check(case);
        if !problems.is_empty() {
            failed += 1;
            let _ = writeln!(report, "{}: {}", case.name(), problems.join("; "));
        }
    }
    assert!(
        failed == 0,
        "{}: {failed} case(s) failed:\n{report}",
        file.display()
    );
}

/// Fails unless `listed` names every `.yaml` file in `dir` (by stem) and nothing else.
pub fn assert_all_listed(dir: &Path, listed: &[&str]) {
    let mut on_disk: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = listed.iter().map(|s| (*s).to_string()).collect();
    listed.sort();
    assert_eq!(
        on_disk,
        listed,
        "every case file in {} needs its line in `case_files!`",
        dir.display()
    );
}

/// One `#[test]` per case file, named after the file, each calling `$run(path)`; plus
/// `every_case_file_is_run`.
///
/// ```ignore
/// tollgate_cases::case_files!(dir: "tests/cases/decide", run: decide_file, files: [tokens, claims]);
/// ```
#[macro_export]
macro_rules! case_files {
    (dir: $dir:literal, run: $run:path, files: [$($file:ident),* $(,)?] $(,)?) => {
        $(
            #[test]
            fn $file() {
                $run(&::std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join($dir)
                    .join(concat!(stringify!($file), ".yaml")));
            }
        )*

        #[test]
        fn every_case_file_is_run() {
            $crate::assert_all_listed(
                &::std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join($dir),
                &[$(stringify!($file)),*],
            );
        }
    };
}

/// A config the filter must refuse, and how: the error names `path` and its message
/// contains `contains`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigErrorCase {
    pub name: String,
    /// The config as YAML (turned into JSON), or `raw:` bytes for malformed JSON.
    pub config: ConfigInput,
    /// The field the error must name (`""`: the document).
    pub path: String,
    pub contains: String,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ConfigInput {
    Raw { raw: String },
    Json(serde_json::Value),
}

impl ConfigInput {
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            Self::Raw { raw } => raw.clone().into_bytes(),
            Self::Json(v) => v.to_string().into_bytes(),
        }
    }
}

impl Case for ConfigErrorCase {
    fn name(&self) -> &str {
        &self.name
    }
}

/// Runs a file of [`ConfigErrorCase`]s (a YAML list) against `load`.
pub fn run_config_errors<T>(file: &Path, load: impl Fn(&[u8]) -> Result<T, ConfigError>) {
    let cases: Vec<ConfigErrorCase> = load_file(file);
    run(file, &cases, |case| match load(&case.config.bytes()) {
        Ok(_) => vec!["accepted".into()],
        Err(e) if e.path != case.path || !e.message.contains(&case.contains) => {
            vec![format!("got `{}`: {}", e.path, e.message)]
        }
        Err(_) => Vec::new(),
    });
}

fn load_file<F: DeserializeOwned>(file: &Path) -> F {
    load(file)
}

#[cfg(test)]
#[path = "lib_tests.rs"]
mod tests;
