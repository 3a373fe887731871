//! The proxy-wasm glue: one header read per phase, one decision, and the plan carried
//! out. The cache never fails a request: a store that errs is counted and logged, and
//! the request goes to the origin.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, UNIX_EPOCH};

use tollgate_kit::contract::CREDENTIALS_PROPERTY;
use tollgate_kit::host::{HttpCall, LocalReply, Pairs};
use tollgate_kit::pairs::first;
use tollgate_kit::reply::{self, Refusal, error_body};
use tollgate_kit::slot::ConfigSlot;
use tollgate_kit::slots::{self, MemorySlots, SharedSlots};
use tollgate_kit::{
    BodyAction, BufferKind, Callouts, HeadersAction, Host, HostFacts, LogLevel, MapKind,
    MetricKind, RootFilter, StreamFilter, StreamKind,
};

use crate::coalesce::{self, Claim};
use crate::config::{Compiled, SharedTier};
use crate::decide::{self, Event, Fetch, Origin, Plan, Reply, Request};
use crate::entry::KeyHash;
use crate::store::Store;
use crate::tier;
use crate::waiting::{Wait, Waiters};

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
    tier_prefix: String,
    locks_prefix: String,
    memory: Option<MemoryTables>,
}

impl Active {
    /// The fill locks, where misses are coalesced (shared data on Envoy).
    fn locks<'h>(&'h self, host: &'h dyn Host) -> Option<SharedSlots<'h>> {
        (self.memory.is_none() && self.compiled.coalesce_ms.is_some()).then(|| SharedSlots {
            host,
            prefix: &self.locks_prefix,
        })
    }

    /// The tier's state slots (shared data; the tier is refused without it).
    fn tier_state<'h>(&'h self, host: &'h dyn Host) -> Option<SharedSlots<'h>> {
        (self.memory.is_none() && self.compiled.tier.is_some()).then(|| SharedSlots {
            host,
            prefix: &self.tier_prefix,
        })
    }

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

/// The shared-data table of the tier's own state (lease, cursor).
fn tier_table(prefix: &str) -> String {
    format!("{prefix}t/")
}

/// The shared-data table of fill locks (coalescing).
fn locks_table(prefix: &str) -> String {
    format!("{prefix}f/")
}

/// How often the root looks at held requests while there are some.
const WAIT_TICK: Duration = Duration::from_millis(20);

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
    /// Work for the shared tier, from streams.
    outbox: Rc<RefCell<Outbox>>,
    /// The invalidations poll in flight.
    poll: Option<u32>,
    /// Requests waiting for another's fill.
    waiters: Rc<RefCell<Waiters>>,
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
                tier_prefix: tier_table(&prefix),
                locks_prefix: locks_table(&prefix),
                prefix,
            });
        }
        let names = tables(&prefix);
        let names = [
            names.as_slice(),
            &[tier_table(&prefix), locks_table(&prefix)],
        ]
        .concat();
        let sizes = [
            s.max_entries,
            s.max_entries,
            s.invalidation_marks,
            1,
            tier::STATE_SLOTS,
            coalesce::LOCKS,
        ];
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
            tier_prefix: tier_table(&prefix),
            locks_prefix: locks_table(&prefix),
            prefix,
            memory: None,
        })
    }
}

