//! The proxy-wasm glue: one header read, the peer address only when a rule keys on it,
//! one decision, and the refusal or the response headers applied.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, UNIX_EPOCH};

use tollgate_kit::host::{GrpcCall, HttpCall, Pairs};
use tollgate_kit::reply::{self, Refusal, error_body};
use tollgate_kit::slot::ConfigSlot;
use tollgate_kit::slots::{self as store, MemorySlots, SharedSlots};
use tollgate_kit::{
    BufferKind, Callouts, HeadersAction, Host, HostFacts, LogLevel, MapKind, MetricKind,
    RootFilter, StreamFilter, StreamKind,
};

use crate::config::{Compiled, Mode, Transport};
use crate::decide::{self, Decision, Event, GlobalAsk, Report, Request, Verdict};
use crate::headers;
use crate::key::Descriptor;
use crate::rls;
use crate::table::{self, Slots};

/// The filter's name in logs and response details.
const FILTER: &str = "rate-limit";

/// Where this build keeps its shared-data slots: `<PREFIX><max_keys>/<index>`. The slot
/// count is part of the name, so a config with another table size never reads a slot
/// hashed for this one.
const PREFIX: &str = "tollgate.rate_limit.v1/";

/// Every mode, for the `rate_limit.mode.<name>` gauges (1 for the active ones: the
/// local mode, and `global` when a rate-limit service enforces global rules).
const MODES: [&str; 3] = ["shared", "per_worker", "global"];

/// A compiled config and the state that lives and dies with it.
pub struct Active {
    pub compiled: Compiled,
    /// The mode this VM runs in (the config's, or per-worker where shared data turned
    /// out to be missing).
    pub mode: Mode,
    pub prefix: String,
    /// The bucket hash key: the same on every worker of a proxy (kept in shared data).
    pub seed: (u64, u64),
    /// Per-worker slots, when workers share nothing.
    pub memory: Option<MemorySlots>,
    /// Whether a rule keys on the client address (the peer is read only then).
    pub needs_peer: bool,
    /// Counters by (rule index, event). Per config: another config's rule 0 is
    /// another rule, with another name.
    rule_counters: RefCell<tollgate_kit::counters::Counters<(usize, Event)>>,
}

/// The filter-wide counters, by name.
#[derive(Default)]
struct Metrics {
    general: tollgate_kit::counters::Counters<&'static str>,
}

#[derive(Default)]
pub struct RateLimitRoot {
    config: ConfigSlot<Active>,
    facts: HostFacts,
    metrics: Rc<RefCell<Metrics>>,
}

fn random_seed() -> (u64, u64) {
    let mut bytes = [0u8; 16];
    // Without randomness the hash is still a good spread, only not secret.
    let _ = getrandom::getrandom(&mut bytes);
    let (a, b) = bytes.split_at(8);
    let word = |s: &[u8]| u64::from_le_bytes(s.try_into().unwrap_or([0; 8]));
    (word(a), word(b))
}

fn set_mode_gauges(host: &dyn Host, active: &[&str]) {
    for name in MODES {
        if let Ok(id) = host.define_metric(MetricKind::Gauge, &format!("rate_limit.mode.{name}")) {
            let _ = host.record_metric(id, u64::from(active.contains(&name)));
        }
    }
}

/// The modes in force and how they read in the log.
fn describe(active: &Active, host_name: &str) -> (Vec<&'static str>, String) {
    let c = &active.compiled;
    let local_rules = c.rules.iter().filter(|r| !r.global).count();
    let global_rules = c.rules.len() - local_rules;
    let mut modes = Vec::new();
    let mut parts = Vec::new();
    if local_rules > 0 || c.global.as_ref().is_some_and(|g| g.pre_check) {
        modes.push(active.mode.name());
        parts.push(match active.mode {
            Mode::Shared => format!("mode shared on {host_name} (exact across workers)"),
            Mode::PerWorker { workers } => {
                format!("mode per_worker on {host_name} (1/{workers} of each limit per worker)")
            }
        });
    }
    if let (Some(g), true) = (&c.global, global_rules > 0) {
        modes.push("global");
        parts.push(format!(
            "mode global: {global_rules} rules enforced by the rate-limit service at {} ({:?}, \
             timeout {} ms, pre-check {})",
            g.service,
            g.transport,
            g.timeout_ms,
            if g.pre_check { "on" } else { "off" }
        ));
    }
    (modes, parts.join("; "))
}

