//! Starting the service: storage, the master key, the first admin token, and serving
//! until SIGTERM/SIGINT, finishing in-flight requests (writes included) before exit.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};

use crate::auth::{Grant, Role, TokenRecord};
use crate::signing::{self, Ring};
use crate::state::{AppState, Control, Settings};
use crate::store::{EtcdStore, SharedStore, SqliteStore};
use crate::vault::MasterKey;

/// Where state lives: `sqlite:PATH`, `memory`, or `etcd:URL[,URL…]`.
pub async fn open_store(spec: &str, namespace: &str) -> Result<SharedStore> {
    if spec == "memory" {
        return Ok(Arc::new(SqliteStore::memory()?));
    }
    if let Some(path) = spec.strip_prefix("sqlite:") {
        return Ok(Arc::new(
            SqliteStore::open(Path::new(path)).with_context(|| format!("opening {path}"))?,
        ));
    }
    if let Some(list) = spec.strip_prefix("etcd:") {
        let endpoints: Vec<String> = list.split(',').map(str::to_string).collect();
        return Ok(Arc::new(EtcdStore::connect(&endpoints, namespace).await?));
    }
    bail!("--storage `{spec}`: expected sqlite:PATH, memory or etcd:URL[,URL…]")
}

/// The master key: from `file` (created with a new key when `create` and absent), else
/// from `TOLLGATE_MASTER_KEY`. Never from storage.
pub fn master_key(file: Option<&Path>, create: bool) -> Result<MasterKey> {
    if let Some(path) = file {
        if !path.exists() && create {
            write_private(path, &MasterKey::generate_text())?;
        }
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the master key {}", path.display()))?;
        return MasterKey::parse(&text).map_err(anyhow::Error::msg);
    }
    match std::env::var("TOLLGATE_MASTER_KEY") {
        Ok(text) => MasterKey::parse(&text).map_err(anyhow::Error::msg),
        Err(_) => bail!(
            "no master key: give --master-key-file or set TOLLGATE_MASTER_KEY (32 bytes, base64)"
        ),
    }
}

/// Writes a file only its owner can read.
pub fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut f = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    Ok(())
}

/// Makes sure the admin token in `path` works: minted and written there on first
/// start; re-registered from the file when storage is new (an in-memory store).
pub async fn bootstrap_admin(ctl: &Control, path: &Path) -> Result<()> {
    if path.exists() {
        let text = std::fs::read_to_string(path)?;
        let token = text.trim();
        let (id, secret) = token
            .strip_prefix("tgt_")
            .and_then(|r| r.split_once('_'))
            .context("the admin token file does not hold a tgt_ token")?;
        if ctl.store.get(&crate::auth::token_key(id)).await?.is_none() {
            use sha2::Digest as _;
            let record = TokenRecord {
                id: id.into(),
                subject: "admin".into(),
                grants: vec![Grant {
                    role: Role::Admin,
                    project: None,
                }],
                created: crate::ledger::now_unix(),
                created_by: "tollgate-control".into(),
                expires: None,
                revoked: None,
                secret_sha256: hex::encode(sha2::Sha256::digest(secret.as_bytes())),
            };
            crate::api::tokens::store_token(ctl, &record, "tollgate-control")
                .await
                .map_err(|e| anyhow::anyhow!(e.message))?;
        }
        return Ok(());
    }
    let (record, secret) = crate::auth::mint(
        "admin",
        vec![Grant {
            role: Role::Admin,
            project: None,
        }],
        None,
        "tollgate-control",
    );
    crate::api::tokens::store_token(ctl, &record, "tollgate-control")
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?;
    write_private(path, &format!("{secret}\n"))?;
    Ok(())
}

pub struct Options {
    pub listen: SocketAddr,
    pub storage: String,
    pub namespace: String,
    pub master_key_file: Option<PathBuf>,
    pub create_master_key: bool,
    pub admin_token_file: Option<PathBuf>,
    pub settings: Settings,
    /// Where ECDS is served (gRPC), if anywhere.
    pub ecds_listen: Option<SocketAddr>,
}

/// The addresses bound.
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    pub http: SocketAddr,
    pub ecds: Option<SocketAddr>,
}

/// Runs the service until a signal; `ready` gets the bound addresses.
pub async fn run(options: Options, ready: impl FnOnce(Bound)) -> Result<()> {
    let store = open_store(&options.storage, &options.namespace).await?;
    let master = master_key(
        options.master_key_file.as_deref(),
        options.create_master_key,
    )?;
    let ctl: AppState = Control::new(store, master, options.settings);
    for ring in [Ring::Distribution, Ring::Session] {
        signing::signer(&ctl.store, &ctl.master, ring)
            .await
            .map_err(|e| anyhow::anyhow!(e.message))?;
    }
    if let Some(path) = &options.admin_token_file {
        bootstrap_admin(&ctl, path).await?;
    }
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("binding {}", options.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, storage = ctl.store.backend(), "tollgate-control listening");
    let ecds = match options.ecds_listen {
        Some(at) => {
            let listener = tokio::net::TcpListener::bind(at)
                .await
                .with_context(|| format!("binding {at} (ECDS)"))?;
            let bound = listener.local_addr()?;
            tracing::info!(addr = %bound, modules = ctl.settings.ecds.modules.len(), "ECDS listening");
            Some((
                bound,
                tokio::spawn(crate::ecds::serve(listener, ctl.clone())),
            ))
        }
        None => None,
    };
    // Staged rollouts move on by themselves.
    tokio::spawn(crate::rollout::controller::run(
        ctl.clone(),
        Duration::from_secs(1),
    ));
    // APISIX groups get their configs pushed through the Admin API.
    tokio::spawn(crate::apisix::follow(ctl.clone(), Duration::from_secs(30)));
    ready(Bound {
        http: addr,
        ecds: ecds.as_ref().map(|(a, _)| *a),
    });
    serve(listener, ctl, shutdown_signal()).await?;
    if let Some((_, task)) = ecds {
        task.await??;
    }
    Ok(())
}

/// Serves `ctl` on `listener` until `stop` resolves, then ends long polls and finishes
/// in-flight requests (writes included) before returning.
pub async fn serve(
    listener: tokio::net::TcpListener,
    ctl: AppState,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let app = crate::app(ctl.clone()).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            stop.await;
            tracing::info!("shutting down: finishing in-flight requests");
            ctl.begin_shutdown();
        })
        .await?;
    Ok(())
}

/// Logs to stderr, as JSON lines or text, at `RUST_LOG` (default `info`): for the
/// service binaries.
pub fn init_logging(json: bool) {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Runs `main` on a multi-threaded runtime; its error, or a runtime that cannot start,
/// is printed as `<name>: <error>` with a failing exit code.
pub fn block_on<E: std::fmt::Display>(
    name: &str,
    main: impl std::future::Future<Output = Result<(), E>>,
) -> std::process::ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{name}: cannot start: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(main) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C elsewhere).
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        if let (Ok(mut term), Ok(mut int)) = (term, int) {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
