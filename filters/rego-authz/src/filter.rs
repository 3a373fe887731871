//! The proxy-wasm glue: one header read (and the body, only when the config asks), the
//! input document, one evaluation (or a cache hit), and the decision applied once.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use tollgate_kit::host::{HttpCall, LocalReply, Pairs};
use tollgate_kit::reply::{self, Refusal};
use tollgate_kit::slot::ConfigSlot;
use tollgate_kit::{
    BodyAction, BufferKind, Callouts, HeadersAction, Host, HostFacts, LogLevel, MapKind, Mutation,
    RootFilter, StreamFilter, TrailersAction, Verdict, mutation,
};

use crate::cache::DecisionCache;
use crate::config::{Compiled, Mode};
use crate::decision::{self, Decision};
use crate::decision_log::{self, Event, Queue};
use crate::engine::{EvalError, to_json, to_regorus};
use crate::input::{self, BadRequest, Body, Request};

/// The filter's name in logs and response details.
const FILTER: &str = "rego-authz";

/// Counters by name: `rego_authz.<name>`.
type Counters = tollgate_kit::counters::Counters<&'static str>;

/// A compiled config and the state that lives and dies with it.
pub struct Active {
    pub compiled: Compiled,
    /// Per worker; a new policy starts with an empty cache.
    cache: RefCell<Option<DecisionCache>>,
}

impl Active {
    pub fn new(compiled: Compiled) -> Self {
        let cache = compiled.cache.as_ref().map(DecisionCache::new);
        Self {
            compiled,
            cache: RefCell::new(cache),
        }
    }
}

/// What the root and its streams share.
#[derive(Default)]
struct Shared {
    counters: Counters,
    queue: Option<Queue>,
    /// The decision-log POST in flight: its token and size.
    in_flight: Option<(u32, usize)>,
    metadata_warned: bool,
}

impl Shared {
    fn count(&mut self, host: &dyn Host, name: &'static str) {
        self.counters
            .inc(host, name, || format!("rego_authz.{name}"));
    }
}

#[derive(Default)]
pub struct RegoAuthzRoot {
    config: ConfigSlot<Active>,
    facts: HostFacts,
    shared: Rc<RefCell<Shared>>,
}

impl RegoAuthzRoot {
    fn flush(&mut self, host: &dyn Host) {
        let Some(active) = self.config.current() else {
            return;
        };
        let Some(logs) = &active.compiled.logs else {
            return;
        };
        let mut sh = self.shared.borrow_mut();
        if sh.in_flight.is_some() {
            return;
        }
        let Some((n, body)) = sh.queue.as_mut().and_then(|q| q.take_batch(logs.gzip)) else {
            return;
        };
        let authority = logs.authority.as_deref().unwrap_or(&logs.upstream);
        let plain = [
            (":method", "POST"),
            (":path", logs.path.as_str()),
            (":authority", authority),
            ("content-type", "application/json"),
        ];
        let gzipped = [
            plain[0],
            plain[1],
            plain[2],
            plain[3],
            ("content-encoding", "gzip"),
        ];
        let headers: &[(&str, &str)] = if logs.gzip { &gzipped } else { &plain };
        let call = HttpCall {
            upstream: &logs.upstream,
            headers,
            body: Some(&body),
            trailers: &[],
            timeout: Duration::from_millis(logs.timeout_ms),
        };
        match host.http_call(&call) {
            Ok(token) => sh.in_flight = Some((token, n)),
            Err(e) => {
                sh.count(host, "decision_logs.failed");
                host.log(
                    LogLevel::Warn,
                    &format!("rego-authz: cannot send {n} decision logs: {e}"),
                );
            }
        }
    }
}

