//! The proxy-wasm glue: one header read per phase, one decision, and the plan carried
//! out. The cache never fails a request: a store that errs is counted and logged, and
//! the request goes to the origin.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::UNIX_EPOCH;

use tollgate_kit::contract::CREDENTIALS_PROPERTY;
use tollgate_kit::host::{LocalReply, Pairs};
use tollgate_kit::pairs::first;
use tollgate_kit::reply::{self, Refusal, error_body};
use tollgate_kit::slot::ConfigSlot;
use tollgate_kit::slots::{self, MemorySlots, SharedSlots};
use tollgate_kit::{
    BodyAction, BufferKind, Callouts, HeadersAction, Host, HostFacts, LogLevel, MapKind,
    MetricKind, RootFilter, StreamFilter,
};

use crate::config::Compiled;
use crate::decide::{self, Event, Fetch, Origin, Plan, Reply, Request};
use crate::store::Store;

const FILTER: &str = "response-cache";

/// Where entries live in shared data: `<PREFIX><entries>.<marks>/<table>/<index>`.
/// The table sizes are part of the name, so a config with other sizes never reads a
/// slot laid out for these.
const PREFIX: &str = "tollgate.response_cache.v1/";

/// The four tables of a store, in this VM's memory (a host without shared data).
struct MemoryTables {
    meta: MemorySlots,
    body: MemorySlots,
    marks: MemorySlots,
    account: MemorySlots,
}

/// A compiled config and what lives and dies with it.
pub struct Active {
    pub compiled: Compiled,
    prefix: String,
    memory: Option<MemoryTables>,
}

impl Active {
    /// The store over shared data (or this VM's memory), for one callback.
    fn with_store<R>(&self, host: &dyn Host, f: impl FnOnce(&Store<'_>) -> R) -> R {
        let s = &self.compiled.storage;
        match &self.memory {
            Some(m) => f(&Store {
                meta: &m.meta,
                body: &m.body,
                marks: &m.marks,
                account: &m.account,
                entries: s.max_entries,
                mark_slots: s.invalidation_marks,
                max_bytes: s.max_bytes,
            }),
            None => {
                let names = tables(&self.prefix);
                let [meta, body, marks, account] = names.each_ref().map(|p| SharedSlots {
                    host,
                    prefix: p.as_str(),
                });
                f(&Store {
                    meta: &meta,
                    body: &body,
                    marks: &marks,
                    account: &account,
                    entries: s.max_entries,
                    mark_slots: s.invalidation_marks,
                    max_bytes: s.max_bytes,
                })
            }
        }
    }
}

fn tables(prefix: &str) -> [String; 4] {
    ["m", "b", "i", "n"].map(|t| format!("{prefix}{t}/"))
}

#[derive(Default)]
struct Metrics {
    counters: tollgate_kit::counters::Counters<Event>,
    bytes_gauge: Option<Option<u32>>,
}

impl Metrics {
    fn count(&mut self, host: &dyn Host, events: &[Event]) {
        for e in events {
            self.counters
                .inc(host, *e, || format!("response_cache.{}", e.name()));
        }
    }

