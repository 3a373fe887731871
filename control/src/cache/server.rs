//! The tier started and stopped as one thing.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::backend::Backend;
use super::http::{Stats, Tier, router};

pub struct Options {
    pub listen: SocketAddr,
    /// Entries and the log in Redis at this URL; else in this process's memory.
    pub redis: Option<String>,
    /// A bearer token every call must carry.
    pub token: Option<String>,
    /// How long entries and invalidations are kept at most.
    pub horizon: Duration,
    /// Most entries kept in memory (without Redis).
    pub max_entries: usize,
}

/// How long in-flight requests may take once the service is told to stop.
pub const GRACE: Duration = Duration::from_secs(3);

pub struct Running {
    pub addr: SocketAddr,
    pub tier: Arc<Tier>,
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<(), String>>,
}

/// Connects the backend, binds and serves in the background.
pub async fn start(options: Options) -> Result<Running, String> {
    let backend = match &options.redis {
        Some(url) => Backend::redis(url, options.horizon).await?,
        None => Backend::memory(options.max_entries, options.horizon),
    };
    let tier = Arc::new(Tier {
        backend,
        authorization: options.token.map(|t| format!("Bearer {t}")),
        horizon: options.horizon,
        stats: Stats::default(),
    });
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", options.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let (stop, mut rx) = watch::channel(false);
    let task = tokio::spawn({
        let app = router(Arc::clone(&tier));
        async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.wait_for(|s| *s).await;
                })
                .await
                .map_err(|e| format!("HTTP: {e}"))
        }
    });
    tracing::info!(http = %addr, backend = tier.backend.kind(), "serving");
    Ok(Running {
        addr,
        tier,
        stop,
        task,
    })
}

impl Running {
    /// Stops serving: in-flight requests get [`GRACE`] to finish.
    pub async fn stop(self) -> Result<(), String> {
        let _ = self.stop.send(true);
        match tokio::time::timeout(GRACE, self.task).await {
            Ok(Ok(result)) => result,
            Ok(Err(e)) => Err(format!("the server task failed: {e}")),
            Err(_) => Ok(()),
        }
    }
}
