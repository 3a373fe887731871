//! Gateways' own counters, for staged rollouts' error signal: Envoy streams its stats to
//! the control service with its `envoy.stat_sinks.metrics_service` sink (gRPC, on the
//! ECDS port). Per project and gateway (node id) a bounded history of (time, requests,
//! errors) is kept in memory: a sample counts only for the projects whose gateway
//! token sent it, so one project's gateways cannot sway another's rollout. Requests requests are the connection managers' completed downstream
//! requests, errors their 5xx and 4xx (the filters' denials are 401, 403 and 429
//! local replies). The admin listener's are left out.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use envoy_types::pb::envoy::service::metrics::v3::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use envoy_types::pb::envoy::service::metrics::v3::{StreamMetricsMessage, StreamMetricsResponse};
use envoy_types::pb::io::prometheus::client::MetricFamily;
use tonic::{Request, Response, Status, Streaming};

use crate::state::AppState;

/// One report of a gateway's counters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Unix time, seconds (fractions kept).
    pub at: f64,
    pub requests: f64,
    pub errors: f64,
}

/// How many samples each gateway keeps (at Envoy's 5 s flush: 20 minutes).
const KEPT: usize = 240;
/// At most this many gateways are followed (the oldest reporter is dropped beyond).
const GATEWAYS: usize = 100_000;

/// Every gateway's recent samples.
#[derive(Debug, Default)]
pub struct Signals {
    by_gateway: Mutex<BTreeMap<String, VecDeque<Sample>>>,
}

/// Requests and errors in a window.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Window {
    pub requests: f64,
    pub errors: f64,
}

impl Window {
    /// Errors per request (0 without requests).
    pub fn rate(&self) -> f64 {
        if self.requests > 0.0 {
            self.errors / self.requests
        } else {
            0.0
        }
    }
}

impl Signals {
    /// Records `sample` of `gateway`, sent with a gateway token of `project`.
    pub fn record(&self, project: &str, gateway: &str, sample: Sample) {
        let Ok(mut all) = self.by_gateway.lock() else {
            return;
        };
        let key = format!("{project}/{gateway}");
        if !all.contains_key(&key) && all.len() >= GATEWAYS {
            return;
        }
        let samples = all.entry(key).or_default();
        // A restarted Envoy starts its counters again: its history no longer adds up.
        if samples
            .back()
            .is_some_and(|last| sample.requests < last.requests || sample.errors < last.errors)
        {
            samples.clear();
        }
        samples.push_back(sample);
        while samples.len() > KEPT {
            samples.pop_front();
        }
    }

    /// What `gateway` of `project` served between `from` and `to` (Unix seconds): the
    /// difference of the samples nearest inside the window; `None` without two samples
    /// in it.
    pub fn window(&self, project: &str, gateway: &str, from: f64, to: f64) -> Option<Window> {
        let all = self.by_gateway.lock().ok()?;
        let samples = all.get(&format!("{project}/{gateway}"))?;
        let first = samples.iter().find(|s| s.at >= from && s.at <= to)?;
        let last = samples.iter().rev().find(|s| s.at >= from && s.at <= to)?;
        if last.at <= first.at {
            return None;
        }
        Some(Window {
            requests: last.requests - first.requests,
            errors: last.errors - first.errors,
        })
    }
}

/// Sums Envoy's connection-manager counters in one report.
pub fn sample_of(families: &[MetricFamily], at: f64) -> Sample {
    let mut sample = Sample {
        at,
        requests: 0.0,
        errors: 0.0,
    };
    for family in families {
        let Some(name) = family.name.as_deref() else {
            continue;
        };
        let Some(rest) = name.strip_prefix("http.") else {
            continue;
        };
        if rest.starts_with("admin.") {
            continue;
        }
        let value: f64 = family
            .metric
            .iter()
            .filter_map(|m| m.counter.as_ref()?.value)
            .sum();
        if rest.ends_with(".downstream_rq_completed") {
            sample.requests += value;
        } else if rest.ends_with(".downstream_rq_5xx") || rest.ends_with(".downstream_rq_4xx") {
            sample.errors += value;
        }
    }
    sample
}

pub struct Sink {
    ctl: AppState,
}

pub fn server(ctl: AppState) -> MetricsServiceServer<Sink> {
    MetricsServiceServer::new(Sink { ctl })
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[tonic::async_trait]
impl MetricsService for Sink {
    async fn stream_metrics(
        &self,
        request: Request<Streaming<StreamMetricsMessage>>,
    ) -> Result<Response<StreamMetricsResponse>, Status> {
        // Counters say nothing secret, but only the project's gateways may feed a
        // rollout's decision.
        let principal =
            crate::ecds::service::principal(&self.ctl, request.metadata().clone()).await?;
        // The projects this token is a gateway of: its samples count for those only.
        let projects: Vec<String> = principal
            .grants
            .iter()
            .filter(|g| g.role == crate::auth::Role::Gateway)
            .filter_map(|g| g.project.clone())
            .collect();
        if projects.is_empty() {
            return Err(Status::permission_denied("a gateway token is required"));
        }
        let mut stream = request.into_inner();
        let mut gateway: Option<String> = None;
        let mut shutdown = self.ctl.shutting_down();
        loop {
            let message = tokio::select! {
                m = stream.message() => m,
                _ = shutdown.changed() => break,
            };
            let Ok(Some(message)) = message else { break };
            if gateway.is_none() {
                let id = message
                    .identifier
                    .as_ref()
                    .and_then(|i| i.node.as_ref())
                    .map(|n| n.id.clone())
                    .unwrap_or_default();
                crate::fleet::check_gateway_id(&id).map_err(Status::invalid_argument)?;
                gateway = Some(id);
            }
            if let Some(id) = &gateway {
                let sample = sample_of(&message.envoy_metrics, now());
                for project in &projects {
                    self.ctl.signals.record(project, id, sample);
                }
            }
        }
        Ok(Response::new(StreamMetricsResponse {}))
    }
}

#[cfg(test)]
#[path = "signals_tests.rs"]
mod tests;