impl RateLimitRoot {
    /// The mode, seed and per-worker slots for `compiled` on this VM: shared data when
    /// the host has it (slots created now, before any request), else per-worker.
    fn activate(&self, host: &dyn Host, compiled: Compiled) -> Result<Active, String> {
        let prefix = format!("{PREFIX}{}/", compiled.max_keys);
        let needs_peer = compiled
            .rules
            .iter()
            .any(|r| r.key.contains(&Descriptor::ClientAddress));
        let mut mode = compiled.mode;
        let mut seed = random_seed();
        if mode == Mode::Shared {
            let shared = SharedSlots {
                host,
                prefix: &prefix,
            };
            let ready = store::shared_seed(host, &format!("{PREFIX}seed"), seed).and_then(|s| {
                table::create_slots(&shared, compiled.max_keys).map(|created| (s, created))
            });
            match ready {
                Ok((s, created)) => {
                    seed = s;
                    if created > 0 {
                        host.log(
                            LogLevel::Debug,
                            &format!("{FILTER}: created {created} bucket slots"),
                        );
                    }
                }
                Err(e) => match compiled.workers {
                    Some(workers) => {
                        host.log(
                            LogLevel::Warn,
                            &format!(
                                "{FILTER}: shared data failed ({}); each of {workers} workers \
                                 enforces its share of every limit",
                                e.0
                            ),
                        );
                        mode = Mode::PerWorker { workers };
                    }
                    None => {
                        return Err(format!(
                            "{FILTER}: this host's shared data failed ({}); set \
                             `local.workers` to run per worker",
                            e.0
                        ));
                    }
                },
            }
        }
        let memory = match mode {
            Mode::PerWorker { .. } => Some(MemorySlots::new(compiled.max_keys)),
            Mode::Shared => None,
        };
        Ok(Active {
            compiled,
            mode,
            prefix,
            seed,
            memory,
            needs_peer,
            rule_counters: RefCell::default(),
        })
    }
}

impl Callouts for RateLimitRoot {}

impl RootFilter for RateLimitRoot {
    fn on_configure(&mut self, host: &dyn Host, bytes: &[u8]) -> Result<(), String> {
        self.facts = HostFacts::detect(host);
        let compiled = crate::config::load(bytes, self.facts).map_err(|e| e.to_string())?;
        for w in &compiled.warnings {
            host.log(
                LogLevel::Warn,
                &format!("{FILTER} on {}: {w}", self.facts.name()),
            );
        }
        let rules = compiled.rules.len();
        let active = self.activate(host, compiled)?;
        let (modes, story) = describe(&active, self.facts.name());
        set_mode_gauges(host, &modes);
        host.log(LogLevel::Info, &format!("{FILTER}: {rules} rules, {story}"));
        self.config.replace(active);
        Ok(())
    }

    fn new_stream(&mut self, _host: &dyn Host, _context_id: u32) -> Option<Box<dyn StreamFilter>> {
        Some(Box::new(RateLimitStream {
            active: self.config.current()?,
            facts: self.facts,
            metrics: Rc::clone(&self.metrics),
            response_headers: Vec::new(),
            pending: None,
        }))
    }
}

pub struct RateLimitStream {
    active: Rc<Active>,
    facts: HostFacts,
    metrics: Rc<RefCell<Metrics>>,
    /// Headers for the response of an admitted request.
    response_headers: Vec<(String, String)>,
    /// The rate-limit service's answer this request waits for.
    pending: Option<Pending>,
}

/// A request held for the rate-limit service.
struct Pending {
    token: u32,
    asks: Vec<GlobalAsk>,
    /// The local decision's report, kept for the response.
    local: Option<Report>,
}

impl RateLimitStream {
    fn record(&self, host: &dyn Host, decision: &Decision) {
        self.count(host, &decision.events);
        let mut m = self.metrics.borrow_mut();
        for _ in 0..decision.conflicts.min(1000) {
            m.general
                .inc(host, "cas_conflicts", || "rate_limit.cas_conflicts".into());
        }
        drop(m);
        if let Some(why) = &decision.error {
            self.error(host, why);
        }
    }

    fn refuse(
        &self,
        host: &dyn Host,
        status: u16,
        code: &str,
        message: &str,
        extra: &[(String, String)],
    ) {
        let body = error_body(code, message);
        let extra: Vec<(&str, &str)> = extra
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let refusal = Refusal {
            status,
            code,
            body: &body,
            www_authenticate: "",
        };
        reply::refuse_with(host, FILTER, &refusal, &extra);
    }
}