impl Callouts for RegoAuthzRoot {
    fn on_http_call_response(
        &mut self,
        host: &dyn Host,
        token: u32,
        _num_headers: usize,
        _body_size: usize,
        _num_trailers: usize,
    ) {
        let mut sh = self.shared.borrow_mut();
        let Some((_, n)) = sh.in_flight.filter(|(t, _)| *t == token) else {
            return;
        };
        sh.in_flight = None;
        let status = host
            .header(MapKind::HttpCallResponseHeaders, ":status")
            .ok()
            .flatten()
            .and_then(|s| s.parse::<u32>().ok());
        if status.is_some_and(|s| (200..300).contains(&s)) {
            sh.count(host, "decision_logs.sent_batches");
        } else {
            sh.count(host, "decision_logs.failed");
            host.log(
                LogLevel::Warn,
                &format!(
                    "rego-authz: the decision-log service refused {n} decisions (status {})",
                    status.map_or("none".to_string(), |s| s.to_string())
                ),
            );
        }
    }
}

impl RootFilter for RegoAuthzRoot {
    fn on_configure(&mut self, host: &dyn Host, bytes: &[u8]) -> Result<(), String> {
        self.facts = HostFacts::detect(host);
        let compiled = crate::config::load(bytes, self.facts).map_err(|e| e.to_string())?;
        for w in &compiled.warnings {
            host.log(
                LogLevel::Warn,
                &format!("rego-authz on {}: {w}", self.facts.name()),
            );
        }
        let revision = compiled
            .manifest
            .as_ref()
            .map(|m| m.revision.clone())
            .filter(|r| !r.is_empty());
        {
            let mut sh = self.shared.borrow_mut();
            sh.queue = compiled.logs.as_ref().map(|l| {
                Queue::new(
                    l.max_queue,
                    l.max_batch,
                    l.labels.clone(),
                    l.mask.clone(),
                    &compiled.token_header,
                )
            });
        }
        if let Some(l) = &compiled.logs
            && let Err(e) = host.set_tick_period(Duration::from_millis(l.flush_ms))
        {
            host.log(
                LogLevel::Warn,
                &format!("rego-authz: decision logs will not be sent: {e}"),
            );
        }
        let rule = compiled.policy.rule().to_string();
        self.config.replace(Active::new(compiled));
        host.log(
            LogLevel::Info,
            &format!(
                "rego-authz: policy active ({rule}{})",
                revision.map_or(String::new(), |r| format!(", revision {r}"))
            ),
        );
        Ok(())
    }

    fn new_stream(&mut self, _host: &dyn Host, _context_id: u32) -> Option<Box<dyn StreamFilter>> {
        Some(Box::new(RegoAuthzStream {
            active: self.config.current()?,
            facts: self.facts,
            shared: Rc::clone(&self.shared),
            headers: Vec::new(),
            verdict: Verdict::Pending,
            response_headers: Vec::new(),
        }))
    }

    fn on_tick(&mut self, host: &dyn Host) {
        self.flush(host);
    }
}

pub struct RegoAuthzStream {
    active: Rc<Active>,
    facts: HostFacts,
    shared: Rc<RefCell<Shared>>,
    headers: Pairs,
    verdict: Verdict,
    /// The decision's `response_headers_to_add`, for the response.
    response_headers: Vec<(String, String)>,
}

/// Why no decision was made.
enum Failure {
    Request(BadRequest),
    Policy(EvalError),
    Invalid(String),
}

impl Failure {
    fn code(&self) -> &'static str {
        match self {
            Self::Request(BadRequest::Path(_)) => "path_malformed",
            Self::Request(BadRequest::Body(_)) => "body_malformed",
            Self::Policy(e) => e.code(),
            Self::Invalid(_) => "decision_invalid",
        }
    }

    fn message(&self) -> String {
        match self {
            Self::Request(BadRequest::Path(m) | BadRequest::Body(m)) => m.clone(),
            Self::Policy(e) => e.to_string(),
            Self::Invalid(m) => m.clone(),
        }
    }
}

impl RegoAuthzStream {
    fn compiled(&self) -> &Compiled {
        &self.active.compiled
    }

