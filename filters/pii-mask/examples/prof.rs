#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
use std::time::Instant;
use tollgate_kit::HostFacts;
fn main() {
    let body = match std::env::var("BODY") { Ok(p) => std::fs::read(p).unwrap(), Err(_) => std::fs::read("/work/main/.tollgate/pii-corpus/mixed-1m.txt").unwrap() };
    let kinds = ["email","phone","card","iban","ssn","ipv4","ipv6","jwt","bearer","hcp_authorization","aws_access_key","aws_secret_key"];
    let only_arg = std::env::args().nth(1);
    for only in ["all", "noemail", "nophone"].into_iter().chain(kinds.iter().copied()).filter(|k| only_arg.as_deref().is_none_or(|o| o == *k)) {
        let d: serde_json::Map<String, serde_json::Value> = kinds.iter().map(|k| (k.to_string(), serde_json::json!({"enabled": only == "all" || *k == only || (only == "noemail" && *k != "email") || (only == "nophone" && *k != "phone")}))).collect();
        let cfg = serde_json::json!({"detectors": d}).to_string();
        let c = tollgate_pii_mask::config::load(cfg.as_bytes(), HostFacts::default()).unwrap();
        let mut found = 0;
        for line in body.split(|&b| b == b'\n') { found += c.masker.detectors.find_all(line).len(); }
        let t = Instant::now();
        let reps = 10;
        for _ in 0..reps { for line in body.split(|&b| b == b'\n') { std::hint::black_box(c.masker.detectors.find_all(line).len()); } }
        let dt = t.elapsed().as_secs_f64() / reps as f64;
        println!("{only}: {:.1} MB/s ({} found)", body.len() as f64 / dt / 1e6, found);
        let t = Instant::now();
        for _ in 0..reps { std::hint::black_box(c.masker.detectors.find_all(&body).len()); }
        let dt = t.elapsed().as_secs_f64() / reps as f64;
        println!("  whole body in one haystack: {:.1} MB/s", body.len() as f64 / dt / 1e6);
    }
}
