//! OPA bundles in OPA's own format: a `.tar.gz` (or a directory) holding `.manifest`
//! (`revision`, `roots`, `rego_version`), `*.rego` files and `data.json` / `data.yaml`
//! files whose directory is their place under `data`, and optionally a
//! `.signatures.json` (see [`crate::signature`]).
//!
//! Reading is bounded (total size, file count) and refuses paths that climb out of the
//! bundle, so a hostile archive costs nothing but an error.

use std::collections::BTreeMap;
use std::io::Read;

use serde::Deserialize;
use serde_json::{Map, Value as Json};

use crate::engine::{Module, Sources};

/// The file listing the bundle's signature.
pub const SIGNATURES_FILE: &str = ".signatures.json";
pub const MANIFEST_FILE: &str = ".manifest";

/// Bounds on what one bundle may hold once unpacked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_bytes: usize,
    pub max_files: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 16 * 1024 * 1024,
            max_files: 10_000,
        }
    }
}

/// `.manifest`, as OPA writes it (unknown fields are kept out of our way, as OPA does).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct Manifest {
    #[serde(default)]
    pub revision: String,
    /// Paths under `data` this bundle owns; absent means all of `data`.
    #[serde(default)]
    pub roots: Option<Vec<String>>,
    /// `0` for Rego v0 modules, `1` (or absent, OPA 1.x) for v1.
    #[serde(default)]
    pub rego_version: Option<u8>,
    #[serde(default)]
    pub metadata: Option<Json>,
}

/// A bundle's files, by normalised path (`a/b/data.json`, no leading `/`).
#[derive(Debug, Clone, Default)]
pub struct Files(pub BTreeMap<String, Vec<u8>>);

/// A bundle read and checked, not yet compiled.
#[derive(Debug, Clone, Default)]
pub struct Bundle {
    pub manifest: Manifest,
    pub sources: Sources,
    pub files: Files,
}

fn normalise(path: &str) -> Result<String, String> {
    let trimmed = path.trim_start_matches("./").trim_start_matches('/');
    let mut parts = Vec::new();
    for part in trimmed.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(format!("`{path}` climbs out of the bundle")),
            p => parts.push(p),
        }
    }
    Ok(parts.join("/"))
}

impl Files {
    /// Unpacks a `.tar.gz` within `limits`.
    pub fn from_tar_gz(bytes: &[u8], limits: Limits) -> Result<Self, String> {
        let gz = flate2::read::GzDecoder::new(bytes);
        let mut archive = tar::Archive::new(gz);
        let entries = archive
            .entries()
            .map_err(|e| format!("not a .tar.gz bundle: {e}"))?;
        let mut files = BTreeMap::new();
        let mut total = 0usize;
        for entry in entries {
            let mut entry = entry.map_err(|e| format!("not a .tar.gz bundle: {e}"))?;
            let kind = entry.header().entry_type();
            if kind.is_dir() {
                continue;
            }
            if !kind.is_file() {
                return Err("the bundle holds a link or special file".into());
            }
            let raw = entry
                .path()
                .map_err(|e| format!("a file name in the bundle: {e}"))?
                .to_string_lossy()
                .into_owned();
            let path = normalise(&raw)?;
            if files.len() >= limits.max_files {
                return Err(format!(
                    "the bundle has more than {} files",
                    limits.max_files
                ));
            }
            let room = limits.max_bytes.saturating_sub(total);
            let mut data = Vec::new();
            (&mut entry)
                .take(room as u64 + 1)
                .read_to_end(&mut data)
                .map_err(|e| format!("`{path}` in the bundle: {e}"))?;
            if data.len() > room {
                return Err(format!(
                    "the bundle is larger than {} bytes unpacked",
                    limits.max_bytes
                ));
            }
            total += data.len();
            if files.insert(path.clone(), data).is_some() {
                return Err(format!("`{path}` appears twice in the bundle"));
            }
        }
        Ok(Self(files))
    }

    /// Reads a bundle directory (what `opa build` packs), within `limits`.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn from_dir(dir: &std::path::Path, limits: Limits) -> Result<Self, String> {
        fn walk(
            root: &std::path::Path,
            dir: &std::path::Path,
            out: &mut BTreeMap<String, Vec<u8>>,
            total: &mut usize,
            limits: Limits,
        ) -> Result<(), String> {
            let mut entries: Vec<_> = std::fs::read_dir(dir)
                .map_err(|e| format!("{}: {e}", dir.display()))?
                .filter_map(Result::ok)
                .collect();
            entries.sort_by_key(|e| e.file_name());
            for entry in entries {
                let path = entry.path();
                let kind = entry.file_type().map_err(|e| e.to_string())?;
                if kind.is_dir() {
                    walk(root, &path, out, total, limits)?;
                } else if kind.is_file() && bundle_file(&path) {
                    let rel = path
                        .strip_prefix(root)
                        .map_err(|e| e.to_string())?
                        .to_string_lossy()
                        .replace('\\', "/");
                    let data = std::fs::read(&path).map_err(|e| format!("{rel}: {e}"))?;
                    *total += data.len();
                    if *total > limits.max_bytes || out.len() >= limits.max_files {
                        return Err(format!(
                            "the bundle is larger than {} bytes or {} files",
                            limits.max_bytes, limits.max_files
                        ));
                    }
                    out.insert(rel, data);
                }
            }
            Ok(())
        }
        let mut files = BTreeMap::new();
        let mut total = 0;
        walk(dir, dir, &mut files, &mut total, limits)?;
        Ok(Self(files))
    }

    /// Packs these files as a `.tar.gz` bundle.
    pub fn to_tar_gz(&self) -> Result<Vec<u8>, String> {
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        let mut builder = tar::Builder::new(gz);
        for (path, data) in &self.0 {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_mtime(0);
            header.set_cksum();
            builder
                .append_data(&mut header, path, data.as_slice())
                .map_err(|e| e.to_string())?;
        }
        builder
            .into_inner()
            .and_then(flate2::write::GzEncoder::finish)
            .map_err(|e| e.to_string())
    }
}