impl Callouts for ResponseCacheRoot {
    fn on_http_call_response(
        &mut self,
        host: &dyn Host,
        token: u32,
        _num_headers: usize,
        body_size: usize,
        _num_trailers: usize,
    ) {
        let status = host
            .header(MapKind::HttpCallResponseHeaders, ":status")
            .ok()
            .flatten()
            .and_then(|s| s.parse::<u16>().ok());
        if self.poll.take_if(|t| *t == token).is_none() {
            // A job's answer: only failures matter.
            if !status.is_some_and(|s| (200..300).contains(&s)) {
                self.metrics.borrow_mut().count(host, &[Event::TierErrors]);
            }
            return;
        }
        let Some(active) = self.config.current() else {
            return;
        };
        let body = host
            .buffer(BufferKind::HttpCallResponseBody, 0, body_size)
            .ok()
            .flatten()
            .unwrap_or_default();
        let page = match status {
            Some(200) => tier::page(&body),
            other => Err(format!(
                "the tier answered {other:?} to the invalidations poll"
            )),
        };
        let mut events = Vec::new();
        match page {
            Ok(page) => active.with_store(host, |s| {
                for item in &page.items {
                    decide::mark(s, &item.scopes, item.at_ns, &mut events);
                }
            }),
            Err(why) => {
                events.push(Event::TierErrors);
                host.log(LogLevel::Warn, &format!("{FILTER}: {why}"));
            }
        }
        if let (Ok(page), Some(state)) = (tier::page(&body), active.tier_state(host))
            && status == Some(200)
            && let Err(e) = tier::advance(&state, &page.next)
        {
            host.log(
                LogLevel::Warn,
                &format!("{FILTER}: cannot record the tier cursor: {}", e.0),
            );
        }
        self.metrics.borrow_mut().count(host, &events);
    }
}

impl ResponseCacheRoot {
    /// Decides again the requests whose fill ended (stored or not) or whose wait ran
    /// out: a hit is answered, anything else goes upstream. Only on hosts where the
    /// root can act on a stream (Envoy): nowhere else are misses held.
    fn resume(&mut self, host: &dyn Host) {
        if self.waiters.borrow().is_empty() {
            return;
        }
        let (Some(active), Some(now)) = (self.config.current(), now_ns(host)) else {
            return;
        };
        let ready = {
            let locks = active.locks(host);
            self.waiters.borrow_mut().take(|w| {
                now >= w.deadline_ns
                    || !locks
                        .as_ref()
                        .is_some_and(|l| coalesce::filling(l, &w.key, now).unwrap_or(false))
            })
        };
        let c = &active.compiled;
        for wait in ready {
            let mut w = wait.borrow_mut();
            if host.set_effective_context(w.context_id).is_err() {
                continue;
            }
            let req = Request {
                headers: &w.request,
                credentials: w.credentials.as_deref(),
                now_ns: now,
                body: None,
            };
            let mut events = Vec::new();
            let plan = active.with_store(host, |s| decide::request(c, s, &req, &mut events));
            self.metrics.borrow_mut().count(host, &events);
            match plan {
                Ok(Plan::Serve(reply)) if answer(host, c, &reply).is_ok() => {}
                Ok(Plan::Fetch(fetch)) => {
                    w.outcome = Some(fetch);
                    let _ = host.continue_stream(StreamKind::Request);
                }
                _ => {
                    let _ = host.continue_stream(StreamKind::Request);
                }
            }
        }
        if self.waiters.borrow().is_empty() {
            // Back to the tier's period (or no tick at all).
            let period = c.tier.as_ref().map_or(0, |t| t.poll_ms);
            let _ = host.set_tick_period(Duration::from_millis(period));
        }
    }

