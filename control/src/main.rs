//! `tollgate`: Tollgate's command line.
//!
//! * `tollgate run`: the main job: real Envoy with the filters in front of a demo
//!   upstream on loopback, with embedded defaults.
//! * `tollgate validate`: checks a filter config with the filter's own code, or lints
//!   an Envoy bootstrap (`--envoy`) for format strings that would leak credentials.
//! * `tollgate bench-envoy`: wrk through real Envoy with and without the filters.
//! * `tollgate bench-jwt`: jwt-auth against Envoy's native `jwt_authn`, through Envoy.
#![forbid(unsafe_code)]

mod bench;
mod bench_jwt;
mod demo_idp;
mod edge;
mod machine;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "tollgate",
    version,
    about = "Tollgate: API security and traffic logic at the edge"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start real Envoy with the Tollgate filters in front of a demo upstream.
    Run {
        /// Start, prove a request passes through the filters, then stop.
        #[arg(long)]
        smoke: bool,
        /// Envoy worker threads (each runs its own filter VMs).
        #[arg(long, default_value_t = 2)]
        concurrency: usize,
        /// Directory holding the built filters (`scripts/build-wasm` writes `dist/`).
        #[arg(long)]
        dist: Option<PathBuf>,
    },
    /// Validate a filter configuration (JSON) exactly as the filter will, or lint an
    /// Envoy bootstrap that runs the filters (`--envoy`).
    Validate {
        /// The filter the config is for.
        #[arg(long, value_parser = ["jwt-auth", "hcp-auth", "conformance"], required_unless_present = "envoy")]
        filter: Option<String>,
        /// The file is an Envoy bootstrap (YAML or JSON): warn about format strings
        /// that would print jwt-auth's credentials filter state.
        #[arg(long, conflicts_with = "filter")]
        envoy: bool,
        /// With `--envoy`, fail on warnings.
        #[arg(long, requires = "envoy")]
        strict: bool,
        /// The host the filter config is for: what a host cannot do is refused as the
        /// filter refuses it there (for example a cluster name as JWKS upstream on APISIX).
        #[arg(long, value_parser = ["envoy", "kong", "apisix"], default_value = "envoy")]
        host: String,
        /// The config file; `-` reads standard input.
        config: PathBuf,
    },
    /// Measure requests through real Envoy with and without the filters (needs wrk).
    BenchEnvoy {
        /// Seconds per wrk run.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long)]
        dist: Option<PathBuf>,
    },
    /// Measure jwt-auth against Envoy's native jwt_authn through real Envoy (needs wrk).
    BenchJwt {
        /// Seconds per wrk run.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long)]
        dist: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run {
            smoke,
            concurrency,
            dist,
        } => edge::run(smoke, concurrency, dist),
        Command::Validate {
            filter,
            envoy,
            strict,
            host,
            config,
        } => match filter {
            Some(filter) if !envoy => validate::run(&filter, &config, &host),
            _ => validate::run_envoy(&config, strict),
        },
        Command::BenchEnvoy { seconds, dist } => bench::run(seconds, dist),
        Command::BenchJwt { seconds, dist } => bench_jwt::run(seconds, dist),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tollgate: {e:#}");
            ExitCode::FAILURE
        }
    }
}