    fn bytes(&mut self, host: &dyn Host, value: u64) {
        let id = *self.bytes_gauge.get_or_insert_with(|| {
            host.define_metric(MetricKind::Gauge, "response_cache.bytes")
                .ok()
        });
        if let Some(id) = id {
            let _ = host.record_metric(id, value);
        }
    }
}

#[derive(Default)]
pub struct ResponseCacheRoot {
    config: ConfigSlot<Active>,
    facts: HostFacts,
    metrics: Rc<RefCell<Metrics>>,
}

impl ResponseCacheRoot {
    fn activate(&self, host: &dyn Host, compiled: Compiled) -> Result<Active, String> {
        let s = &compiled.storage;
        let prefix = format!("{PREFIX}{}.{}/", s.max_entries, s.invalidation_marks);
        if !compiled.shared {
            let m = |n| MemorySlots::new(n);
            return Ok(Active {
                memory: Some(MemoryTables {
                    meta: m(s.max_entries),
                    body: m(s.max_entries),
                    marks: m(s.invalidation_marks),
                    account: m(1),
                }),
                compiled,
                prefix,
            });
        }
        let names = tables(&prefix);
        let sizes = [s.max_entries, s.max_entries, s.invalidation_marks, 1];
        let mut created = 0;
        for (name, size) in names.iter().zip(sizes) {
            let table = SharedSlots { host, prefix: name };
            created += slots::create_slots(&table, size).map_err(|e| {
                format!(
                    "{FILTER}: this host's shared data failed ({}); entries cannot be kept",
                    e.0
                )
            })?;
        }
        if created > 0 {
            host.log(
                LogLevel::Debug,
                &format!("{FILTER}: created {created} shared-data slots"),
            );
        }
        Ok(Active {
            compiled,
            prefix,
            memory: None,
        })
    }
}

impl Callouts for ResponseCacheRoot {}

impl RootFilter for ResponseCacheRoot {
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
        let shared = compiled.shared;
        let budget = compiled.storage.max_bytes;
        let active = self.activate(host, compiled)?;
        host.log(
            LogLevel::Info,
            &format!(
                "{FILTER}: {rules} rules; up to {budget} bytes of entries, {}",
                if shared {
                    "shared by every worker"
                } else {
                    "kept by each worker"
                }
            ),
        );
        self.config.replace(active);
        Ok(())
    }

    fn new_stream(&mut self, _host: &dyn Host, _context_id: u32) -> Option<Box<dyn StreamFilter>> {
        Some(Box::new(ResponseCacheStream {
            active: self.config.current()?,
            facts: self.facts,
            metrics: Rc::clone(&self.metrics),
            request: Vec::new(),
            state: State::Idle,
        }))
    }
}

/// What a stream is doing.
enum State {
    Idle,
    /// Passing, labelled `x-cache: BYPASS`.
    Bypass,
    /// Answered from the cache.
    Served,
    /// Gone upstream; `body` collects the response to store (`None`: not storing).
    Fetching {
        fetch: Box<Fetch>,
        status: u16,
        headers: Pairs,
        body: Option<Vec<u8>>,
    },
    /// An unsafe request: invalidate when it succeeds.
    Writing {
        authority: String,
        path: String,
    },
}

pub struct ResponseCacheStream {
    active: Rc<Active>,
    facts: HostFacts,
    metrics: Rc<RefCell<Metrics>>,
    /// The request's headers (for `Vary` and for answering conditionals later).
    request: Pairs,
    state: State,
}

/// Whether a response has no body to wait for: the host says the headers end the
/// stream (where it means it), or the status or `content-length: 0` says so.
fn no_body(
    facts: HostFacts,
    fetch: &Fetch,
    status: u16,
    headers: &[(String, String)],
    end_of_stream: bool,
) -> bool {
    (end_of_stream && facts.response_headers_end_stream())
        || fetch.head
        || matches!(status, 204 | 304)
        || first(headers, "content-length") == "0"
}

fn now_ns(host: &dyn Host) -> Option<u64> {
    host.now()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .and_then(|d| u64::try_from(d.as_nanos()).ok())
}

impl ResponseCacheStream {
    fn count(&self, host: &dyn Host, events: &[Event]) {
        self.metrics.borrow_mut().count(host, events);
        if events
            .iter()
            .any(|e| matches!(e, Event::Stored | Event::Evicted))
            && let Ok(bytes) = self.active.with_store(host, |s| s.bytes())
        {
            self.metrics.borrow_mut().bytes(host, bytes);
        }
    }

    fn error(&self, host: &dyn Host, why: &str) {
        self.count(host, &[Event::Errors]);
        host.log(
            LogLevel::Error,
            &format!("{FILTER}: {why}; going to the origin"),
        );
    }