    /// Sends what streams left for the tier, then (one worker per proxy, by lease)
    /// asks for invalidations.
    fn sync(&mut self, host: &dyn Host) {
        let Some(active) = self.config.current() else {
            return;
        };
        let Some(t) = &active.compiled.tier else {
            return;
        };
        let jobs = self.outbox.borrow_mut().take(JOBS_PER_TICK);
        for job in jobs {
            let (method, path, body, ttl) = match &job {
                Job::Put { name, sealed, ttl } => (
                    "PUT",
                    format!("{}{name}", tier::ENTRIES),
                    sealed.clone(),
                    ttl.to_string(),
                ),
                Job::Invalidate(p) => (
                    "POST",
                    tier::INVALIDATIONS.to_string(),
                    serde_json::to_vec(p).unwrap_or_default(),
                    String::new(),
                ),
            };
            if let Err(e) = call_tier(host, t, method, &path, Some(&body), &ttl) {
                self.metrics.borrow_mut().count(host, &[Event::TierErrors]);
                host.log(
                    LogLevel::Warn,
                    &format!("{FILTER}: cannot reach the tier: {e}"),
                );
            }
        }
        if self.poll.is_some() {
            return;
        }
        let Some(now) = now_ns(host) else {
            return;
        };
        let Some(state) = active.tier_state(host) else {
            return;
        };
        let period = t.poll_ms.saturating_mul(2_000_000);
        if !tier::take_lease(&state, now, period).unwrap_or(false) {
            return;
        }
        let cursor = tier::cursor(&state).unwrap_or_default();
        let path = tier::poll_path(t, &cursor, now / 1_000_000);
        match call_tier(host, t, "GET", &path, None, "") {
            Ok(token) => self.poll = Some(token),
            Err(_) => self.metrics.borrow_mut().count(host, &[Event::TierErrors]),
        }
    }
}

/// Jobs sent per tick at most (the rest wait for the next).
const JOBS_PER_TICK: usize = 64;
/// Jobs kept waiting at most; beyond, the oldest are dropped (counted): the tier is an
/// optimisation, never a reason to grow without bound.
const OUTBOX_LIMIT: usize = 1024;

/// Work for the tier, handed from streams to the root, which outlives them: a PUT is
/// never cancelled with the stream that filled the entry.
pub enum Job {
    Put {
        name: String,
        sealed: Vec<u8>,
        ttl: u64,
    },
    Invalidate(tier::Published),
}

#[derive(Default)]
pub struct Outbox {
    jobs: std::collections::VecDeque<Job>,
}

impl Outbox {
    /// Queues `job`; `false` when the oldest had to go.
    fn push(&mut self, job: Job) -> bool {
        let room = self.jobs.len() < OUTBOX_LIMIT;
        if !room {
            self.jobs.pop_front();
        }
        self.jobs.push_back(job);
        room
    }

    fn take(&mut self, n: usize) -> Vec<Job> {
        let n = n.min(self.jobs.len());
        self.jobs.drain(..n).collect()
    }
}