impl Callouts for RateLimitStream {
    fn on_grpc_message(&mut self, host: &dyn Host, token: u32, size: usize) {
        let Some(pending) = self.pending.take_if(|p| p.token == token) else {
            return;
        };
        let bytes = host
            .buffer(BufferKind::GrpcReceiveBuffer, 0, size)
            .ok()
            .flatten()
            .unwrap_or_default();
        let answer = rls::decode(&bytes, pending.asks.len());
        self.answered(host, pending, answer);
    }

    fn on_grpc_close(&mut self, host: &dyn Host, token: u32, status_code: u32) {
        let Some(pending) = self.pending.take_if(|p| p.token == token) else {
            return;
        };
        let why = format!("the rate-limit service failed (gRPC status {status_code})");
        self.answered(host, pending, Err(why));
    }

    fn on_http_call_response(
        &mut self,
        host: &dyn Host,
        token: u32,
        _num_headers: usize,
        body_size: usize,
        _num_trailers: usize,
    ) {
        let Some(pending) = self.pending.take_if(|p| p.token == token) else {
            return;
        };
        let status = host
            .header(MapKind::HttpCallResponseHeaders, ":status")
            .ok()
            .flatten()
            .and_then(|s| s.parse::<u16>().ok());
        let body = host
            .buffer(BufferKind::HttpCallResponseBody, 0, body_size)
            .ok()
            .flatten()
            .unwrap_or_default();
        // Envoy's ratelimit service answers 429 with the same JSON when over the limit.
        let answer = match status {
            Some(200 | 429) => rls::decode_json(&body, pending.asks.len()),
            Some(s) => Err(format!("the rate-limit service answered HTTP {s}")),
            None => Err("the rate-limit service did not answer".into()),
        };
        self.answered(host, pending, answer);
    }
}

impl RateLimitStream {
    /// Sends the global rules' buckets to the service and holds the request.
    fn ask_service(
        &mut self,
        host: &dyn Host,
        local: Option<Report>,
        asks: Vec<GlobalAsk>,
    ) -> HeadersAction {
        let active = Rc::clone(&self.active);
        let Some(g) = &active.compiled.global else {
            return self.apply(host, Verdict::Pass(local));
        };
        let plain: Vec<rls::Ask> = asks.iter().map(|a| a.ask.clone()).collect();
        let timeout = Duration::from_millis(g.timeout_ms);
        let sent = match g.transport {
            Transport::Grpc => {
                let call = GrpcCall {
                    service: g.service.as_bytes(),
                    service_name: rls::SERVICE,
                    method: rls::METHOD,
                    initial_metadata: &[],
                };
                host.grpc_call(&call, &rls::encode(&g.domain, &plain), timeout)
            }
            Transport::Http => {
                let body = rls::encode_json(&g.domain, &plain);
                let headers = [
                    (":method", "POST"),
                    (":path", g.path.as_str()),
                    (":authority", g.authority.as_str()),
                    ("content-type", "application/json"),
                ];
                host.http_call(&HttpCall {
                    upstream: &g.service,
                    headers: &headers,
                    body: Some(&body),
                    trailers: &[],
                    timeout,
                })
            }
        };
        match sent {
            Ok(token) => {
                self.pending = Some(Pending { token, asks, local });
                HeadersAction::StopIteration
            }
            Err(e) => {
                let (verdict, events) = decide::service_failed(&active.compiled, local, &asks);
                self.count(host, &events);
                self.error(host, &format!("cannot call the rate-limit service: {e}"));
                self.apply(host, verdict)
            }
        }
    }

    /// The service answered (or failed): decide, then resume or refuse the request.
    fn answered(&mut self, host: &dyn Host, pending: Pending, answer: Result<rls::Reply, String>) {
        let compiled = &self.active.compiled;
        let (verdict, events) = match answer {
            Ok(reply) => decide::settle(compiled, pending.local, &pending.asks, &reply),
            Err(why) => {
                self.error(host, &why);
                decide::service_failed(compiled, pending.local, &pending.asks)
            }
        };
        self.count(host, &events);
        if self.apply(host, verdict) == HeadersAction::Continue
            && let Err(e) = host.continue_stream(StreamKind::Request)
        {
            host.log(
                LogLevel::Error,
                &format!("{FILTER}: cannot resume a request: {e}"),
            );
        }
    }