    fn send(&self, host: &dyn Host, reply: &Reply) -> bool {
        let headers: Vec<(&str, &str)> = reply
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let sent = host.send_local_response(&LocalReply {
            status: u32::from(reply.status),
            details: "tollgate_response_cache.hit",
            headers: &headers,
            body: decide::body_for_host(&self.active.compiled, &reply.body),
            grpc_status: None,
        });
        match sent {
            Ok(()) => true,
            Err(e) => {
                self.error(host, &format!("cannot answer from the cache: {e}"));
                false
            }
        }
    }

    fn purge(&mut self, host: &dyn Host, outcome: Result<String, ()>, now: u64) -> HeadersAction {
        let Ok(scope) = outcome else {
            let body = error_body("purge_forbidden", "this caller may not purge the cache");
            reply::refuse(
                host,
                FILTER,
                &Refusal {
                    status: 403,
                    code: "purge_forbidden",
                    body: &body,
                    www_authenticate: "",
                },
            );
            return HeadersAction::StopIteration;
        };
        let mut events = vec![Event::Purged];
        self.active
            .with_store(host, |s| decide::mark(s, &[scope], now, &mut events));
        self.count(host, &events);
        let reply = Reply {
            status: 200,
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("cache-control".into(), "no-store".into()),
            ],
            body: br#"{"purged":true}"#.to_vec(),
        };
        self.send(host, &reply);
        self.state = State::Served;
        HeadersAction::StopIteration
    }
}

impl Callouts for ResponseCacheStream {}

impl StreamFilter for ResponseCacheStream {
    fn on_request_headers(
        &mut self,
        host: &dyn Host,
        _num_headers: usize,
        _end_of_stream: bool,
    ) -> HeadersAction {
        self.request = host
            .header_pairs(MapKind::RequestHeaders)
            .unwrap_or_default();
        let Some(now) = now_ns(host) else {
            self.error(host, "the host has no clock");
            self.state = State::Bypass;
            return HeadersAction::Continue;
        };
        let active = Rc::clone(&self.active);
        let c = &active.compiled;
        let credentials = if c.identity.credentials {
            let path = self.facts.stream_property(CREDENTIALS_PROPERTY);
            host.property(&path).ok().flatten()
        } else {
            None
        };
        let req = Request {
            headers: &self.request,
            credentials: credentials.as_deref(),
            now_ns: now,
        };
        if let Some(outcome) = decide::purge(c, &req) {
            return self.purge(host, outcome, now);
        }
        let mut events = Vec::new();
        let plan = active.with_store(host, |s| decide::request(c, s, &req, &mut events));
        self.count(host, &events);
        match plan {
            Err(why) => {
                self.error(host, &format!("the store failed ({why})"));
                self.state = State::Bypass;
            }
            Ok(Plan::Bypass(_)) => self.state = State::Bypass,
            Ok(Plan::Serve(reply)) => {
                if self.send(host, &reply) {
                    self.state = State::Served;
                    return HeadersAction::StopIteration;
                }
                self.state = State::Bypass;
            }
            Ok(Plan::Fetch(fetch)) => {
                for (name, value) in &fetch.conditional {
                    let _ = host.replace_header(MapKind::RequestHeaders, name, value);
                }
                self.state = State::Fetching {
                    fetch: Box::new(fetch),
                    status: 0,
                    headers: Vec::new(),
                    body: None,
                };
            }
            Ok(Plan::Write { authority, path }) => {
                self.state = State::Writing { authority, path };
            }
        }
        HeadersAction::Continue
    }