    /// Peer and listener addresses and the protocol, as this host gives them.
    fn connection(&self, host: &dyn Host) -> (Option<String>, Option<String>, Option<String>) {
        use tollgate_kit::connection;
        (
            connection::peer(host, self.facts),
            connection::local(host, self.facts),
            connection::protocol(host, self.facts),
        )
    }

    /// Builds the input, decides (cache or engine), logs, and applies.
    fn decide(&mut self, host: &dyn Host, body: Option<Body<'_>>) {
        let (source, destination, protocol) = self.connection(host);
        let now = host.now().ok();
        let time = now
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| (d.as_secs(), d.subsec_nanos()));
        let token_header = &self.active.compiled.token_header;
        let token = self
            .headers
            .iter()
            .find(|(k, _)| k == token_header)
            .map(|(_, v)| v.as_str());
        let request = Request {
            headers: &self.headers,
            source: source.as_deref(),
            destination: destination.as_deref(),
            protocol: protocol.as_deref(),
            time,
            body,
            token_payload: token,
        };
        let input = match input::build(&request) {
            Ok(i) => i,
            Err(e) => return self.fail(host, &Failure::Request(e)),
        };
        let active = Rc::clone(&self.active);
        let cache_key = active.cache.borrow().as_ref().map(|c| c.key(&input));
        if let (Some(key), Some(now)) = (&cache_key, now) {
            let hit = active
                .cache
                .borrow_mut()
                .as_mut()
                .and_then(|c| c.get(key, now));
            if let Some(d) = hit {
                self.shared.borrow_mut().count(host, "cache.hit");
                return self.apply(host, &d);
            }
            self.shared.borrow_mut().count(host, "cache.miss");
        }
        let started = Instant::now();
        let result = to_regorus(&input)
            .map_err(EvalError::Failed)
            .and_then(|i| active.compiled.policy.evaluate(i));
        let eval_ns = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let result_json = result
            .as_ref()
            .ok()
            .map(|v| to_json(v).unwrap_or(serde_json::Value::Null));
        let outcome = match &result_json {
            Some(json) => decision::interpret(json).map_err(Failure::Invalid),
            None => Err(Failure::Policy(match result {
                Err(e) => e,
                Ok(_) => EvalError::Undefined,
            })),
        };
        self.log_decision(
            host,
            input,
            result_json,
            outcome.as_ref().err(),
            eval_ns,
            source.as_deref(),
        );
        match outcome {
            Ok(d) => {
                let d = Rc::new(d);
                if let (Some(key), Some(now)) = (cache_key, now)
                    && let Some(c) = active.cache.borrow_mut().as_mut()
                {
                    c.put(key, Rc::clone(&d), now);
                }
                self.apply(host, &d);
            }
            Err(f) => self.fail(host, &f),
        }
    }

    fn log_decision(
        &self,
        host: &dyn Host,
        input: serde_json::Value,
        result: Option<serde_json::Value>,
        failure: Option<&Failure>,
        eval_ns: u64,
        source: Option<&str>,
    ) {
        let mut sh = self.shared.borrow_mut();
        let Some(queue) = sh.queue.as_mut() else {
            return;
        };
        let compiled = self.compiled();
        let path = decision_log::rule_path(compiled.policy.rule());
        let revision = compiled.manifest.as_ref().map(|m| m.revision.as_str());
        let timestamp = host
            .now()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| input::rfc3339(d.as_secs(), d.subsec_nanos()))
            .unwrap_or_default();
        let queued = queue.push(Event {
            decision_id: decision_log::decision_id(),
            path: &path,
            input,
            result,
            error: failure.map(Failure::message),
            revision,
            requested_by: source,
            timestamp,
            eval_ns,
        });
        if !queued {
            sh.count(host, "decision_logs.dropped");
        }
    }

    /// A failure: enforce refuses with the configured status; shadow lets it pass.
    fn fail(&mut self, host: &dyn Host, f: &Failure) {
        let code = f.code();
        let rule = self.compiled().policy.rule().to_string();
        let shadow = self.compiled().mode == Mode::Shadow;
        {
            let mut sh = self.shared.borrow_mut();
            sh.count(host, if shadow { "shadow.failed" } else { "failed" });
        }
        // One line that names the rule; never the input, which holds the request.
        host.log(
            if matches!(f, Failure::Request(_)) {
                LogLevel::Debug
            } else {
                LogLevel::Error
            },
            &format!(
                "rego-authz: {rule}: {code}: {}{}",
                f.message(),
                if shadow { " (shadow: let through)" } else { "" }
            ),
        );
        if shadow {
            self.verdict = Verdict::Passed;
            return;
        }
        self.verdict = Verdict::Denied;
        let status = match f {
            Failure::Request(_) => 400,
            _ => self.compiled().error_status,
        };
        let message = match f {
            Failure::Request(_) => "the request is malformed",
            _ => "the request could not be authorized",
        };
        let body = reply::error_body(code, message);
        reply::refuse(
            host,
            FILTER,
            &Refusal {
                status: u16::try_from(status).unwrap_or(500),
                code,
                body: &body,
                www_authenticate: "",
            },
        );
    }

    fn apply(&mut self, host: &dyn Host, d: &Decision) {
        if let Some(meta) = &d.metadata {
            self.set_metadata(host, meta);
        }
        if !d.allowed {
            if self.compiled().mode == Mode::Shadow {
                self.shared.borrow_mut().count(host, "shadow.denied");
                host.log(
                    LogLevel::Info,
                    &format!(
                        "rego-authz: {}: would deny (shadow: let through)",
                        self.compiled().policy.rule()
                    ),
                );
                self.verdict = Verdict::Passed;
                return;
            }
            self.shared.borrow_mut().count(host, "denied");
            return self.deny(host, d);
        }
        self.shared.borrow_mut().count(
            host,
            if self.compiled().mode == Mode::Shadow {
                "shadow.allowed"
            } else {
                "allowed"
            },
        );
        let mut changes: Vec<Mutation> = d
            .remove
            .iter()
            .map(|n| Mutation::Remove(n.clone()))
            .collect();
        changes.extend(
            d.headers
                .iter()
                .map(|(k, v)| Mutation::Set(k.clone(), v.clone())),
        );
        if !changes.is_empty() {
            let applied = mutation::plan(self.facts, &self.headers, &changes)
                .map_err(|name| {
                    format!(
                        "`{name}` cannot be kept from the upstream on {}",
                        self.facts.name()
                    )
                })
                .and_then(|plans| {
                    mutation::apply(host, self.facts, &changes, &plans).map_err(|e| e.to_string())
                });
            if let Err(e) = applied {
                if self.compiled().mode == Mode::Shadow {
                    host.log(
                        LogLevel::Warn,
                        &format!("rego-authz: {e} (shadow: let through)"),
                    );
                } else {
                    self.verdict = Verdict::Denied;
                    reply::internal_error(host, FILTER, &format!("cannot apply the decision: {e}"));
                    return;
                }
            }
        }
        self.response_headers.clone_from(&d.response_headers);
        self.verdict = Verdict::Passed;
    }

    fn deny(&mut self, host: &dyn Host, d: &Decision) {
        self.verdict = Verdict::Denied;
        let status = d.status.unwrap_or(self.compiled().deny_status);
        let default_body;
        let (body, ours) = match &d.body {
            Some(b) => (b.as_str(), false),
            None => {
                default_body = reply::error_body("policy_denied", "the policy denied the request");
                (default_body.as_str(), true)
            }
        };
        let mut headers: Vec<(&str, &str)> = d
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        if ours {
            headers.push(("content-type", "application/json"));
        }
        headers.push(("cache-control", "no-store"));
        let reply = LocalReply {
            status,
            details: "tollgate_rego_authz.policy_denied",
            headers: &headers,
            body: body.as_bytes(),
            grpc_status: None,
        };
        if let Err(e) = host.send_local_response(&reply) {
            host.log(
                LogLevel::Error,
                &format!("rego-authz: cannot refuse a request: {e}"),
            );
        }
    }

    fn set_metadata(&self, host: &dyn Host, meta: &serde_json::Value) {
        let name = &self.compiled().metadata_property;
        let path = self.facts.stream_property(name);
        if let Err(e) = host.set_property(&path, meta.to_string().as_bytes()) {
            let mut sh = self.shared.borrow_mut();
            if !std::mem::replace(&mut sh.metadata_warned, true) {
                host.log(
                    LogLevel::Warn,
                    &format!(
                        "rego-authz: cannot set the `{}` property: {e}",
                        path.join(".")
                    ),
                );
            }
        }
    }

    fn decide_with_body(&mut self, host: &dyn Host, buffered: usize, complete: bool) {
        let limit = self.compiled().body_limit.unwrap_or(0);
        let take = buffered.min(limit);
        match host.buffer(BufferKind::HttpRequestBody, 0, take) {
            Ok(bytes) => {
                let bytes = bytes.unwrap_or_default();
                let truncated = buffered > limit || (!complete && buffered >= limit);
                self.decide(
                    host,
                    Some(Body {
                        bytes: &bytes,
                        truncated,
                    }),
                );
            }
            Err(e) => {
                self.verdict = Verdict::Denied;
                reply::internal_error(host, FILTER, &format!("cannot read the request body: {e}"));
            }
        }
    }
}