/// Whether a file in a bundle directory belongs in the bundle (OPA's loader takes
/// policies, data and the manifest and signatures; a README stays out).
#[cfg(not(target_arch = "wasm32"))]
fn bundle_file(path: &std::path::Path) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    name.ends_with(".rego")
        || matches!(
            name,
            "data.json" | "data.yaml" | "data.yml" | MANIFEST_FILE | SIGNATURES_FILE
        )
}

/// The file names that carry data, by format.
fn data_format(path: &str) -> Option<(&str, bool)> {
    let (dir, name) = match path.rsplit_once('/') {
        Some((d, n)) => (d, n),
        None => ("", path),
    };
    match name {
        "data.json" => Some((dir, false)),
        "data.yaml" | "data.yml" => Some((dir, true)),
        _ => None,
    }
}

/// Puts `value` at `dir` (a `/`-separated path) inside `data`, merging objects; the same
/// leaf written twice is an error, as in OPA.
fn merge_at(
    data: &mut Map<String, Json>,
    dir: &str,
    value: Json,
    file: &str,
) -> Result<(), String> {
    let mut node = data;
    let parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    let Some((last, parents)) = parts.split_last() else {
        let Json::Object(map) = value else {
            return Err(format!(
                "{file}: data at the bundle's root must be an object"
            ));
        };
        return merge_objects(node, map, file);
    };
    for p in parents {
        let entry = node
            .entry((*p).to_string())
            .or_insert_with(|| Json::Object(Map::new()));
        let Json::Object(next) = entry else {
            return Err(format!("{file}: `{dir}` overlaps data written elsewhere"));
        };
        node = next;
    }
    match (node.get_mut(*last), value) {
        (None, value) => {
            node.insert((*last).to_string(), value);
            Ok(())
        }
        (Some(Json::Object(existing)), Json::Object(map)) => merge_objects(existing, map, file),
        _ => Err(format!("{file}: `{dir}` is written by more than one file")),
    }
}

fn merge_objects(
    into: &mut Map<String, Json>,
    from: Map<String, Json>,
    file: &str,
) -> Result<(), String> {
    for (k, v) in from {
        match (into.get_mut(&k), v) {
            (None, v) => {
                into.insert(k, v);
            }
            (Some(Json::Object(a)), Json::Object(b)) => merge_objects(a, b, file)?,
            _ => return Err(format!("{file}: `{k}` is written by more than one file")),
        }
    }
    Ok(())
}

/// Whether `path` (`/`-separated, under `data`) lies under one of `roots`.
pub fn under_roots(path: &str, roots: &[String]) -> bool {
    roots.iter().any(|root| {
        let root = root.trim_matches('/');
        root.is_empty()
            || path == root
            || path
                .strip_prefix(root)
                .is_some_and(|rest| rest.starts_with('/'))
    })
}

impl Bundle {
    /// Reads the manifest, modules and data from `files`. Signatures are checked by the
    /// caller before this (see [`crate::signature::verify`]).
    pub fn from_files(files: Files) -> Result<Self, String> {
        let manifest: Manifest = match files.0.get(MANIFEST_FILE) {
            Some(bytes) => {
                serde_json::from_slice(bytes).map_err(|e| format!("{MANIFEST_FILE}: {e}"))?
            }
            None => Manifest::default(),
        };
        let roots = manifest
            .roots
            .clone()
            .unwrap_or_else(|| vec![String::new()]);
        let mut modules = Vec::new();
        let mut data = Map::new();
        for (path, bytes) in &files.0 {
            if path.ends_with(".rego") {
                let text =
                    String::from_utf8(bytes.clone()).map_err(|_| format!("{path}: not UTF-8"))?;
                modules.push(Module {
                    name: path.clone(),
                    text,
                });
            } else if let Some((dir, yaml)) = data_format(path) {
                let value: Json = if yaml {
                    serde_norway::from_slice(bytes).map_err(|e| format!("{path}: {e}"))?
                } else {
                    serde_json::from_slice(bytes).map_err(|e| format!("{path}: {e}"))?
                };
                if let Some(outside) = outside_roots(dir, &value, &roots) {
                    return Err(format!(
                        "{path}: data at `{outside}` is outside the manifest's roots"
                    ));
                }
                merge_at(&mut data, dir, value, path)?;
            }
        }
        let rego_v0 = manifest.rego_version == Some(0);
        Ok(Self {
            manifest,
            sources: Sources {
                modules,
                data: Json::Object(data),
                rego_v0,
                roots: Some(roots),
            },
            files,
        })
    }
}

/// The first data path in `value` (placed at `dir`) that no root covers.
fn outside_roots(dir: &str, value: &Json, roots: &[String]) -> Option<String> {
    if under_roots(dir, roots) {
        return None;
    }
    // Above every root: only objects leading towards a root may be here.
    let leads_to_root = roots
        .iter()
        .any(|r| dir.is_empty() || r.trim_matches('/').starts_with(&format!("{dir}/")));
    match value {
        Json::Object(map) if leads_to_root => map.iter().find_map(|(k, v)| {
            let child = if dir.is_empty() {
                k.clone()
            } else {
                format!("{dir}/{k}")
            };
            outside_roots(&child, v, roots)
        }),
        _ => Some(dir.to_string()),
    }
}

#[cfg(test)]
#[path = "bundle_tests.rs"]
mod tests;
