//! pii-mask's throughput on mixed JSON and text bodies (`scripts/pii_corpus.py`: customer
//! records with emails, phones, cards, IBANs and IPs among ids, dates and prose) of
//! 1 KB, 64 KB and 1 MB: natively (the body in 16 KiB chunks through `BodyMasker`), and
//! the built `.wasm` in the wasmtime host (the same chunks as response body callbacks)
//! beside the empty filter passing the same response. Criterion reports MB/s; quote
//! ratios within one run.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // benchmark code: a broken setup fails the run

use std::hint::black_box;
use std::process::Command;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tollgate_envoy_harness::repo_root;
use tollgate_host_suite::{fixture_path, wasm};
use tollgate_kit::HostFacts;
use tollgate_pii_mask::body::{BodyMasker, Format, Over};
use tollgate_pii_mask::json::Ctx;
use tollgate_pii_mask::segment::Tally;
use tollgate_wasm_host::{Plugin, Request, UpstreamReply};

const CHUNK: usize = 16 << 10;

fn corpus(name: &str) -> Vec<u8> {
    let dir = repo_root().join(".tollgate/pii-corpus");
    if !dir.join(name).is_file() {
        assert!(
            Command::new("bash")
                .arg(repo_root().join("scripts/pii-corpus"))
                .status()
                .unwrap()
                .success()
        );
    }
    std::fs::read(dir.join(name)).unwrap()
}

fn plugin(wasm_bytes: &[u8], body: &[u8], content_type: &'static str) -> Plugin {
    let mut p = Plugin::builder(wasm_bytes)
        .named("f")
        .config("{}")
        .build()
        .unwrap();
    let chunks: Vec<Vec<u8>> = body.chunks(CHUNK).map(<[u8]>::to_vec).collect();
    p.upstream(move |_| {
        let mut r = UpstreamReply::new(200).header("content-type", content_type);
        for c in &chunks {
            r = r.chunk(c.clone());
        }
        r
    });
    p
}

fn bench(c: &mut Criterion) {
    let compiled = tollgate_pii_mask::config::load(b"{}", HostFacts::default()).unwrap();
    let cx = Ctx {
        masker: &compiled.masker,
        rules: &compiled.rules,
    };
    let mask_wasm = wasm("pii-mask").expect("run scripts/build-wasm first");
    let empty = std::fs::read(fixture_path("empty-filter").unwrap()).unwrap();
    for size in ["1k", "64k", "1m"] {
        for (ext, format, ct) in [
            ("json", Format::Json, "application/json"),
            ("txt", Format::Text, "text/plain"),
        ] {
            let body = corpus(&format!("mixed-{size}.{ext}"));
            let mut group = c.benchmark_group(format!("pii_mask/{ext}/{size}"));
            group.throughput(Throughput::Bytes(body.len() as u64));
            if size == "1m" {
                group.sample_size(20);
            }
            group.bench_function("native", |b| {
                b.iter(|| {
                    let mut m = BodyMasker::new(format, None, 1 << 30, Over::Stop);
                    let mut tally = Tally::default();
                    let chunks: Vec<&[u8]> = body.chunks(CHUNK).collect();
                    let mut out = Vec::with_capacity(body.len());
                    for (i, ch) in chunks.iter().enumerate() {
                        m.push(&cx, ch, i + 1 == chunks.len(), &mut out, &mut tally)
                            .unwrap();
                    }
                    black_box(out)
                })
            });
            let mut masked = plugin(&mask_wasm, &body, ct);
            group.bench_function("wasm", |b| {
                b.iter(|| black_box(masked.send(Request::get("/x")).unwrap().client.body.len()))
            });
            let mut passing = plugin(&empty, &body, ct);
            group.bench_function("empty filter", |b| {
                b.iter(|| black_box(passing.send(Request::get("/x")).unwrap().client.body.len()))
            });
            group.finish();
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
