//! `tollgate-demo`: the main job and the benchmarks through real Envoy. Demo code: it
//! uses the test harness's Envoy launcher and demo servers, so it is not the product
//! (`control/`), which never depends on it.
//!
//! * `run`: real Envoy with every catalog filter in front of demo upstreams on
//!   loopback, with embedded defaults, supervised until a signal or a child's death.
//! * `bench-envoy`: wrk through real Envoy with and without the filters.
//! * `bench-jwt`: jwt-auth against Envoy's native `jwt_authn`, through Envoy.
//! * `bench-fleet`: simulated Envoys on ECDS against the control service.

mod bench;
mod bench_fleet;
mod bench_jwt;
mod bench_pii_mask;
mod bench_rate_limit;
mod bench_rego;
mod bench_response_cache;
mod control_plane;
mod demo_idp;
mod edge;
mod machine;
mod s3;
mod scratch;
mod signals;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "tollgate-demo",
    version,
    about = "Tollgate's main job and Envoy benchmarks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start real Envoy with the Tollgate filters in front of demo upstreams.
    Run {
        /// Start, prove a request passes through the filters, then stop.
        #[arg(long)]
        smoke: bool,
        /// Envoy worker threads (each runs its own filter VMs).
        #[arg(long, default_value_t = 2)]
        concurrency: usize,
        /// Directory holding the built filters (`scripts/build-wasm` writes `dist/`).
        #[arg(long, default_value = "dist")]
        dist: PathBuf,
    },
    /// Measure requests through real Envoy with and without the filters (needs wrk).
    BenchEnvoy {
        /// Seconds per wrk run.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value = "dist")]
        dist: PathBuf,
    },
    /// Removes a scratch directory once this process's parent dies (started by `run`).
    #[command(hide = true)]
    Reap { dir: PathBuf },
    /// Measure rego-authz against Envoy's native rbac through real Envoy (needs wrk).
    BenchRego {
        /// Seconds per wrk run.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value = "dist")]
        dist: PathBuf,
    },
    /// Measure rate-limit against Envoy's native local_ratelimit and ratelimit through
    /// real Envoy (needs wrk).
    BenchRateLimit {
        /// Seconds per wrk run.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value = "dist")]
        dist: PathBuf,
    },
    /// Measure response-cache's hits, misses and bypasses against the origin's round
    /// trip through real Envoy (needs wrk).
    BenchResponseCache {
        /// Seconds per wrk run.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value = "dist")]
        dist: PathBuf,
    },
    /// Measure pii-mask on mixed JSON bodies against the same responses passed through,
    /// through real Envoy (needs wrk and scripts/pii-corpus).
    BenchPiiMask {
        /// Seconds per wrk run.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value = "dist")]
        dist: PathBuf,
    },
    /// Simulate a fleet of Envoys on ECDS against the release control service: time for
    /// a change to reach 99% and 100% of them, the service's CPU and memory.
    BenchFleet {
        #[arg(long, default_value_t = 1000)]
        gateways: usize,
        /// The control service binary (`cargo build --release -p tollgate-control`).
        #[arg(long, default_value = "target/release/tollgate-control")]
        control: PathBuf,
        #[arg(long, default_value = "dist")]
        dist: PathBuf,
    },
    /// Measure jwt-auth against Envoy's native jwt_authn through real Envoy (needs wrk).
    BenchJwt {
        /// Seconds per wrk run.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value = "dist")]
        dist: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run {
            smoke,
            concurrency,
            dist,
        } => edge::run(smoke, concurrency, &dist),
        Command::Reap { dir } => scratch::reap(&dir).map(|()| ExitCode::SUCCESS),
        Command::BenchEnvoy { seconds, dist } => {
            bench::run(seconds, &dist).map(|()| ExitCode::SUCCESS)
        }
        Command::BenchRego { seconds, dist } => {
            bench_rego::run(seconds, &dist).map(|()| ExitCode::SUCCESS)
        }
        Command::BenchRateLimit { seconds, dist } => {
            bench_rate_limit::run(seconds, &dist).map(|()| ExitCode::SUCCESS)
        }
        Command::BenchResponseCache { seconds, dist } => {
            bench_response_cache::run(seconds, &dist).map(|()| ExitCode::SUCCESS)
        }
        Command::BenchPiiMask { seconds, dist } => {
            bench_pii_mask::run(seconds, &dist).map(|()| ExitCode::SUCCESS)
        }
        Command::BenchFleet {
            gateways,
            control,
            dist,
        } => bench_fleet::run(gateways, &control, &dist).map(|()| ExitCode::SUCCESS),
        Command::BenchJwt { seconds, dist } => {
            bench_jwt::run(seconds, &dist).map(|()| ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("tollgate-demo: {e:#}");
            ExitCode::FAILURE
        }
    }
}
