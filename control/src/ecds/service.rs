//! The gRPC service: each stream is a [`Session`] fed by the gateway's requests and by
//! change notices from storage; what it acknowledges or refuses goes to the fleet view.

use std::pin::Pin;

use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse,
};
use envoy_types::pb::envoy::service::extension::v3::extension_config_discovery_service_server::{
    ExtensionConfigDiscoveryService, ExtensionConfigDiscoveryServiceServer,
};
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tonic::{Request, Response, Status, Streaming};

use super::resource::{ModuleSource, Name, wasm_resource};
use super::session::{Built, Session, Verdict};
use crate::auth::{Need, Principal};
use crate::fleet::{self, Failure, Report, Reporter, Via};
use crate::model::Target;
use crate::state::{AppState, Control};

type Outbound = Pin<Box<dyn Stream<Item = Result<DiscoveryResponse, Status>> + Send>>;

pub struct Ecds {
    ctl: AppState,
}

/// The service, for tonic's server.
pub fn server(ctl: AppState) -> ExtensionConfigDiscoveryServiceServer<Ecds> {
    ExtensionConfigDiscoveryServiceServer::new(Ecds { ctl })
}

/// The caller of a gRPC stream, from its `authorization` metadata.
pub async fn principal(
    ctl: &Control,
    metadata: tonic::metadata::MetadataMap,
) -> Result<Principal, Status> {
    let bearer = metadata
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            Status::unauthenticated("a gateway token is required (authorization: Bearer …)")
        })?;
    crate::auth::authenticate(&ctl.store, bearer.trim(), ctl.settings.key_grace_seconds)
        .await
        .map_err(|e| Status::unauthenticated(e.message))
}

/// Builds the resource `name` for gateway `node`, or `None` when the group has no
/// config for it yet. Under a rollout, a gateway outside the canary gets the promoted
/// revision, not the head.
async fn build(ctl: &Control, name: &Name, node: &str) -> Result<Option<Built>, String> {
    let group = crate::api::projects::load_group(ctl, &name.project, &name.group)
        .await
        .map_err(|e| e.message)?;
    if group.host != "envoy" {
        return Err(format!(
            "group `{}` runs {}: ECDS serves Envoy groups only",
            name.group, group.host
        ));
    }
    let id = Target::config_id(&name.project, &name.group, &name.filter);
    let (head, _) = crate::docs::head(&ctl.store, &id)
        .await
        .map_err(|e| e.message)?;
    let Some(head) = head else {
        return Ok(None);
    };
    let number = crate::rollout::revision_for(
        ctl,
        (&name.project, &name.group, &name.filter),
        node,
        head.number,
    )
    .await
    .map_err(|e| e.message)?;
    let head = if number == head.number {
        head
    } else {
        crate::docs::revision(&ctl.store, &id, number)
            .await
            .map_err(|e| e.message)?
    };
    let body = crate::api::distribution::resolved_body(ctl, &name.project, &head)
        .await
        .map_err(|e| e.message)?;
    let settings = &ctl.settings.ecds;
    let module = settings.modules.for_filter(&name.filter).ok_or_else(|| {
        format!(
            "no module for `{}` (start the service with --modules)",
            name.filter
        )
    })?;
    let resource = wasm_resource(
        name,
        &body,
        module,
        ModuleSource {
            base_url: &settings.module_base_url,
            cluster: &settings.module_cluster,
        },
    )?;
    let digest = crate::docs::digest(&body);
    Ok(Some(Built {
        name: name.clone(),
        revision: head.number,
        version: format!(
            "{}.{}.{}",
            head.number,
            digest.get(..12).unwrap_or(&digest),
            module.sha256.get(..12).unwrap_or(&module.sha256)
        ),
        resource,
    }))
}

/// Every subscribed resource that exists; names that cannot be built are logged.
async fn build_all(ctl: &Control, session: &Session) -> Vec<Built> {
    let mut built = Vec::new();
    for name in session.names() {
        match build(ctl, name, session.node().unwrap_or("")).await {
            Ok(Some(b)) => built.push(b),
            Ok(None) => {}
            Err(e) => tracing::warn!(resource = %name, node = session.node(), "ECDS: {e}"),
        }
    }
    built
}

/// Records a verdict for every resource it covers.
async fn record(ctl: &Control, node: &str, verdict: &Verdict) {
    let (resources, detail) = match verdict {
        Verdict::None => return,
        Verdict::Ack(r) => (r, None),
        Verdict::Nack(r, d) => (r, Some(d)),
    };
    for b in resources {
        let report = match detail {
            None => Report::Applied {
                revision: b.revision,
                version: b.version.clone(),
            },
            Some(d) => Report::Refused(Failure {
                revision: Some(b.revision),
                version: b.version.clone(),
                detail: fleet::scrubbed(ctl, (&b.name.project, &b.name.group, &b.name.filter), d)
                    .await,
                at: crate::ledger::now_unix(),
            }),
        };
        if detail.is_some() {
            tracing::warn!(resource = %b.name, node, revision = b.revision, "ECDS: NACK");
        }
        set_state(ctl, node, &b.name, |g| {
            fleet::apply_report(g, &b.name.filter, &report)
        })
        .await;
    }
}

