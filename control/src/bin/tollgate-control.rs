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
    /// Serve Envoy's ECDS (gRPC) here, e.g. 127.0.0.1:7071.
    #[arg(long)]
    ecds_listen: Option<SocketAddr>,
    /// The filters' wasm modules (`<filter>.wasm`, as `scripts/build-wasm` writes
    /// `dist/`): what ECDS resources name and `/v1/modules/{sha256}` serves.
    #[arg(long)]
    modules: Option<PathBuf>,
    /// This service's HTTP URL as gateways reach it (module URLs); default: from --listen.
    #[arg(long)]
    public_url: Option<String>,
    /// The Envoy cluster that reaches --public-url.
    #[arg(long, default_value = "tollgate_control")]
    module_cluster: String,
    /// A gateway with no open stream and no contact for this many seconds is stale.
    #[arg(long, default_value_t = 90)]
    stale_seconds: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    tollgate_control::serve::init_logging(args.log_json);
    let modules = match &args.modules {
        Some(dir) => match tollgate_control::modules::Modules::load(dir) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("tollgate-control: {e:#}");
                return ExitCode::FAILURE;
            }
        },
        None => tollgate_control::modules::Modules::default(),
    };
    let ecds = tollgate_control::ecds::EcdsSettings {
        modules: std::sync::Arc::new(modules),
        module_base_url: args
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", args.listen)),
        module_cluster: args.module_cluster.clone(),
        stale_after: Duration::from_secs(args.stale_seconds),
        ..Default::default()
    };
    let settings = Settings {
        ecds,
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
        ecds_listen: args.ecds_listen,
    };
    tollgate_control::serve::block_on("tollgate-control", async move {
        run(options, |bound| {
            // Scripts and tests wait for these lines.
            if let Some(ecds) = bound.ecds {
                println!("ecds on {ecds}");
            }
            println!("listening on {}", bound.http);
        })
        .await
        .map_err(|e| format!("{e:#}"))
    })
}