/// One call to the tier.
fn call_tier(
    host: &dyn Host,
    t: &SharedTier,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
    ttl: &str,
) -> Result<u32, tollgate_kit::HostError> {
    let mut headers: Vec<(&str, &str)> = vec![
        (":method", method),
        (":path", path),
        (":authority", t.authority.as_str()),
    ];
    if !t.authorization.is_empty() {
        headers.push(("authorization", t.authorization.as_str()));
    }
    if !ttl.is_empty() {
        headers.push(("x-ttl-seconds", ttl));
    }
    if body.is_some() {
        headers.push(("content-type", "application/octet-stream"));
    }
    host.http_call(&HttpCall {
        upstream: &t.service,
        headers: &headers,
        body,
        trailers: &[],
        timeout: Duration::from_millis(t.timeout_ms.max(1000)),
    })
}

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
        if let Some(t) = &active.compiled.tier
            && let Err(e) = host.set_tick_period(Duration::from_millis(t.poll_ms))
        {
            host.log(
                LogLevel::Warn,
                &format!(
                    "{FILTER}: no timer ({e}): the shared tier's invalidations are not followed"
                ),
            );
        }
        self.config.replace(active);
        Ok(())
    }

    fn on_tick(&mut self, host: &dyn Host) {
        self.resume(host);
        self.sync(host);
    }

    fn new_stream(&mut self, _host: &dyn Host, context_id: u32) -> Option<Box<dyn StreamFilter>> {
        Some(Box::new(ResponseCacheStream {
            context_id,
            active: self.config.current()?,
            facts: self.facts,
            metrics: Rc::clone(&self.metrics),
            outbox: Rc::clone(&self.outbox),
            waiters: Rc::clone(&self.waiters),
            request: Vec::new(),
            state: State::Idle,
            lock: None,
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
    /// Asking the shared tier before the origin.
    Asking {
        fetch: Box<Fetch>,
        token: u32,
    },
    /// Held while another request fills its key; the root decides it again.
    Waiting(Rc<RefCell<Wait>>),
    /// A POST read's headers held while its body arrives.
    Reading {
        credentials: Option<Vec<u8>>,
    },
}

pub struct ResponseCacheStream {
    context_id: u32,
    active: Rc<Active>,
    facts: HostFacts,
    metrics: Rc<RefCell<Metrics>>,
    outbox: Rc<RefCell<Outbox>>,
    waiters: Rc<RefCell<Waiters>>,
    /// The request's headers (for `Vary` and for answering conditionals later).
    request: Pairs,
    state: State,
    /// The fill lock this request holds (released when its response is stored or not).
    lock: Option<KeyHash>,
}

/// Answers the current stream with `reply`.
fn answer(host: &dyn Host, c: &Compiled, reply: &Reply) -> Result<(), tollgate_kit::HostError> {
    let headers: Vec<(&str, &str)> = reply
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    host.send_local_response(&LocalReply {
        status: u32::from(reply.status),
        details: "tollgate_response_cache.hit",
        headers: &headers,
        body: decide::body_for_host(c, &reply.body),
        grpc_status: None,
    })
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
        match answer(host, &self.active.compiled, reply) {
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
        self.active.with_store(host, |s| {
            decide::mark(s, std::slice::from_ref(&scope), now, &mut events)
        });
        self.count(host, &events);
        if self.active.compiled.tier.is_some() {
            let job = Job::Invalidate(tier::Published {
                scopes: vec![scope],
                at_ns: now,
            });
            self.publish(host, job);
        }
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

impl Callouts for ResponseCacheStream {
    fn on_http_call_response(
        &mut self,
        host: &dyn Host,
        token: u32,
        _num_headers: usize,
        body_size: usize,
        _num_trailers: usize,
    ) {
        let State::Asking { fetch, token: mine } = std::mem::replace(&mut self.state, State::Idle)
        else {
            return;
        };
        if mine != token {
            self.state = State::Asking { fetch, token: mine };
            return;
        }
        let status = host
            .header(MapKind::HttpCallResponseHeaders, ":status")
            .ok()
            .flatten();
        let now = now_ns(host).unwrap_or(0);
        let mut events = Vec::new();
        let reply = if status.as_deref() == Some("200") {
            let sealed = host
                .buffer(BufferKind::HttpCallResponseBody, 0, body_size)
                .ok()
                .flatten()
                .unwrap_or_default();
            let active = Rc::clone(&self.active);
            active.with_store(host, |s| {
                decide::from_tier(
                    &active.compiled,
                    s,
                    &fetch,
                    &sealed,
                    &self.request,
                    now,
                    &mut events,
                )
            })
        } else {
            if status.as_deref() != Some("404") {
                events.push(Event::TierErrors);
            }
            None
        };
        self.count(host, &events);
        if let Some(reply) = reply
            && self.send(host, &reply)
        {
            self.state = State::Served;
            return;
        }
        self.state = State::Fetching {
            fetch,
            status: 0,
            headers: Vec::new(),
            body: None,
        };
        if let Err(e) = host.continue_stream(StreamKind::Request) {
            host.log(
                LogLevel::Error,
                &format!("{FILTER}: cannot resume a request: {e}"),
            );
        }
    }
}

impl ResponseCacheStream {
    /// Takes the fill lock for `fetch`'s key (this request then fills it), or, when
    /// another request is filling it, the time until which to wait for that.
    fn claim(&mut self, host: &dyn Host, fetch: &Fetch, now: u64) -> Option<u64> {
        let wait_ms = self.active.compiled.coalesce_ms?;
        if fetch.revalidating.is_some() || fetch.no_store || fetch.head {
            return None;
        }
        let active = Rc::clone(&self.active);
        let locks = active.locks(host)?;
        match coalesce::claim(&locks, &fetch.key, now, wait_ms.saturating_mul(1_000_000)) {
            Ok(Claim::Leader) => {
                self.lock = Some(fetch.key);
                None
            }
            Ok(Claim::Wait { until_ns }) => Some(until_ns),
            Ok(Claim::Alone) => None,
            Err(e) => {
                self.error(host, &format!("the fill locks failed ({})", e.0));
                None
            }
        }
    }

    /// Lets requests waiting for this one's fill go on (stored or not).
    fn release(&mut self, host: &dyn Host) {
        let Some(key) = self.lock.take() else {
            return;
        };
        let active = Rc::clone(&self.active);
        if let Some(locks) = active.locks(host) {
            let _ = coalesce::release(&locks, &key);
        }
    }

    /// Asks the shared tier for `fetch`'s entry, if there is a tier this proxy has
    /// caught up with; the request waits for the answer.
    fn ask_tier(&mut self, host: &dyn Host, fetch: &Fetch) -> Option<u32> {
        let active = Rc::clone(&self.active);
        let t = active.compiled.tier.as_ref()?;
        if fetch.revalidating.is_some() {
            return None;
        }
        let state = active.tier_state(host)?;
        if tier::cursor(&state).ok()?.is_empty() {
            return None;
        }
        let path = format!("{}{}", tier::ENTRIES, tier::tier_key(t, &fetch.key));
        match call_tier(host, t, "GET", &path, None, "") {
            Ok(token) => Some(token),
            Err(_) => {
                self.count(host, &[Event::TierErrors]);
                None
            }
        }
    }

    /// Hands `job` to the root for the tier.
    fn publish(&self, host: &dyn Host, job: Job) {
        if !self.outbox.borrow_mut().push(job) {
            self.count(host, &[Event::TierErrors]);
        }
    }
}

impl StreamFilter for ResponseCacheStream {
    fn on_request_headers(
        &mut self,
        host: &dyn Host,
        _num_headers: usize,
        end_of_stream: bool,
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
            body: end_of_stream.then_some(&[][..]),
        };
        if let Some(outcome) = decide::purge(c, &req) {
            return self.purge(host, outcome, now);
        }
        if !end_of_stream && decide::needs_body(c, &self.request) {
            // A POST read: decided once its body is here (held until then).
            tollgate_kit::gate::want_request_body(host);
            self.state = State::Reading { credentials };
            return HeadersAction::StopIteration;
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
                if let Some(token) = self.ask_tier(host, &fetch) {
                    self.state = State::Asking {
                        fetch: Box::new(fetch),
                        token,
                    };
                    return HeadersAction::StopIteration;
                }
                if let Some(until_ns) = self.claim(host, &fetch, now) {
                    let wait = Rc::new(RefCell::new(Wait {
                        context_id: self.context_id,
                        key: fetch.key,
                        deadline_ns: until_ns,
                        request: self.request.clone(),
                        credentials: credentials.clone(),
                        outcome: None,
                    }));
                    self.waiters.borrow_mut().hold(&wait);
                    if host.set_tick_period(WAIT_TICK).is_ok() {
                        self.state = State::Waiting(wait);
                        return HeadersAction::StopIteration;
                    }
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
        // A request the root let go upstream after waiting: what it decided.
        if let State::Waiting(wait) = &self.state {
            let outcome = wait.borrow_mut().outcome.take();
            self.state = match outcome {
                Some(fetch) => State::Fetching {
                    fetch: Box::new(fetch),
                    status: 0,
                    headers: Vec::new(),
                    body: None,
                },
                None => State::Idle,
            };
        }
        // A bypassed request only gets its label: no header read, no clock.
        if matches!(self.state, State::Bypass) {
            let _ = host.replace_header(MapKind::ResponseHeaders, "x-cache", "BYPASS");
            return HeadersAction::Continue;
        }
        if !matches!(self.state, State::Writing { .. } | State::Fetching { .. }) {
            return HeadersAction::Continue;
        }
        let headers = host
            .header_pairs(MapKind::ResponseHeaders)
            .unwrap_or_default();
        let status: u16 = first(&headers, ":status").parse().unwrap_or(0);
        let now = now_ns(host).unwrap_or(0);
        let active = Rc::clone(&self.active);
        let c = &active.compiled;
        match std::mem::replace(&mut self.state, State::Idle) {
            State::Writing { authority, path } => {
                let mut events = Vec::new();
                let method = first(&self.request, ":method");
                let scopes = active.with_store(host, |s| {
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
                if c.tier.is_some() && !scopes.is_empty() {
                    self.publish(
                        host,
                        Job::Invalidate(tier::Published { scopes, at_ns: now }),
                    );
                }
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
                if !storing || bodiless {
                    // Nothing more to wait for: requests held for this fill decide again.
                    self.release(host);
                }
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

    fn on_request_body(
        &mut self,
        host: &dyn Host,
        body_size: usize,
        end_of_stream: bool,
    ) -> BodyAction {
        // Only a POST read waits for its body; every other state passes it untouched.
        if !matches!(self.state, State::Reading { .. }) {
            return BodyAction::Continue;
        }
        let State::Reading { credentials } = std::mem::replace(&mut self.state, State::Idle) else {
            return BodyAction::Continue;
        };
        let active = Rc::clone(&self.active);
        let c = &active.compiled;
        if body_size as u64 > c.body_bytes {
            // Too large to key by: it passes, uncached.
            self.count(host, &[Event::Bypass]);
            self.state = State::Bypass;
            return BodyAction::Continue;
        }
        if !end_of_stream {
            self.state = State::Reading { credentials };
            return BodyAction::StopAndBuffer;
        }
        let body = host
            .buffer(BufferKind::HttpRequestBody, 0, body_size)
            .ok()
            .flatten()
            .unwrap_or_default();
        let Some(now) = now_ns(host) else {
            self.state = State::Bypass;
            return BodyAction::Continue;
        };
        let req = Request {
            headers: &self.request,
            credentials: credentials.as_deref(),
            now_ns: now,
            body: Some(&body),
        };
        let mut events = Vec::new();
        let plan = active.with_store(host, |s| decide::request(c, s, &req, &mut events));
        self.count(host, &events);
        self.state = match plan {
            Ok(Plan::Serve(reply)) if self.send(host, &reply) => {
                self.state = State::Served;
                return BodyAction::StopNoBuffer;
            }
            Ok(Plan::Fetch(fetch)) => State::Fetching {
                fetch: Box::new(fetch),
                status: 0,
                headers: Vec::new(),
                body: None,
            },
            Ok(Plan::Write { authority, path }) => State::Writing { authority, path },
            Err(why) => {
                self.error(host, &format!("the store failed ({why})"));
                State::Bypass
            }
            _ => State::Bypass,
        };
        BodyAction::Continue
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
            self.release(host);
        }
        BodyAction::Continue
    }

    fn on_delete(&mut self, host: &dyn Host) {
        // A stream that ends without its response (a reset, the client gone) must not
        // keep others waiting for a fill that will not come.
        self.release(host);
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
        let stored = active.with_store(host, |s| {
            decide::store_response(
                &active.compiled,
                s,
                &fetch,
                &origin,
                &self.request,
                &mut events,
            )
        });
        self.count(host, &events);
        if let (Some(entry), Some(t)) = (stored, &active.compiled.tier) {
            let job = Job::Put {
                name: tier::tier_key(t, &entry.key),
                sealed: tier::seal(t, &entry.encode()),
                ttl: tier::ttl_seconds(t, entry.freshness.useless_after(), now / 1_000_000_000),
            };
            self.publish(host, job);
        }
    }
}

#[cfg(test)]
#[path = "filter_tests.rs"]
mod tests;
