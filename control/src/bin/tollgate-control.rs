//! `tollgate-control`: the control service.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tollgate_control::Settings;
use tollgate_control::serve::{Options, run};

#[derive(Parser)]
#[command(
    name = "tollgate-control",
    version,
    about = "Tollgate's control service: validated, versioned, signed configs and Rego bundles"
)]
struct Args {
    /// Address to serve on.
    #[arg(long, default_value = "127.0.0.1:7070")]
    listen: SocketAddr,
    /// `sqlite:PATH` (embedded, the default), `memory`, or `etcd:URL[,URL…]`.
    #[arg(long, default_value = "sqlite:tollgate-control.db")]
    storage: String,
    /// Key prefix in etcd (several deployments can share one cluster).
    #[arg(long, default_value = "tollgate/")]
    etcd_namespace: String,
    /// The master key (32 bytes, base64); else `TOLLGATE_MASTER_KEY`.
    #[arg(long)]
    master_key_file: Option<PathBuf>,
    /// Create the master key file with a new key when it does not exist.
    #[arg(long, requires = "master_key_file")]
    init_master_key: bool,
    /// Holds the first admin's API token: written (mode 0600) on first start.
    #[arg(long)]
    admin_token_file: Option<PathBuf>,
    /// Largest request body, in bytes.
    #[arg(long, default_value_t = 20 * 1024 * 1024)]
    max_body_bytes: usize,
    /// Requests per second per token.
    #[arg(long, default_value_t = 50)]
    rate: u32,
    /// Request timeout, in seconds.
    #[arg(long, default_value_t = 30)]
    timeout_seconds: u64,
    /// Logs as JSON lines (else text).
    #[arg(long)]
    log_json: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    tollgate_control::serve::init_logging(args.log_json);
    let settings = Settings {
        max_body_bytes: args.max_body_bytes,
        rate_per_second: args.rate,
        rate_burst: args.rate.saturating_mul(2),
        request_timeout: Duration::from_secs(args.timeout_seconds),
        long_poll_max: Duration::from_secs(args.timeout_seconds.saturating_sub(5).max(1)),
        ..Settings::default()
    };
    let options = Options {
        listen: args.listen,
        storage: args.storage,
        namespace: args.etcd_namespace,
        master_key_file: args.master_key_file,
        create_master_key: args.init_master_key,
        admin_token_file: args.admin_token_file,
        settings,
    };
    tollgate_control::serve::block_on("tollgate-control", async move {
        run(options, |addr| {
            // Scripts and tests wait for this line.
            println!("listening on {addr}");
        })
        .await
        .map_err(|e| format!("{e:#}"))
    })
}
