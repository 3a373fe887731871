//! wrk through real Envoy: the same route with and without the filter chain, in one run.

use std::path::Path;
use std::process::Command;

use anyhow::{Context as _, Result, bail};
use tollgate_envoy_harness::{Envoy, EnvoyConfig, Upstream, WasmFilter, envoy_binary};

use crate::edge;

/// One wrk run's figures.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Figures {
    pub rps: f64,
    pub p50_us: f64,
    pub p99_us: f64,
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

pub(crate) fn wrk(url: &str, seconds: u64, headers: &[&str]) -> Result<Figures> {
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

pub fn run(seconds: u64, dist: &Path) -> Result<()> {
    let upstream = Upstream::start()?;
    let bare = Envoy::start(&EnvoyConfig::new(upstream.addr()))?;
    let empty_wasm = dist.join("fixtures").join("empty-filter.wasm");
    let empty = Envoy::start(
        &EnvoyConfig::new(upstream.addr()).filter(WasmFilter::new("empty", &empty_wasm)),
    )?;
    let chain = edge::start(1, dist)?;
    let filtered = &chain.envoy;
    let version = envoy_version()?;

    // Interleave the runs so drift on a shared machine hits both sides alike.
    let cases: [(&str, &Envoy, &str, Vec<&str>); 3] = [
        ("no filter", &bare, "/api/items", vec![]),
        (
            "empty kit filter (declines every stream)",
            &empty,
            "/api/items",
            vec![],
        ),
        (
            "the main job's chain (jwt-auth, hcp-auth), a public route (/health)",
            filtered,
            "/health/items",
            vec![],
        ),
    ];
    let cases: Vec<Case<'_>> = cases
        .iter()
        .map(|(name, envoy, path, headers)| Case {
            name: (*name).to_string(),
            envoy,
            path,
            headers: headers.iter().map(|h| (*h).to_string()).collect(),
        })
        .collect();
    let results = measure(&cases, seconds, 2)?;
    println!("# wrk through real Envoy: with vs without the filter chain\n");
    println!("- machine: {}", crate::machine::describe());
    println!("- Envoy version: {version}");
    println!(
        "- load: wrk -t1 -c1, {seconds} s per run, 2 interleaved rounds per case, one Envoy worker\n"
    );
    print_table(&results);
    println!(
        "\nAbsolute times on this machine are not stable; compare the ratios within this run."
    );
    Ok(())
}

impl Case<'_> {
    /// The benchmark's request, once, through the client.
    pub(crate) fn send(&self) -> Result<tollgate_envoy_harness::HttpResponse> {
        let mut req = tollgate_envoy_harness::HttpRequest::get(self.path);
        for h in &self.headers {
            if let Some((n, v)) = h.split_once(": ") {
                req = req.header(n, v);
            }
        }
        self.envoy.send(&req)
    }
}

/// Every case must actually pass: a refusal is fast and would flatter anyone.
pub(crate) fn ensure_all_pass(cases: &[Case<'_>]) -> Result<()> {
    for c in cases {
        let r = c.send()?;
        anyhow::ensure!(r.status == 200, "{}: status {}", c.name, r.status);
    }
    Ok(())
}

/// A case's p50 in `results` (NaN when absent).
pub(crate) fn p50_of(results: &[(String, Figures)], name: &str) -> f64 {
    results
        .iter()
        .find(|(n, _)| n == name)
        .map_or(f64::NAN, |(_, f)| f.p50_us)
}

/// A comparison's heading: title, machine, Envoy and load.
pub(crate) fn print_heading(title: &str, seconds: u64, repeated: &str) -> Result<()> {
    println!("# {title}\n");
    println!("- machine: {}", crate::machine::describe());
    println!("- Envoy version: {}", envoy_version()?);
    println!(
        "- load: wrk -t1 -c1, {seconds} s per run, 2 interleaved rounds, one Envoy worker; the same {repeated} repeated\n"
    );
    Ok(())
}

/// The results table (the first result is the baseline); returns the baseline's p50.
pub(crate) fn print_table(results: &[(String, Figures)]) -> f64 {
    let (base_p50, base_rps) = results
        .first()
        .map_or((1.0, 1.0), |(_, f)| (f.p50_us, f.rps));
    println!("| case | p50 vs no filter | added p50 (µs) | throughput vs no filter | p99 (µs) |");
    println!("|---|---|---|---|---|");
    for (name, f) in results {
        println!(
            "| {name} | {:.2}× | {:+.0} | {:.2}× | {:.0} |",
            f.p50_us / base_p50,
            f.p50_us - base_p50,
            f.rps / base_rps,
            f.p99_us
        );
    }
    base_p50
}

/// One wrk target.
pub(crate) struct Case<'a> {
    pub name: String,
    pub envoy: &'a Envoy,
    pub path: &'a str,
    pub headers: Vec<String>,
}

/// Runs every case `rounds` times, interleaved so drift on a shared machine hits all
/// alike, and returns each case's mean figures.
pub(crate) fn measure(
    cases: &[Case<'_>],
    seconds: u64,
    rounds: usize,
) -> Result<Vec<(String, Figures)>> {
    let mut runs: Vec<Vec<Figures>> = cases.iter().map(|_| Vec::new()).collect();
    for _round in 0..rounds {
        for (case, v) in cases.iter().zip(runs.iter_mut()) {
            let url = format!("http://{}{}", case.envoy.addr(), case.path);
            let headers: Vec<&str> = case.headers.iter().map(String::as_str).collect();
            v.push(wrk(&url, seconds, &headers)?);
        }
    }
    let mean = |v: &[Figures], pick: fn(&Figures) -> f64| {
        v.iter().map(pick).sum::<f64>() / v.len().max(1) as f64
    };
    Ok(cases
        .iter()
        .zip(runs)
        .map(|(c, v)| {
            let f = Figures {
                rps: mean(&v, |f| f.rps),
                p50_us: mean(&v, |f| f.p50_us),
                p99_us: mean(&v, |f| f.p99_us),
            };
            (c.name.clone(), f)
        })
        .collect())
}

/// `envoy --version`'s version field.
pub(crate) fn envoy_version() -> Result<String> {
    Ok(Command::new(envoy_binary()?)
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
        .unwrap_or_default())
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
