//! The root context that pulls: it wraps a filter's root and, when the plugin
//! configuration has a `control` block, keeps the filter's config current from the
//! control service. Without a block it only passes every callback through.
//!
//! * On its tick, the worker holding the lease polls (one callout in flight at most);
//!   every worker loads a document another published in shared data.
//! * A document is loaded only if its signature verifies; the filter compiles it in
//!   its own `on_configure` and swaps its config slot; on any failure the last good
//!   config stays, and the next poll reports the revision refused and why.
//! * Until a first config is loaded, requests are refused with 503: a filter that
//!   pulls never lets a request through unchecked.

use std::cell::Cell;
use std::time::{Duration, UNIX_EPOCH};

use super::block::{ControlBlock, split};
use super::lease::{Lease, worker_id};
use super::protocol::{Answer, Report, answer, request_headers};
use super::shared::{self, Document};
use super::shim::TickShim;
use super::signature::{Expected, verify};
use crate::filter::{Callouts, HeadersAction, RootFilter, StreamFilter};
use crate::host::{Host, HttpCall, LocalReply};
use crate::types::{BufferKind, LogLevel, MapKind};

/// The shared timer's period while pulling: how often the lease and the shared
/// document are looked at.
const STEP: Duration = Duration::from_secs(1);
/// The largest document taken.
const MAX_DOCUMENT: usize = 4 * 1024 * 1024;

struct Pull {
    block: ControlBlock,
    lease: Lease,
    report: Report,
    /// The version of the shared document this worker loaded.
    loaded: Option<u32>,
    in_flight: Option<u32>,
    next_poll_ms: u64,
}

pub struct Pulled<R> {
    inner: R,
    filter: &'static str,
    pull: Option<Pull>,
    /// Whether the filter has a config (seeded or pulled).
    configured: bool,
    /// The tick period the filter asked for, and when it last ticked.
    asked: Cell<Option<Duration>>,
    inner_ticked_ms: u64,
}

fn shim<'a>(host: &'a dyn Host, asked: &'a Cell<Option<Duration>>) -> TickShim<'a> {
    TickShim { host, asked }
}

