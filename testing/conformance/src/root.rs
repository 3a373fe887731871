//! The root context: VM start, configure, tick, queue deliveries, stream creation.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::json;
use tollgate_kit::config::{self, Compile, ConfigError};
use tollgate_kit::filter::Callouts;
use tollgate_kit::host::LocalReply;
use tollgate_kit::slot::ConfigSlot;
use tollgate_kit::{Host, RootFilter, StreamFilter};

use crate::observe::{self, Record};
use crate::stream::ConformanceStream;

/// Configuration of the conformance filter.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConformanceConfig {
    /// Cluster (Envoy) or `host:port` (APISIX) the `callout` scenario calls.
    /// Default: `"upstream"`. Example: `"127.0.0.1:8080"`.
    #[serde(default = "default_cluster")]
    pub callout_cluster: String,
    /// Cluster that speaks gRPC, for the `grpc` scenario. Default: `"grpc"`.
    #[serde(default = "default_grpc_cluster")]
    pub grpc_cluster: String,
    /// Tick period requested in `on_configure`, in milliseconds. Default: `50`; `0` asks for none.
    #[serde(default = "default_tick")]
    pub tick_ms: u64,
    /// Register the shared queue in `on_configure`. Default: `true`. Kong traps when a
    /// queue not declared in nginx.conf (`shm_queue`) is registered.
    #[serde(default = "default_queue")]
    pub queue: bool,
    /// Keep ticking and answer the `root-reply` scenario's streams from the root context
    /// (after `proxy_set_effective_context`). Default: `false`. On Kong this kills the
    /// worker: it is how the tests prove that fact.
    #[serde(default)]
    pub root_reply: bool,
}

fn default_queue() -> bool {
    true
}

fn default_cluster() -> String {
    "upstream".into()
}
fn default_grpc_cluster() -> String {
    "grpc".into()
}
fn default_tick() -> u64 {
    50
}

impl Compile for ConformanceConfig {
    type Compiled = ConformanceConfig;
    const VERSION: &'static str = "tollgate.conformance.v1";

    fn compile(self) -> Result<Self, ConfigError> {
        if self.callout_cluster.is_empty() {
            return Err(ConfigError::new(
                "callout_cluster",
                "expected a non-empty cluster name or host:port",
            ));
        }
        if self.tick_ms > 60_000 {
            return Err(ConfigError::new("tick_ms", "expected at most 60000"));
        }
        Ok(self)
    }
}

/// Name of the queue the `queue` scenario resolves and fills.
pub const QUEUE_NAME: &str = "tollgate.conformance";

#[derive(Default)]
pub struct ConformanceRoot {
    config: ConfigSlot<ConformanceConfig>,
    record: Record,
    ticks: u32,
    /// Streams of the `root-reply` scenario waiting for the root to answer them.
    parked: Parked,
}

/// Context ids of streams the root answers on its next tick.
pub type Parked = Rc<RefCell<Vec<u32>>>;

impl ConformanceRoot {
    fn flush(&mut self, host: &dyn Host) {
        // Shared data may be missing (APISIX): the record then lives only in memory.
        let _ = self.record.flush(host);
    }
}

impl Callouts for ConformanceRoot {}

impl RootFilter for ConformanceRoot {
    fn on_vm_start(&mut self, host: &dyn Host, vm_config: &[u8]) -> bool {
        self.record = Record::new("root");
        self.record
            .event("vm_start", json!({ "vm_config": observe::text(vm_config) }));
        self.flush(host);
        true
    }

    fn on_configure(&mut self, host: &dyn Host, config_bytes: &[u8]) -> Result<(), String> {
        let compiled =
            config::load::<ConformanceConfig>(config_bytes).map_err(|e| e.to_string())?;
        let tick = if compiled.tick_ms > 0 {
            observe::status(&host.set_tick_period(Duration::from_millis(compiled.tick_ms)))
        } else {
            json!("skipped")
        };
        let queue = if compiled.queue {
            observe::status(&host.register_queue(QUEUE_NAME))
        } else {
            json!("skipped")
        };
        let generation = self.config.replace(compiled);
        self.record.event(
            "configure",
            json!({
                "generation": generation,
                "config": observe::text(config_bytes),
                "set_tick_period": tick,
                "register_queue": queue,
            }),
        );
        self.flush(host);
        Ok(())
    }

    fn new_stream(&mut self, _host: &dyn Host, context_id: u32) -> Option<Box<dyn StreamFilter>> {
        let config = self.config.current()?;
        Some(Box::new(
            ConformanceStream::new(config, context_id).parking(Rc::clone(&self.parked)),
        ))
    }

    fn on_tick(&mut self, host: &dyn Host) {
        self.ticks = self.ticks.saturating_add(1);
        if self.config.current().is_some_and(|c| c.root_reply) {
            let parked = std::mem::take(&mut *self.parked.borrow_mut());
            for id in parked {
                let _ = host.set_effective_context(id);
                let _ = host.send_local_response(&LocalReply {
                    status: 200,
                    details: "conformance_root_reply",
                    headers: &[("content-type", "text/plain")],
                    body: b"answered from the root",
                    grpc_status: None,
                });
            }
            return;
        }
        if self.ticks == 1 {
            // One tick proves the timer; stop it so reports stay deterministic.
            let stop = host.set_tick_period(Duration::ZERO);
            self.record
                .event("tick", json!({ "stop_timer": observe::status(&stop) }));
            self.flush(host);
        }
    }

    fn on_queue_ready(&mut self, host: &dyn Host, queue_id: u32) {
        let mut items = Vec::new();
        // Bounded drain: a queue never holds more than the scenario enqueued.
        for _ in 0..16 {
            match host.dequeue(queue_id) {
                Ok(Some(item)) => items.push(observe::text(&item)),
                Ok(None) => break,
                Err(e) => {
                    items.push(json!({ "error": e.status.name() }));
                    break;
                }
            }
        }
        let empty = host.dequeue(queue_id);
        self.record.event(
            "queue_ready",
            json!({ "items": items, "dequeue_when_empty": match empty { Ok(None) => json!("Empty"), other => observe::status(&other) } }),
        );
        self.flush(host);
    }
}

#[cfg(test)]
#[path = "root_tests.rs"]
mod tests;
