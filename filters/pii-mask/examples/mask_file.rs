//! Masks a file with the default config (every detector, placeholders) in 16 KiB chunks,
//! as the filter receives a body, and prints the best and the median throughput of `runs` in MB/s
//! (10^6 bytes). JSON when the name ends in `.json`, else text. For comparisons run on
//! the same machine in one session (`scripts/bench-presidio`); criterion's figures are
//! in `testing/suite/benches/pii_mask.rs`.
//!
//!     cargo run --release -p tollgate-pii-mask --example mask_file -- FILE [RUNS]
#![allow(clippy::print_stdout)] // a command-line tool: its output is the figure

use std::process::ExitCode;
use std::time::{Duration, Instant};

use tollgate_kit::HostFacts;
use tollgate_pii_mask::body::{BodyMasker, Format, Over};
use tollgate_pii_mask::json::Ctx;
use tollgate_pii_mask::segment::Tally;

const CHUNK: usize = 16 << 10;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(file), runs) = (args.next(), args.next()) else {
        eprintln!("usage: mask_file FILE [RUNS]");
        return ExitCode::FAILURE;
    };
    let runs: u32 = runs.and_then(|r| r.parse().ok()).unwrap_or(20);
    let body = match std::fs::read(&file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{file}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let format = if file.ends_with(".json") {
        Format::Json
    } else {
        Format::Text
    };
    let compiled = match tollgate_pii_mask::config::load(b"{}", HostFacts::default()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("config: {e}");
            return ExitCode::FAILURE;
        }
    };
    let cx = Ctx {
        masker: &compiled.masker,
        rules: &compiled.rules,
    };
    let mut times = Vec::new();
    let mut matches = 0;
    for _ in 0..runs.max(1) {
        let started = Instant::now();
        let mut masker = BodyMasker::new(format, None, 1 << 30, Over::Stop);
        let mut tally = Tally::default();
        let mut out = Vec::with_capacity(body.len());
        let mut chunks = body.chunks(CHUNK).peekable();
        while let Some(chunk) = chunks.next() {
            let last = chunks.peek().is_none();
            if let Err(e) = masker.push(&cx, chunk, last, &mut out, &mut tally) {
                eprintln!("masking: {e:?}");
                return ExitCode::FAILURE;
            }
        }
        times.push(started.elapsed());
        matches = tally.total();
        std::hint::black_box(out);
    }
    times.sort();
    let rate =
        |t: Option<&Duration>| body.len() as f64 / t.map_or(0.0, Duration::as_secs_f64) / 1e6;
    // The median as well as the best: this machine has fast and slow spells, and the
    // best alone shows only the fast one.
    println!(
        "{:.1} MB/s, median {:.1} MB/s ({} bytes, {matches} matches, {runs} runs)",
        rate(times.first()),
        rate(times.get(times.len() / 2)),
        body.len()
    );
    ExitCode::SUCCESS
}
