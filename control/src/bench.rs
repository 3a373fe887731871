//! wrk through real Envoy: the same route with and without the filter chain, in one run.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context as _, Result, bail};
use tollgate_envoy_harness::{Envoy, EnvoyConfig, Upstream, WasmFilter, envoy_binary};

use crate::edge;

/// One wrk run's figures.
#[derive(Debug, Clone, Copy, Default)]
struct Figures {
    rps: f64,
    p50_us: f64,
    p99_us: f64,
}

fn micros(value: &str) -> Option<f64> {
    let (number, unit) = value
        .find(|c: char| c.is_ascii_alphabetic())
        .map(|i| value.split_at(i))?;
    let n: f64 = number.parse().ok()?;
    Some(match unit {
        "us" => n,
        "ms" => n * 1_000.0,
        "s" => n * 1_000_000.0,
        _ => return None,
    })
}

fn wrk(url: &str, seconds: u64, headers: &[&str]) -> Result<Figures> {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t1", "-c1", "--latency", "-d"])
        .arg(format!("{seconds}s"));
    for h in headers {
        cmd.args(["-H", h]);
    }
    let out = cmd
        .arg(url)
        .output()
        .context("running wrk (scripts/setup --bench installs it)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut f = Figures::default();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", v] => f.rps = v.parse().unwrap_or(0.0),
            ["50%", v] => f.p50_us = micros(v).unwrap_or(0.0),
            ["99%", v] => f.p99_us = micros(v).unwrap_or(0.0),
            _ => {}
        }
    }
    if f.rps <= 0.0 {
        bail!("wrk produced no figures:\n{text}");
    }
    Ok(f)
}

pub fn run(seconds: u64, dist: Option<PathBuf>) -> Result<()> {
    let dist = edge::dist_dir(dist);
    let upstream = Upstream::start()?;
    let bare = Envoy::start(&EnvoyConfig::new(upstream.addr()))?;
    let empty_wasm = dist.join("fixtures").join("empty-filter.wasm");
    let empty = Envoy::start(
        &EnvoyConfig::new(upstream.addr()).filter(WasmFilter::new("empty", &empty_wasm)),
    )?;
    let (filtered, _upstream2) = edge::start(1, &dist)?;
    let version = Command::new(envoy_binary()?)
        .arg("--version")
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split("version: ")
                .nth(1)
                .unwrap_or_default()
                .trim()
                .to_string()
        })
        .unwrap_or_default();

    // Interleave the runs so drift on a shared machine hits both sides alike.
    let cases: [(&str, &Envoy, &str, Vec<&str>); 4] = [
        ("no filter", &bare, "/api/items", vec![]),
        (
            "empty kit filter (declines every stream)",
            &empty,
            "/api/items",
            vec![],
        ),
        (
            "conformance filter, pass-through path",
            &filtered,
            "/api/items",
            vec![],
        ),
        (
            "conformance filter, headers scenario (13 hostcalls + shared-data writes)",
            &filtered,
            "/conformance/headers",
            vec!["x-conformance-id: bench", "x-probe: p"],
        ),
    ];
    let mut results: Vec<(String, Vec<Figures>)> = cases
        .iter()
        .map(|(n, ..)| ((*n).to_string(), Vec::new()))
        .collect();
    for _round in 0..2 {
        for (i, (_, envoy, path, headers)) in cases.iter().enumerate() {
            let url = format!("http://{}{path}", envoy.addr());
            let f = wrk(&url, seconds, headers)?;
            if let Some((_, v)) = results.get_mut(i) {
                v.push(f);
            }
        }
    }
    let mean = |v: &[Figures], pick: fn(&Figures) -> f64| {
        v.iter().map(pick).sum::<f64>() / v.len().max(1) as f64
    };
    let base = results
        .first()
        .map(|(_, v)| (mean(v, |f| f.p50_us), mean(v, |f| f.rps)))
        .unwrap_or((1.0, 1.0));
    println!("# wrk through real Envoy: with vs without the filter chain\n");
    println!("- machine: {}", crate::machine::describe());
    println!("- Envoy version: {version}");
    println!(
        "- load: wrk -t1 -c1, {seconds} s per run, 2 interleaved rounds per case, one Envoy worker\n"
    );
    println!(
        "| case | p50 latency vs no filter | added p50 (µs) | throughput vs no filter | p99 (µs) |"
    );
    println!("|---|---|---|---|---|");
    for (name, v) in &results {
        let p50 = mean(v, |f| f.p50_us);
        let rps = mean(v, |f| f.rps);
        println!(
            "| {name} | {:.2}× | {:+.0} | {:.2}× | {:.0} |",
            p50 / base.0,
            p50 - base.0,
            rps / base.1,
            mean(v, |f| f.p99_us)
        );
    }
    println!(
        "\nAbsolute times on this machine are not stable; compare the ratios within this run."
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::micros;

    #[test]
    fn wrk_units() {
        assert_eq!(micros("250.00us"), Some(250.0));
        assert_eq!(micros("1.50ms"), Some(1500.0));
        assert_eq!(micros("2s"), Some(2_000_000.0));
        assert_eq!(micros("x"), None);
    }
}