    fn count(&self, host: &dyn Host, events: &[(usize, Event)]) {
        let mut counters = self.active.rule_counters.borrow_mut();
        for (index, event) in events {
            let Some(rule) = self.active.compiled.rules.get(*index) else {
                continue;
            };
            counters.inc(host, (*index, *event), || {
                format!("rate_limit.{}.{}", rule.name, event.name())
            });
        }
    }

    fn error(&self, host: &dyn Host, why: &str) {
        self.metrics
            .borrow_mut()
            .general
            .inc(host, "errors", || "rate_limit.errors".into());
        host.log(LogLevel::Error, &format!("{FILTER}: {why}"));
    }

    /// Carries out a verdict: refuse now, or go on with headers for the response.
    fn apply(&mut self, host: &dyn Host, verdict: Verdict) -> HeadersAction {
        let compiled = &Rc::clone(&self.active).compiled;
        match verdict {
            Verdict::Pass(report) => {
                if let Some(r) = report {
                    self.response_headers = headers::for_report(&r, &compiled.response, false);
                }
                HeadersAction::Continue
            }
            Verdict::Limited { rule, report } => {
                let extra = headers::for_report(&report, &compiled.response, true);
                let wait = headers::seconds_up(report.reset).max(1);
                self.refuse(
                    host,
                    compiled.response.status,
                    "rate_limited",
                    &format!("too many requests ({rule}); retry in {wait} s"),
                    &extra,
                );
                HeadersAction::StopIteration
            }
            Verdict::Unavailable => self.unavailable(host),
            Verdict::BadPath(problem) => {
                self.refuse(host, 400, "path_malformed", &problem.to_string(), &[]);
                HeadersAction::StopIteration
            }
        }
    }
}

impl StreamFilter for RateLimitStream {
    fn on_request_headers(
        &mut self,
        host: &dyn Host,
        _num_headers: usize,
        _end_of_stream: bool,
    ) -> HeadersAction {
        let headers: Pairs = host
            .header_pairs(MapKind::RequestHeaders)
            .unwrap_or_default();
        let peer = if self.active.needs_peer {
            tollgate_kit::connection::peer(host, self.facts)
        } else {
            None
        };
        let now = host
            .now()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .and_then(|d| u64::try_from(d.as_nanos()).ok());
        let active = Rc::clone(&self.active);
        let compiled = &active.compiled;
        let Some(now) = now else {
            self.record(
                host,
                &Decision {
                    verdict: Verdict::Unavailable,
                    events: Vec::new(),
                    conflicts: 0,
                    error: Some("the host has no clock".into()),
                    asks: Vec::new(),
                },
            );
            return self.unavailable(host);
        };
        let shared;
        let slots: &dyn Slots = match &active.memory {
            Some(memory) => memory,
            None => {
                shared = SharedSlots {
                    host,
                    prefix: &active.prefix,
                };
                &shared
            }
        };
        let request = Request {
            headers: &headers,
            peer: peer.as_deref(),
            now,
        };
        let decision = decide::decide(compiled, active.mode, slots, active.seed, &request);
        self.record(host, &decision);
        if let (Verdict::Pass(local), false) = (&decision.verdict, decision.asks.is_empty()) {
            return self.ask_service(host, local.clone(), decision.asks);
        }
        self.apply(host, decision.verdict)
    }

    fn on_response_headers(
        &mut self,
        host: &dyn Host,
        _num_headers: usize,
        _end_of_stream: bool,
    ) -> HeadersAction {
        for (name, value) in std::mem::take(&mut self.response_headers) {
            let _ = host.replace_header(MapKind::ResponseHeaders, &name, &value);
        }
        HeadersAction::Continue
    }
}

impl RateLimitStream {
    /// No decision could be made: refuse (closed) or pass (open), as configured.
    fn unavailable(&self, host: &dyn Host) -> HeadersAction {
        if self.active.compiled.failure_mode == crate::config::FailureMode::Open {
            return HeadersAction::Continue;
        }
        self.refuse(
            host,
            503,
            "rate_limit_unavailable",
            "the rate limit could not be checked; retry shortly",
            &[("retry-after".into(), "1".into())],
        );
        HeadersAction::StopIteration
    }
}

#[cfg(test)]
#[path = "filter_tests.rs"]
mod tests;
