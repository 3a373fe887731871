//! Kong's ngx_wasm_module and APISIX's wasm-nginx-module link every import when a module
//! loads: an import the host lacks, or declares with another signature, keeps the
//! module from loading even if it is never called. This test reads each host's table
//! of host functions from its source (the archives in `../shared/hosts/src`, at the
//! commits the prebuilt hosts were built from) and checks every import of every
//! product filter against it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context as _, Result, bail};
use tollgate_envoy_harness::repo_root;
use tollgate_host_suite::{fixture_path, wasm};

/// (params, results) as `i32`/`i64` names.
type Signature = (Vec<&'static str>, Vec<&'static str>);

fn shared_src(archive: &str) -> PathBuf {
    repo_root().join("../shared/hosts/src").join(archive)
}

/// One file out of a source archive.
fn source_file(archive: &str, path: &str) -> Result<String> {
    let out = Command::new("tar")
        .arg("-xzOf")
        .arg(shared_src(archive))
        .arg(path)
        .output()
        .context("running tar")?;
    if !out.status.success() {
        bail!(
            "{path} in {archive}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8(out.stdout)?)
}

fn i32s(n: usize) -> Vec<&'static str> {
    vec!["i32"; n]
}

/// Kong: `{ ngx_string("name"), &handler, ngx_wavm_arity_<args> | NULL, ngx_wavm_arity_<rets> | NULL }`.
fn kong_table(text: &str) -> BTreeMap<String, Signature> {
    // `ngx_wavm_arity_i32x5`, `ngx_wavm_arity_i32_i64_i32`, …: types joined by `_`, each
    // optionally repeated (`xN`).
    let arity = |token: &str| -> Vec<&'static str> {
        let Some(spec) = token.strip_prefix("ngx_wavm_arity_") else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for part in spec.split('_') {
            let (ty, n) = part.split_once('x').unwrap_or((part, "1"));
            let ty = match ty {
                "i32" => "i32",
                "i64" => "i64",
                other => panic!("unknown Kong arity type {other} in {token}"),
            };
            out.extend(std::iter::repeat_n(ty, n.parse().unwrap()));
        }
        out
    };
    let mut out = BTreeMap::new();
    for entry in text.split("ngx_string(\"").skip(1) {
        let Some((name, rest)) = entry.split_once('"') else {
            continue;
        };
        let body = rest.split('}').next().unwrap_or_default();
        let tokens: Vec<&str> = body
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|t| t.starts_with("ngx_wavm_arity_") || *t == "NULL")
            .collect();
        if let [args, rets] = tokens.as_slice() {
            out.insert(name.to_string(), (arity(args), arity(rets)));
        }
    }
    out
}

/// APISIX: `DEFINE_WASM_NAME(name, DEFINE_WASM_NAME_ARG_<args>)`, every result one i32.
fn apisix_table(text: &str) -> BTreeMap<String, Signature> {
    let mut out = BTreeMap::new();
    for entry in text.split("DEFINE_WASM_NAME(").skip(1) {
        let Some((name, rest)) = entry.split_once(',') else {
            continue;
        };
        let arg = rest.split(')').next().unwrap_or_default().trim();
        let params = match arg.strip_prefix("DEFINE_WASM_NAME_ARG_") {
            Some("VOID") => Vec::new(),
            Some("I32_I64") => vec!["i32", "i64"],
            Some(n) => match n.strip_prefix("I32_").and_then(|n| n.parse().ok()) {
                Some(n) => i32s(n),
                None => continue, // the macro's own definition
            },
            None => continue,
        };
        out.insert(name.trim().to_string(), (params, i32s(1)));
    }
    out
}

fn imports(filter: &str) -> Result<Vec<(String, String, Signature)>> {
    let engine = wasmtime::Engine::default();
    // The portable conformance build is a test fixture, not a shipped filter.
    let bytes = match filter {
        "conformance-portable" => std::fs::read(fixture_path(filter)?)?,
        _ => wasm(filter)?,
    };
    let module = wasmtime::Module::new(&engine, bytes)?;
    let name = |t: &wasmtime::ValType| if t.is_i64() { "i64" } else { "i32" };
    Ok(module
        .imports()
        .filter_map(|i| {
            let wasmtime::ExternType::Func(f) = i.ty() else {
                return None;
            };
            let sig = (
                f.params().map(|t| name(&t)).collect(),
                f.results().map(|t| name(&t)).collect(),
            );
            Some((i.module().to_string(), i.name().to_string(), sig))
        })
        .collect())
}

#[test]
fn filters_import_only_what_kong_and_apisix_provide() -> Result<()> {
    let kong_env = kong_table(&source_file(
        "ngx_wasm_module-3bed278.tar.gz",
        "ngx_wasm_module-3bed278/src/common/proxy_wasm/ngx_proxy_wasm_host.c",
    )?);
    let kong_wasi = kong_table(&source_file(
        "ngx_wasm_module-3bed278.tar.gz",
        "ngx_wasm_module-3bed278/src/wasm/wasi/ngx_wasi_preview1_host.c",
    )?);
    let apisix_env = apisix_table(&source_file(
        "wasm-nginx-module-0b4b31d.tar.gz",
        "wasm-nginx-module-0b4b31d/src/http/ngx_http_wasm_api_wasmtime.h",
    )?);
    assert!(
        kong_env.len() > 40 && apisix_env.len() > 35,
        "the tables were read"
    );
    // What the hosts' READMEs say they lack or declare differently.
    assert!(!kong_env.contains_key("proxy_get_header_map_size"));
    assert_eq!(kong_env["proxy_get_log_level"].0, i32s(2));
    assert_eq!(apisix_env["proxy_get_metric"].0, ["i32", "i64"]);
    let mut checked = 0;
    // The product filters (the catalog), and the conformance build that checks the
    // host facts there.
    let filters = tollgate_catalog::names().chain(["conformance-portable"]);
    for filter in filters {
        for (module, name, sig) in imports(filter)? {
            let (kong, apisix) = match module.as_str() {
                "env" => (kong_env.get(&name), apisix_env.get(&name)),
                // APISIX links all of WASI preview1 through wasmtime.
                "wasi_snapshot_preview1" => (kong_wasi.get(&name), Some(&sig)),
                other => panic!("{filter} imports from module {other}"),
            };
            assert_eq!(
                kong,
                Some(&sig),
                "{filter}: Kong and {module}.{name}{sig:?}"
            );
            assert_eq!(
                apisix,
                Some(&sig),
                "{filter}: APISIX and {module}.{name}{sig:?}"
            );
            checked += 1;
        }
    }
    assert!(checked > 60, "{checked} imports checked");
    Ok(())
}

#[test]
fn the_conformance_filter_alone_imports_the_unlinkable_hostcalls() -> Result<()> {
    let unlinkable = [
        "proxy_get_header_map_size",
        "proxy_get_log_level",
        "proxy_get_metric",
    ];
    for filter in tollgate_catalog::names().chain(["conformance", "conformance-portable"]) {
        let names: Vec<String> = imports(filter)?.into_iter().map(|(_, n, _)| n).collect();
        for call in unlinkable {
            assert_eq!(
                names.iter().any(|n| n == call),
                filter == "conformance",
                "{filter} and {call}"
            );
        }
    }
    Ok(())
}
