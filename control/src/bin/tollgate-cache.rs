//! `tollgate-cache`: response-cache's shared tier, in front of Redis.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tollgate_control::cache::server::{Options, start};
use tollgate_control::serve::{block_on, init_logging, shutdown_signal};

#[derive(Parser)]
#[command(
    name = "tollgate-cache",
    version,
    about = "response-cache's shared tier: entries and invalidations shared by every gateway"
)]
struct Args {
    /// HTTP address: `/v1/entries/{name}`, `/v1/invalidations`, `/healthz`, `/metrics`.
    #[arg(long, default_value = "127.0.0.1:8090")]
    listen: SocketAddr,
    /// Redis (`redis://127.0.0.1:6379`), shared by every instance using it; else this
    /// process's memory (one instance).
    #[arg(long)]
    redis: Option<String>,
    /// The bearer token gateways send (else `TOLLGATE_CACHE_TOKEN`; none: no token).
    #[arg(long, env = "TOLLGATE_CACHE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// How long entries and invalidations are kept at most, in seconds (the filters'
    /// `shared_tier.horizon_s`).
    #[arg(long, default_value_t = 86_400)]
    horizon_seconds: u64,
    /// Most entries kept in memory (without Redis).
    #[arg(long, default_value_t = 100_000)]
    max_entries: usize,
    /// Logs as JSON lines (else text).
    #[arg(long)]
    log_json: bool,
}

async fn run(args: Args) -> Result<(), String> {
    let running = start(Options {
        listen: args.listen,
        redis: args.redis,
        token: args.token,
        horizon: Duration::from_secs(args.horizon_seconds.max(60)),
        max_entries: args.max_entries,
    })
    .await?;
    // For scripts and tests that ask for port 0.
    println!("http {}", running.addr);
    shutdown_signal().await;
    tracing::info!("stopping");
    running.stop().await
}

fn main() -> ExitCode {
    let args = Args::parse();
    init_logging(args.log_json);
    block_on("tollgate-cache", run(args))
}