fn now_ms(host: &dyn Host) -> u64 {
    host.now()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl<R: RootFilter> Pulled<R> {
    pub fn new(filter: &'static str, inner: R) -> Self {
        Self {
            inner,
            filter,
            pull: None,
            configured: false,
            asked: Cell::new(None),
            inner_ticked_ms: 0,
        }
    }

    /// The filter's root, for tests.
    pub fn inner(&self) -> &R {
        &self.inner
    }

    /// Sets the one timer: the filter's period, or the pull step if shorter.
    fn set_timer(&self, host: &dyn Host) {
        let want = match (self.pull.is_some(), self.asked.get()) {
            (true, Some(p)) => Some(p.min(STEP)),
            (true, None) => Some(STEP),
            (false, asked) => asked,
        };
        if let Some(period) = want
            && let Err(e) = host.set_tick_period(period)
        {
            host.log(LogLevel::Warn, &format!("{}: no timer: {e}", self.filter));
        }
    }

    /// Verifies `doc` and hands it to the filter. `Err` is why it was refused.
    fn load(&mut self, host: &dyn Host, doc: &Document) -> Result<(), String> {
        let Some(pull) = &self.pull else {
            return Err("not pulling".into());
        };
        let expected = Expected {
            project: &pull.block.project,
            group: &pull.block.group,
            filter: self.filter,
        };
        let revision = verify(&doc.signature, &doc.body, &pull.block.public_keys, expected)?;
        if revision != doc.revision {
            return Err(format!(
                "the document says revision {} but is signed as {revision}",
                doc.revision
            ));
        }
        let shim = shim(host, &self.asked);
        self.inner
            .on_configure(&shim, &doc.body)
            .map_err(|e| format!("revision {revision}: {e}"))?;
        self.configured = true;
        if let Some(pull) = &mut self.pull {
            pull.report.etag = Some(doc.etag.clone());
            pull.report.running = Some(revision);
            pull.report.refused = None;
        }
        host.log(
            LogLevel::Info,
            &format!("{}: revision {revision} loaded", self.filter),
        );
        Ok(())
    }

    /// Loads what another worker published, if it is newer than what runs here.
    fn follow_shared(&mut self, host: &dyn Host) {
        let Some((version, doc)) = shared::read(host, self.filter) else {
            return;
        };
        if self
            .pull
            .as_ref()
            .is_some_and(|p| p.loaded == Some(version))
        {
            return;
        }
        if let Some(pull) = &mut self.pull {
            pull.loaded = Some(version);
        }
        if let Err(e) = self.load(host, &doc) {
            host.log(
                LogLevel::Warn,
                &format!("{}: shared document refused: {e}", self.filter),
            );
        }
    }

    fn poll(&mut self, host: &dyn Host, now: u64) {
        let Some(pull) = &mut self.pull else { return };
        if pull.in_flight.is_some() || now < pull.next_poll_ms || !pull.lease.hold(host, now) {
            return;
        }
        pull.next_poll_ms = now.saturating_add(pull.block.poll_seconds.saturating_mul(1000));
        let owned = request_headers(&pull.block, self.filter, &pull.report);
        let headers: Vec<(&str, &str)> = owned
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let call = HttpCall {
            upstream: &pull.block.upstream,
            headers: &headers,
            body: None,
            trailers: &[],
            timeout: Duration::from_millis(pull.block.timeout_ms),
        };
        match host.http_call(&call) {
            Ok(token) => pull.in_flight = Some(token),
            Err(e) => host.log(
                LogLevel::Warn,
                &format!("{}: cannot poll: {e}", self.filter),
            ),
        }
    }

    fn on_answer(&mut self, host: &dyn Host, body_size: usize) {
        let headers = host
            .header_pairs(MapKind::HttpCallResponseHeaders)
            .unwrap_or_default();
        let status = headers
            .iter()
            .find(|(k, _)| k == ":status")
            .and_then(|(_, v)| v.parse().ok());
        let (etag, signature) = match answer(status, &headers) {
            Answer::Unchanged => return,
            Answer::Failed(why) => {
                host.log(LogLevel::Warn, &format!("{}: poll: {why}", self.filter));
                return;
            }
            Answer::Document { etag, signature } => (etag, signature),
        };
        let claimed: u64 = headers
            .iter()
            .find(|(k, _)| k == "tollgate-revision")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        if body_size > MAX_DOCUMENT {
            self.refused(
                host,
                claimed,
                format!("the document is larger than {MAX_DOCUMENT} bytes"),
            );
            return;
        }
        let body = host
            .buffer(BufferKind::HttpCallResponseBody, 0, body_size)
            .ok()
            .flatten()
            .unwrap_or_default();
        let doc = Document {
            revision: claimed,
            etag,
            signature,
            body,
        };
        match self.load(host, &doc) {
            Ok(()) => {
                if let Err(e) = shared::publish(host, self.filter, &doc) {
                    host.log(LogLevel::Warn, &format!("{}: not shared: {e}", self.filter));
                }
                // This worker's own publication is what it runs.
                let version = shared::read(host, self.filter).map(|(v, _)| v);
                if let Some(pull) = &mut self.pull {
                    pull.loaded = version;
                }
            }
            Err(why) => self.refused(host, claimed, why),
        }
    }

    fn refused(&mut self, host: &dyn Host, revision: u64, why: String) {
        host.log(LogLevel::Warn, &format!("{}: refused: {why}", self.filter));
        if let Some(pull) = &mut self.pull {
            pull.report.refused = Some((revision, why));
        }
    }
}

/// The stream of a filter that has no config yet.
struct NotConfigured;

impl Callouts for NotConfigured {}

impl StreamFilter for NotConfigured {
    fn on_request_headers(&mut self, host: &dyn Host, _: usize, _: bool) -> HeadersAction {
        let body =
            crate::reply::error_body("not_configured", "the gateway has no configuration yet");
        let reply = LocalReply {
            status: 503,
            details: "tollgate.not_configured",
            headers: &[("content-type", "application/json"), ("retry-after", "1")],
            body: body.as_bytes(),
            grpc_status: None,
        };
        let _ = host.send_local_response(&reply);
        HeadersAction::StopIteration
    }
}

impl<R: RootFilter> Callouts for Pulled<R> {
    fn on_http_call_response(
        &mut self,
        host: &dyn Host,
        token: u32,
        num_headers: usize,
        body_size: usize,
        num_trailers: usize,
    ) {
        let ours = self
            .pull
            .as_ref()
            .is_some_and(|p| p.in_flight == Some(token));
        if ours {
            if let Some(pull) = &mut self.pull {
                pull.in_flight = None;
            }
            self.on_answer(host, body_size);
            return;
        }
        let shim = shim(host, &self.asked);
        self.inner
            .on_http_call_response(&shim, token, num_headers, body_size, num_trailers);
    }
    fn on_grpc_initial_metadata(&mut self, host: &dyn Host, token: u32, n: usize) {
        let shim = shim(host, &self.asked);
        self.inner.on_grpc_initial_metadata(&shim, token, n);
    }
    fn on_grpc_message(&mut self, host: &dyn Host, token: u32, size: usize) {
        let shim = shim(host, &self.asked);
        self.inner.on_grpc_message(&shim, token, size);
    }
    fn on_grpc_trailing_metadata(&mut self, host: &dyn Host, token: u32, n: usize) {
        let shim = shim(host, &self.asked);
        self.inner.on_grpc_trailing_metadata(&shim, token, n);
    }
    fn on_grpc_close(&mut self, host: &dyn Host, token: u32, status_code: u32) {
        let shim = shim(host, &self.asked);
        self.inner.on_grpc_close(&shim, token, status_code);
    }
}

impl<R: RootFilter> RootFilter for Pulled<R> {
    fn on_vm_start(&mut self, host: &dyn Host, vm_config: &[u8]) -> bool {
        let shim = shim(host, &self.asked);
        let ok = self.inner.on_vm_start(&shim, vm_config);
        self.set_timer(host);
        ok
    }

    fn on_configure(&mut self, host: &dyn Host, config: &[u8]) -> Result<(), String> {
        let split = split(config)?;
        let Some(block) = split.control else {
            self.pull = None;
            let result = {
                let shim = shim(host, &self.asked);
                self.inner.on_configure(&shim, config)
            };
            self.configured = result.is_ok();
            self.set_timer(host);
            return result;
        };
        let me = worker_id(host, self.filter)
            .map_err(|e| format!("control: pulling needs shared data: {e}"))?;
        let ttl = Duration::from_secs(block.poll_seconds.saturating_mul(3).max(3));
        self.pull = Some(Pull {
            lease: Lease::new(self.filter, me, ttl),
            block,
            report: Report::default(),
            loaded: None,
            in_flight: None,
            next_poll_ms: 0,
        });
        if let Some(seed) = split.config {
            let shim = shim(host, &self.asked);
            self.inner.on_configure(&shim, &seed)?;
            self.configured = true;
        }
        // Another worker may already run a pulled document: start from it.
        self.follow_shared(host);
        self.set_timer(host);
        Ok(())
    }

    fn new_stream(&mut self, host: &dyn Host, context_id: u32) -> Option<Box<dyn StreamFilter>> {
        if self.pull.is_some() && !self.configured {
            return Some(Box::new(NotConfigured));
        }
        self.inner.new_stream(host, context_id)
    }

    fn on_tick(&mut self, host: &dyn Host) {
        if self.pull.is_some() {
            let now = now_ms(host);
            self.follow_shared(host);
            self.poll(host, now);
            // The filter ticks at the period it asked for.
            let due = self.asked.get().is_some_and(|p| {
                now.saturating_sub(self.inner_ticked_ms)
                    >= u64::try_from(p.as_millis()).unwrap_or(u64::MAX)
            });
            if !due {
                return;
            }
            self.inner_ticked_ms = now;
        }
        let before = self.asked.get();
        {
            let shim = shim(host, &self.asked);
            self.inner.on_tick(&shim);
        }
        if self.asked.get() != before {
            self.set_timer(host);
        }
    }

    fn on_queue_ready(&mut self, host: &dyn Host, queue_id: u32) {
        let shim = shim(host, &self.asked);
        self.inner.on_queue_ready(&shim, queue_id);
    }

    fn on_foreign_function(&mut self, host: &dyn Host, function_id: u32, data_size: usize) {
        let shim = shim(host, &self.asked);
        self.inner
            .on_foreign_function(&shim, function_id, data_size);
    }

    fn on_done(&mut self, host: &dyn Host) -> bool {
        let shim = shim(host, &self.asked);
        self.inner.on_done(&shim)
    }

    fn on_log(&mut self, host: &dyn Host) {
        let shim = shim(host, &self.asked);
        self.inner.on_log(&shim);
    }
}

#[cfg(test)]
#[path = "root_tests.rs"]
mod tests;