impl Callouts for RegoAuthzStream {}

impl StreamFilter for RegoAuthzStream {
    fn on_request_headers(
        &mut self,
        host: &dyn Host,
        _n: usize,
        end_of_stream: bool,
    ) -> HeadersAction {
        self.headers = match host.header_pairs(MapKind::RequestHeaders) {
            Ok(h) => h,
            Err(e) => {
                self.verdict = Verdict::Denied;
                reply::internal_error(
                    host,
                    FILTER,
                    &format!("cannot read the request headers: {e}"),
                );
                return HeadersAction::StopIteration;
            }
        };
        if self.compiled().body_limit.is_some() {
            if !end_of_stream {
                // Held until the body is read: the decision is made once, with it.
                tollgate_kit::gate::want_request_body(host);
                return HeadersAction::StopIteration;
            }
            self.decide(host, Some(Body::default()));
        } else {
            self.decide(host, None);
        }
        match self.verdict {
            Verdict::Passed => HeadersAction::Continue,
            Verdict::Pending | Verdict::Denied => HeadersAction::StopIteration,
        }
    }

    fn on_request_body(
        &mut self,
        host: &dyn Host,
        body_size: usize,
        end_of_stream: bool,
    ) -> BodyAction {
        if self.verdict == Verdict::Pending {
            let limit = self.compiled().body_limit.unwrap_or(0);
            if end_of_stream || body_size >= limit {
                self.decide_with_body(host, body_size, end_of_stream);
            }
        }
        self.verdict.request_body()
    }

    fn on_request_trailers(&mut self, host: &dyn Host, _n: usize) -> TrailersAction {
        if self.verdict == Verdict::Pending {
            let size = host
                .buffer(BufferKind::HttpRequestBody, 0, usize::MAX)
                .ok()
                .flatten()
                .map_or(0, |b| b.len());
            self.decide_with_body(host, size, true);
        }
        self.verdict.request_trailers()
    }

    fn on_response_headers(&mut self, host: &dyn Host, _n: usize, _eos: bool) -> HeadersAction {
        for (k, v) in &self.response_headers {
            if let Err(e) = host.add_header(MapKind::ResponseHeaders, k, v) {
                host.log(
                    LogLevel::Warn,
                    &format!("rego-authz: cannot add response header `{k}`: {e}"),
                );
            }
        }
        HeadersAction::Continue
    }
}

#[cfg(test)]
#[path = "filter_tests.rs"]
mod tests;