    fn on_response_headers(
        &mut self,
        host: &dyn Host,
        _num_headers: usize,
        end_of_stream: bool,
    ) -> HeadersAction {
        let headers = host
            .header_pairs(MapKind::ResponseHeaders)
            .unwrap_or_default();
        let status: u16 = first(&headers, ":status").parse().unwrap_or(0);
        let now = now_ns(host).unwrap_or(0);
        let active = Rc::clone(&self.active);
        let c = &active.compiled;
        match std::mem::replace(&mut self.state, State::Idle) {
            State::Bypass => {
                let _ = host.replace_header(MapKind::ResponseHeaders, "x-cache", "BYPASS");
                self.state = State::Bypass;
            }
            State::Writing { authority, path } => {
                let mut events = Vec::new();
                let method = first(&self.request, ":method");
                active.with_store(host, |s| {
                    let write = decide::Write {
                        method,
                        authority: &authority,
                        path: &path,
                        status,
                        headers: &headers,
                        now_ns: now,
                    };
                    decide::written(c, s, &write, &mut events)
                });
                self.count(host, &events);
            }
            State::Fetching { fetch, .. } => {
                if fetch.revalidating.is_some() {
                    let mut events = Vec::new();
                    let replacement = if status == 304 {
                        let origin = Origin {
                            status,
                            headers: &headers,
                            body: &[],
                            now_ns: now,
                        };
                        active.with_store(host, |s| {
                            decide::refreshed(c, s, &fetch, &origin, &self.request, &mut events)
                        })
                    } else {
                        decide::stands_in_for_error(&fetch, status, now, &self.request)
                    };
                    self.count(host, &events);
                    if let Some(reply) = replacement
                        && self.send(host, &reply)
                    {
                        self.state = State::Served;
                        return HeadersAction::StopIteration;
                    }
                }
                let _ = host.replace_header(MapKind::ResponseHeaders, "x-cache", fetch.label);
                let bodiless = no_body(self.facts, &fetch, status, &headers, end_of_stream);
                let storing = match decide::may_store(c, &fetch, status, &headers, now) {
                    Ok(()) => {
                        if !bodiless {
                            tollgate_kit::gate::want_response_body(host);
                        }
                        true
                    }
                    Err(why) => {
                        self.count(host, &[Event::NotStored(why.name())]);
                        false
                    }
                };
                self.state = State::Fetching {
                    fetch,
                    status,
                    headers,
                    body: storing.then(Vec::new),
                };
                if storing && bodiless {
                    self.finish(host, now);
                }
            }
            other => self.state = other,
        }
        HeadersAction::Continue
    }

    fn on_response_body(
        &mut self,
        host: &dyn Host,
        body_size: usize,
        end_of_stream: bool,
    ) -> BodyAction {
        let limit = self.active.compiled.storage.max_entry_bytes;
        if let State::Fetching {
            body: body @ Some(_),
            ..
        } = &mut self.state
        {
            let chunk = host
                .buffer(BufferKind::HttpResponseBody, 0, body_size)
                .ok()
                .flatten()
                .unwrap_or_default();
            let collected = body.get_or_insert_with(Vec::new);
            if collected.len() as u64 + chunk.len() as u64 > limit {
                *body = None;
                self.count(host, &[Event::NotStored("too_large")]);
            } else {
                collected.extend_from_slice(&chunk);
            }
        }
        if end_of_stream {
            let now = now_ns(host).unwrap_or(0);
            self.finish(host, now);
        }
        BodyAction::Continue
    }
}

impl ResponseCacheStream {
    /// The whole response has passed: store it if it was being collected.
    fn finish(&mut self, host: &dyn Host, now: u64) {
        let State::Fetching {
            fetch,
            status,
            headers,
            body: Some(body),
        } = std::mem::replace(&mut self.state, State::Idle)
        else {
            return;
        };
        let active = Rc::clone(&self.active);
        let origin = Origin {
            status,
            headers: &headers,
            body: &body,
            now_ns: now,
        };
        let mut events = Vec::new();
        active.with_store(host, |s| {
            decide::store_response(
                &active.compiled,
                s,
                &fetch,
                &origin,
                &self.request,
                &mut events,
            );
        });
        self.count(host, &events);
    }
}

#[cfg(test)]
#[path = "filter_tests.rs"]
mod tests;
