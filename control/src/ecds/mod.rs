//! Envoy's Extension Config Discovery Service (ECDS): the control service pushes each
//! gateway group's filter configs to its Envoys over gRPC, with no restart.
//!
//! * One resource per filter per group, named `<project>/<group>/<filter>` (what an
//!   Envoy bootstrap's `config_discovery` subscribes to): an `envoy.filters.http.wasm`
//!   config whose plugin configuration is the group's resolved config and whose module
//!   is named by SHA-256 and fetched from this service ([`crate::modules`]).
//! * State of the world over `StreamExtensionConfigs`; a new revision (or a rotated
//!   secret, a new bundle behind `bundle_ref`) is pushed on the streams subscribed to it.
//! * Every ACK and NACK (with Envoy's `error_detail`) is recorded per gateway (node id)
//!   and revision ([`crate::fleet`]).
//! * Gateways authenticate with a `gateway` token of the project in the stream's
//!   `authorization` metadata (`initial_metadata` in Envoy's `grpc_service`).

pub mod resource;
pub mod service;
pub mod session;

use std::sync::Arc;
use std::time::Duration;

use crate::modules::Modules;

/// ECDS and module settings.
#[derive(Debug, Clone)]
pub struct EcdsSettings {
    /// The modules handed out (`--modules DIR`); empty: ECDS serves nothing.
    pub modules: Arc<Modules>,
    /// This service's HTTP base URL as gateways reach it, for module URLs.
    pub module_base_url: String,
    /// The Envoy cluster that reaches that URL.
    pub module_cluster: String,
    /// A gateway not heard from for this long is stale (open streams report every
    /// third of it).
    pub stale_after: Duration,
    /// How often a stream re-reads its documents even without a change notice.
    pub recheck: Duration,
}

impl Default for EcdsSettings {
    fn default() -> Self {
        Self {
            modules: Arc::new(Modules::default()),
            module_base_url: "http://127.0.0.1:7070".into(),
            module_cluster: "tollgate_control".into(),
            stale_after: Duration::from_secs(90),
            recheck: Duration::from_secs(15),
        }
    }
}

/// Serves ECDS on `listener` until the service begins shutting down; open streams end
/// then, so Envoys reconnect to another replica (and keep their configs meanwhile).
pub async fn serve(listener: tokio::net::TcpListener, ctl: crate::AppState) -> anyhow::Result<()> {
    let mut down = ctl.shutting_down();
    tonic::transport::Server::builder()
        // Finds a gateway that vanished without closing its stream.
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(Duration::from_secs(10)))
        .add_service(service::server(ctl.clone()))
        // Envoy's stats sink: the error signal of staged rollouts.
        .add_service(crate::signals::server(ctl))
        .serve_with_incoming_shutdown(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
            async move {
                let _ = down.wait_for(|d| *d).await;
            },
        )
        .await?;
    Ok(())
}
