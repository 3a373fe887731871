//! The service started and stopped as one thing: limits read first (no limits, no
//! service), then gRPC and HTTP served and the source followed until stopped.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_service_server::RateLimitServiceServer;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::http::{Web, router};
use super::service::{Counters, Grpc, Rls, Stats};
use super::source::{Follower, Source, apply, follow};

pub struct Options {
    pub grpc_listen: SocketAddr,
    pub http_listen: SocketAddr,
    pub source: Source,
    /// Counters in Redis at this URL; else in memory.
    pub redis: Option<String>,
    pub max_counters: u64,
    pub reload: Duration,
}

/// How long in-flight requests may take once the service is told to stop.
pub const GRACE: Duration = Duration::from_secs(3);

/// A started service.
pub struct Running {
    pub grpc: SocketAddr,
    pub http: SocketAddr,
    pub rls: Arc<Rls>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<Result<(), String>>>,
}

async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

/// Reads the limits, binds both addresses and serves in the background.
pub async fn start(options: Options) -> Result<Running, String> {
    let mut follower = Follower::new(options.source);
    let counters = match &options.redis {
        Some(url) => Counters::redis(url).await?,
        None => Counters::memory(options.max_counters),
    };
    let rls = Arc::new(Rls {
        counters,
        stats: Stats::default(),
    });
    // A proxy that cannot be told its limits must not be told "OK" for everything.
    let first = follower
        .poll()
        .await?
        .ok_or("the limits could not be read")?;
    apply(&rls, first).await?;
    let ready = Arc::new(AtomicBool::new(true));
    let grpc = tokio::net::TcpListener::bind(options.grpc_listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", options.grpc_listen))?;
    let http = tokio::net::TcpListener::bind(options.http_listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", options.http_listen))?;
    let grpc_addr = grpc.local_addr().map_err(|e| e.to_string())?;
    let http_addr = http.local_addr().map_err(|e| e.to_string())?;
    let (stop, rx) = watch::channel(false);
    let grpc_task = tokio::spawn({
        let rls = Arc::clone(&rls);
        let rx = rx.clone();
        async move {
            tonic::transport::Server::builder()
                .add_service(RateLimitServiceServer::new(Grpc(rls)))
                .serve_with_incoming_shutdown(
                    tokio_stream::wrappers::TcpListenerStream::new(grpc),
                    stopped(rx),
                )
                .await
                .map_err(|e| format!("gRPC: {e}"))
        }
    });
    let http_task = tokio::spawn({
        let web = Web {
            rls: Arc::clone(&rls),
            ready: Arc::clone(&ready),
        };
        let rx = rx.clone();
        async move {
            axum::serve(http, router(web))
                .with_graceful_shutdown(stopped(rx))
                .await
                .map_err(|e| format!("HTTP: {e}"))
        }
    });
    let reload_task = tokio::spawn({
        let rls = Arc::clone(&rls);
        async move {
            follow(follower, rls, ready, options.reload, stopped(rx)).await;
            Ok(())
        }
    });
    tracing::info!(
        grpc = %grpc_addr,
        http = %http_addr,
        counters = if options.redis.is_some() { "redis" } else { "memory" },
        "serving"
    );
    Ok(Running {
        grpc: grpc_addr,
        http: http_addr,
        rls,
        stop,
        tasks: vec![grpc_task, http_task, reload_task],
    })
}

impl Running {
    /// Stops serving: in-flight requests get [`GRACE`] to finish; then connections
    /// still open (a proxy keeps its HTTP/2 connection to the service) are closed.
    pub async fn stop(self) -> Result<(), String> {
        let _ = self.stop.send(true);
        let deadline = tokio::time::Instant::now() + GRACE;
        for mut task in self.tasks {
            match tokio::time::timeout_at(deadline, &mut task).await {
                Ok(Ok(result)) => result?,
                Ok(Err(e)) => return Err(format!("a server task failed: {e}")),
                Err(_) => {
                    tracing::warn!("connections still open after {GRACE:?}: closing them");
                    task.abort();
                }
            }
        }
        Ok(())
    }
}
