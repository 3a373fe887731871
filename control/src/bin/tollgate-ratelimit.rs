//! `tollgate-ratelimit`: Envoy's rate-limit service API for rate-limit's global rules,
//! on limitador; counters in memory, or in Redis for several instances.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tollgate_control::ratelimit::server::{Options, start};
use tollgate_control::ratelimit::source::Source;
use tollgate_control::serve::{block_on, init_logging, shutdown_signal};

#[derive(Parser)]
#[command(
    name = "tollgate-ratelimit",
    version,
    about = "Envoy's rate-limit service API (gRPC, and JSON at POST /json) for rate-limit's global rules"
)]
struct Args {
    /// gRPC address (`envoy.service.ratelimit.v3.RateLimitService`).
    #[arg(long, default_value = "127.0.0.1:8081")]
    grpc_listen: SocketAddr,
    /// HTTP address: `POST /json`, `GET /healthz`, `GET /metrics`.
    #[arg(long, default_value = "127.0.0.1:8080")]
    http_listen: SocketAddr,
    /// A rate-limit filter config (JSON): its global rules are the limits.
    #[arg(long, conflicts_with = "control")]
    limits: Option<PathBuf>,
    /// The control service's URL: the limits are the group's rate-limit config.
    #[arg(long, requires_all = ["project", "group"])]
    control: Option<String>,
    #[arg(long)]
    project: Option<String>,
    #[arg(long)]
    group: Option<String>,
    /// This service's id in the group's fleet view (`tollgate status`): with it, it
    /// reports the revision it runs and any it refused.
    #[arg(long, requires = "control")]
    gateway_id: Option<String>,
    /// A gateway token of the project (else `TOLLGATE_TOKEN`).
    #[arg(long, env = "TOLLGATE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Counters in Redis (`redis://127.0.0.1:6379`), shared by every instance using it;
    /// else in this process's memory.
    #[arg(long)]
    redis: Option<String>,
    /// Most counters kept in memory (without Redis).
    #[arg(long, default_value_t = 1_000_000)]
    max_counters: u64,
    /// How often the limits are read again, in seconds.
    #[arg(long, default_value_t = 5)]
    reload_seconds: u64,
    /// Logs as JSON lines (else text).
    #[arg(long)]
    log_json: bool,
}

fn source(args: &Args) -> Result<Source, String> {
    match (&args.limits, &args.control) {
        (Some(path), None) => Ok(Source::File(path.clone())),
        (None, Some(url)) => Ok(Source::Control {
            url: url.clone(),
            project: args.project.clone().unwrap_or_default(),
            group: args.group.clone().unwrap_or_default(),
            token: args
                .token
                .clone()
                .ok_or("--control needs a gateway token: --token or TOLLGATE_TOKEN")?,
            gateway: args.gateway_id.clone(),
        }),
        _ => Err("name where the limits are: --limits FILE or --control URL".into()),
    }
}

async fn run(args: Args) -> Result<(), String> {
    let running = start(Options {
        grpc_listen: args.grpc_listen,
        http_listen: args.http_listen,
        source: source(&args)?,
        redis: args.redis.clone(),
        max_counters: args.max_counters,
        reload: Duration::from_secs(args.reload_seconds.max(1)),
    })
    .await?;
    // For scripts and tests that ask for port 0.
    println!("grpc {}", running.grpc);
    println!("http {}", running.http);
    shutdown_signal().await;
    tracing::info!("stopping");
    running.stop().await
}

fn main() -> ExitCode {
    let args = Args::parse();
    init_logging(args.log_json);
    block_on("tollgate-ratelimit", run(args))
}