async fn set_state(ctl: &Control, node: &str, name: &Name, change: impl Fn(&mut fleet::Gateway)) {
    let who = Reporter {
        project: &name.project,
        group: &name.group,
        gateway: node,
        via: Via::Ecds,
    };
    if let Err(e) = fleet::update(ctl, who, change).await {
        tracing::warn!(node, "fleet record: {}", e.message);
    }
}

/// Marks the stream's gateway connected or not in every group it subscribed to.
async fn set_connected(ctl: &Control, session: &Session, connected: bool) {
    let Some(node) = session.node() else { return };
    let mut groups: Vec<&Name> = session.names().collect();
    groups.dedup_by(|a, b| a.project == b.project && a.group == b.group);
    for name in groups {
        set_state(ctl, node, name, |g| g.connected = connected).await;
    }
}

/// One stream, until the gateway closes it, it fails, or the service stops.
async fn run(
    ctl: AppState,
    principal: Principal,
    mut inbound: Streaming<DiscoveryRequest>,
    out: mpsc::Sender<Result<DiscoveryResponse, Status>>,
) {
    let mut session = Session::default();
    let mut shutdown = ctl.shutting_down();
    let recheck = ctl.settings.ecds.recheck;
    // Armed across turns: a change notice during a build is not lost.
    let mut changed = Box::pin(ctl.store.changed("", recheck));
    // An open stream refreshes its gateway's last contact this often, so a gateway
    // whose stream died with a replica goes stale instead of looking connected forever.
    let heartbeat = ctl.settings.ecds.stale_after / 3;
    let mut touched = tokio::time::Instant::now();
    loop {
        let rebuild = tokio::select! {
            message = inbound.message() => {
                let request = match message {
                    Ok(Some(r)) => r,
                    Ok(None) | Err(_) => break,
                };
                let step = match session.on_request(&request) {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = out.send(Err(Status::invalid_argument(e))).await;
                        break;
                    }
                };
                if let Some(name) = session
                    .names()
                    .find(|n| !principal.allowed(Need::Gateway, Some(&n.project)))
                {
                    let _ = out
                        .send(Err(Status::permission_denied(format!(
                            "this token is not a gateway of project `{}`",
                            name.project
                        ))))
                        .await;
                    break;
                }
                for e in &step.rejected {
                    tracing::warn!(node = session.node(), "ECDS: {e}");
                }
                if let Some(node) = session.node() {
                    record(&ctl, node, &step.verdict).await;
                }
                if step.resubscribed {
                    set_connected(&ctl, &session, true).await;
                }
                step.resubscribed
            }
            () = &mut changed => {
                changed = Box::pin(ctl.store.changed("", recheck));
                if touched.elapsed() >= heartbeat {
                    touched = tokio::time::Instant::now();
                    set_connected(&ctl, &session, true).await;
                }
                true
            }
            _ = shutdown.changed() => break,
        };
        if rebuild {
            let built = build_all(&ctl, &session).await;
            if let Some(response) = session.respond(built, false)
                && out.send(Ok(response)).await.is_err()
            {
                break;
            }
        }
    }
    set_connected(&ctl, &session, false).await;
}

#[tonic::async_trait]
impl ExtensionConfigDiscoveryService for Ecds {
    type StreamExtensionConfigsStream = Outbound;
    type DeltaExtensionConfigsStream =
        Pin<Box<dyn Stream<Item = Result<DeltaDiscoveryResponse, Status>> + Send>>;

    async fn stream_extension_configs(
        &self,
        request: Request<Streaming<DiscoveryRequest>>,
    ) -> Result<Response<Outbound>, Status> {
        let principal = principal(&self.ctl, request.metadata().clone()).await?;
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(run(self.ctl.clone(), principal, request.into_inner(), tx));
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    async fn delta_extension_configs(
        &self,
        _request: Request<Streaming<DeltaDiscoveryRequest>>,
    ) -> Result<Response<Self::DeltaExtensionConfigsStream>, Status> {
        Err(Status::unimplemented(
            "incremental xDS is not served: use the state-of-the-world protocol (api_type: GRPC)",
        ))
    }

    async fn fetch_extension_configs(
        &self,
        request: Request<DiscoveryRequest>,
    ) -> Result<Response<DiscoveryResponse>, Status> {
        let principal = principal(&self.ctl, request.metadata().clone()).await?;
        let mut session = Session::default();
        session
            .on_request(request.get_ref())
            .map_err(Status::invalid_argument)?;
        if let Some(name) = session
            .names()
            .find(|n| !principal.allowed(Need::Gateway, Some(&n.project)))
        {
            return Err(Status::permission_denied(format!(
                "this token is not a gateway of project `{}`",
                name.project
            )));
        }
        let built = build_all(&self.ctl, &session).await;
        session
            .respond(built, true)
            .map(Response::new)
            .ok_or_else(|| Status::internal("no response"))
    }
}
