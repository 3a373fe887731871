//! The conformance filter's typed config cases (`tests/cases/config/*.yaml`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code

use std::path::Path;

use serde::Deserialize;
use tollgate_cases::{Case, ConfigInput};
use tollgate_conformance::ConformanceConfig;
use tollgate_kit::config;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigCase {
    name: String,
    config: ConfigInput,
    /// The compiled config.
    #[serde(default)]
    expect: Option<Compiled>,
    /// Or the error.
    #[serde(default)]
    error: Option<Error>,
}

#[derive(Deserialize, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct Compiled {
    callout_cluster: String,
    grpc_cluster: String,
    tick_ms: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Error {
    path: String,
    contains: String,
}

impl Case for ConfigCase {
    fn name(&self) -> &str {
        &self.name
    }
}

fn config_file(path: &Path) {
    let cases: Vec<ConfigCase> = tollgate_cases::load(path);
    tollgate_cases::run(path, &cases, |case| {
        match (
            config::load::<ConformanceConfig>(&case.config.bytes()),
            &case.expect,
            &case.error,
        ) {
            (Ok(c), Some(expect), None) => {
                let got = Compiled {
                    callout_cluster: c.callout_cluster,
                    grpc_cluster: c.grpc_cluster,
                    tick_ms: c.tick_ms,
                };
                if got != *expect {
                    return vec![format!("got {got:?}, expected {expect:?}")];
                }
                Vec::new()
            }
            (Err(e), None, Some(want)) => {
                if e.path != want.path || !e.message.contains(&want.contains) {
                    return vec![format!("got error at `{}`: {}", e.path, e.message)];
                }
                Vec::new()
            }
            (result, _, _) => vec![format!("unexpected outcome {:?}", result.map(|_| "ok"))],
        }
    });
}

tollgate_cases::case_files!(dir: "tests/cases/config", run: config_file, files: [defaults_and_errors]);
