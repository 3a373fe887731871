//! wrk through real Envoy, in one run: pii-mask masking the labelled corpus's mixed JSON
//! (customer records: emails, phones, IPs, cards and IBANs among ids, dates and prose;
//! `scripts/pii-corpus`) at 1 KB and 64 KB, against the same responses passed through
//! with no filter and through the empty wasm filter; and pii-mask on a body with
//! nothing to mask, the pass-through cost of the scan itself.

use std::path::Path;

use anyhow::{Context, Result};
use tollgate_envoy_harness::{Envoy, EnvoyConfig, Upstream, WasmFilter};

use crate::bench::{Case, ensure_all_pass, measure, print_heading, print_table};

/// The corpus body `name`, written by `scripts/pii-corpus` (which the bench script runs).
fn corpus(name: &str) -> Result<Vec<u8>> {
    let path = tollgate_envoy_harness::repo_root()
        .join(".tollgate/pii-corpus")
        .join(name);
    std::fs::read(&path).with_context(|| format!("{} (run scripts/pii-corpus)", path.display()))
}

/// A 64 KB JSON array of records with nothing a detector takes.
fn clean_64k() -> Vec<u8> {
    let record = r#"{"name": "Ms Helen Mistry", "note": "Chance organization cultural individual company itself hard charge major animal bag hold daughter wind trial none.", "active": true, "tags": ["past", "close"]}"#;
    let mut body = b"[".to_vec();
    while body.len() < 64 << 10 {
        if body.len() > 1 {
            body.extend_from_slice(b", ");
        }
        body.extend_from_slice(record.as_bytes());
    }
    body.push(b']');
    body
}

pub fn run(seconds: u64, dist: &Path) -> Result<()> {
    let upstream = Upstream::start()?;
    let small = corpus("mixed-1k.json")?;
    let large = corpus("mixed-64k.json")?;
    let clean = clean_64k();
    upstream.route("/1k", 200, small.clone());
    upstream.route("/64k", 200, large.clone());
    upstream.route("/clean", 200, clean.clone());
    let base = || EnvoyConfig::new(upstream.addr());
    let bare = Envoy::start(&base())?;
    let empty = Envoy::start(&base().filter(WasmFilter::new(
        "empty",
        &dist.join("fixtures").join("empty-filter.wasm"),
    )))?;
    let mask = Envoy::start(
        &base().filter(WasmFilter::new("pii-mask", &dist.join("pii-mask.wasm")).config("{}")),
    )?;
    let case = |name: &str, envoy, path: &'static str| Case {
        name: name.to_string(),
        envoy,
        path,
        headers: Vec::new(),
    };
    let sets = [
        ("1 KB", "/1k", small.len()),
        ("64 KB", "/64k", large.len()),
        ("64 KB, nothing to mask", "/clean", clean.len()),
    ];
    for (label, path, len) in sets {
        let cases = vec![
            case("no filter", &bare, path),
            case("empty wasm filter", &empty, path),
            case("pii-mask", &mask, path),
        ];
        ensure_all_pass(&cases)?;
        let masked = cases
            .get(2)
            .map(Case::send)
            .transpose()?
            .map(|r| r.body)
            .unwrap_or_default();
        if path != "/clean" {
            anyhow::ensure!(
                masked.len() != len && String::from_utf8_lossy(&masked).contains("[EMAIL]"),
                "{label}: pii-mask did not mask"
            );
        }
        let results = measure(&cases, seconds, 2)?;
        print_heading(
            &format!("pii-mask through real Envoy: {label} JSON responses"),
            seconds,
            &format!("GET answered with a {len}-byte JSON body"),
        )?;
        print_table(&results);
        let rps = |name: &str| {
            results
                .iter()
                .find(|(n, _)| n == name)
                .map_or(f64::NAN, |(_, f)| f.rps)
        };
        let mib = |r: f64| r * len as f64 / f64::from(1u32 << 20);
        println!(
            "\nBody bytes through Envoy: {:.1} MiB/s with pii-mask, {:.1} MiB/s through the empty \
             filter, {:.1} MiB/s with no filter (one connection, one worker).\n",
            mib(rps("pii-mask")),
            mib(rps("empty wasm filter")),
            mib(rps("no filter")),
        );
    }
    println!("Absolute times on this machine are not stable; compare the ratios within this run.");
    drop((bare, empty, mask));
    Ok(())
}
