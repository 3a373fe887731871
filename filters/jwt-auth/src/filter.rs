//! The proxy-wasm glue: reads the request headers once, asks [`crate::decide`], and
//! applies the decision. The root context owns the JWKS fetcher, the verified-token
//! cache and the metrics; streams share them through `Rc<RefCell<_>>` (a VM is single
//! threaded).
//!
//! A request that needs keys not fetched yet (first use, or an unknown `kid` allowed a
//! refetch) waits: its headers are held, and it is decided again when the fetch answers
//! (here or, through shared data, in another worker, noticed on the tick) or when its
//! wait runs out.

use std::cell::RefCell;
use std::rc::{Rc, Weak};
use std::time::{Duration, UNIX_EPOCH};

use tollgate_kit::host::Pairs;
use tollgate_kit::reply::{self, Refusal};
use tollgate_kit::slot::ConfigSlot;
use tollgate_kit::{
    BodyAction, Callouts, HeadersAction, Host, HostFacts, LogLevel, MapKind, RequestView,
    RootFilter, StreamFilter, StreamKind, TrailersAction, Verdict, mutation, removal,
};

use crate::config::Compiled;
use crate::decide::{Decision, Rejection, reject};
use crate::denial::{Code, Denial};
use crate::jwks_fetch::{FetchResult, Fetcher, Wait};
use crate::metrics::Metrics;
use crate::token_cache::TokenCache;
use crate::waiting::{Occasion, Waiter, Waiters};

pub use tollgate_kit::contract::CREDENTIALS_PROPERTY;

/// The filter's name in logs and response details.
const FILTER: &str = "jwt-auth";

/// How often the root checks for due refreshes, keys published by other workers, and
/// requests whose wait ran out.
const TICK: Duration = Duration::from_millis(500);

/// The tick while requests wait for keys: a worker that lost the fetch race sees the
/// keys another worker publishes within this, not a whole [`TICK`] later.
const WAITING_TICK: Duration = Duration::from_millis(50);

fn now_ms(host: &dyn Host) -> Option<u64> {
    let now = host.now().ok()?;
    let since = now.duration_since(UNIX_EPOCH).ok()?;
    u64::try_from(since.as_millis()).ok()
}

/// Everything a VM's streams share.
pub struct Shared {
    config: Rc<Compiled>,
    facts: HostFacts,
    fetcher: Fetcher,
    cache: TokenCache,
    metrics: Metrics,
    waiters: Waiters<Weak<RefCell<StreamCore>>>,
    credentials_warned: bool,
    /// The host runs our tick (Envoy, Kong); without it (APISIX) refreshes start on the
    /// request path.
    ticks: bool,
    /// The tick runs at [`WAITING_TICK`] because requests wait.
    fast_tick: bool,
}

impl Shared {
    fn new(config: Compiled, facts: HostFacts) -> Self {
        let fetcher = Fetcher::new(&config);
        let cache = TokenCache::new(config.cache_entries);
        let metrics = Metrics::new(config.providers.iter().map(|p| p.name.clone()).collect());
        Self {
            config: Rc::new(config),
            facts,
            fetcher,
            cache,
            metrics,
            waiters: Waiters::default(),
            credentials_warned: false,
            ticks: false,
            fast_tick: false,
        }
    }

    /// Holds a stream until `provider`'s fetch ends (or its wait runs out).
    fn wait_for(
        &mut self,
        host: &dyn Host,
        core_ref: &Rc<RefCell<StreamCore>>,
        provider: usize,
        now: u64,
        own_fetch: bool,
    ) {
        self.waiters.hold(Waiter {
            context_id: core_ref.borrow().context_id,
            own_fetch,
            provider,
            fetched_at: self.fetcher.fetched_at(provider),
            deadline: now.saturating_add(self.fetcher.max_wait_ms(provider)),
            stream: Rc::downgrade(core_ref),
        });
        // Only where the tick may wake other streams; Kong also traps when a stream
        // sets the tick period (only the root may).
        if self.ticks && !self.fast_tick && self.facts.switches_context() {
            self.fast_tick = host.set_tick_period(WAITING_TICK).is_ok();
        }
    }

    /// Back to the slow tick once nobody waits.
    fn relax_tick(&mut self, host: &dyn Host) {
        if self.fast_tick && self.waiters.is_empty() {
            self.fast_tick = host.set_tick_period(TICK).is_err();
        }
    }

    fn record(&mut self, host: &dyn Host, results: &[(usize, FetchResult)]) {
        for &(provider, result) in results {
            self.metrics.fetch(host, provider, result);
        }
        // Verifications against keys that changed no longer count; a refresh that
        // returned the same keys keeps them.
        for provider in self.fetcher.take_changed() {
            self.cache.forget_provider(provider);
        }
    }
}

type SharedRef = Rc<RefCell<Shared>>;

#[derive(Default)]
pub struct JwtAuthRoot {
    /// The config with its fetcher, cache and metrics: replaced whole on reconfigure;
    /// each stream keeps the one it started with.
    shared: ConfigSlot<RefCell<Shared>>,
}

impl JwtAuthRoot {
    /// The compiled config in use (for tests and the control service).
    pub fn config(&self) -> Option<Rc<Compiled>> {
        self.shared.current().map(|s| Rc::clone(&s.borrow().config))
    }
}

impl Callouts for JwtAuthRoot {
    fn on_http_call_response(
        &mut self,
        host: &dyn Host,
        token: u32,
        _num_headers: usize,
        body_size: usize,
        _num_trailers: usize,
    ) {
        if let Some(shared) = self.shared.current() {
            fetch_answered(host, &shared, token, body_size, None);
        }
    }
}

impl RootFilter for JwtAuthRoot {
    fn on_configure(&mut self, host: &dyn Host, bytes: &[u8]) -> Result<(), String> {
        // Before anything else: the probe must not follow a tick or callout of ours.
        let facts = HostFacts::detect(host);
        let compiled = crate::config::load(bytes, facts).map_err(|e| e.to_string())?;
        for warning in &compiled.warnings {
            host.log(LogLevel::Warn, &format!("jwt-auth: {warning}"));
        }
        let mut shared = Shared::new(compiled, facts);
        if shared.fetcher.has_remote() {
            // Hosts without timers (APISIX) refresh on the request path instead.
            shared.ticks = host.set_tick_period(TICK).is_ok();
        }
        self.shared.replace(RefCell::new(shared));
        Ok(())
    }

    fn new_stream(&mut self, _host: &dyn Host, context_id: u32) -> Option<Box<dyn StreamFilter>> {
        let shared = self.shared.current()?;
        Some(Box::new(JwtAuthStream {
            core: Rc::new(RefCell::new(StreamCore {
                context_id,
                headers: Vec::new(),
                verdict: Verdict::Pending,
            })),
            shared,
        }))
    }

    fn on_tick(&mut self, host: &dyn Host) {
        let Some(shared) = self.shared.current() else {
            return;
        };
        let shared = &shared;
        let Some(now) = now_ms(host) else {
            return;
        };
        {
            let mut sh = shared.borrow_mut();
            let sh = &mut *sh;
            let mut results = Vec::new();
            let providers: Vec<usize> = sh.fetcher.providers().collect();
            for p in providers {
                sh.fetcher.poll(host, p, now, &mut results);
            }
            sh.record(host, &results);
        }
        resume(host, shared, now, None, None);
        shared.borrow_mut().relax_tick(host);
    }
}

/// A JWKS callout answered (on the root or on the stream that made it).
fn fetch_answered(
    host: &dyn Host,
    shared: &SharedRef,
    token: u32,
    body_size: usize,
    current: Option<u32>,
) {
    let Some(now) = now_ms(host) else {
        return;
    };
    let provider = {
        let mut sh = shared.borrow_mut();
        let sh = &mut *sh;
        let mut results = Vec::new();
        let provider = sh
            .fetcher
            .on_response(host, token, body_size, now, &mut results);
        sh.record(host, &results);
        provider
    };
    // A stream's own callout always lets it be decided again, even one the fetcher
    // no longer knows: nothing else would wake it on a host without context switching.
    if provider.is_some() || current.is_some() {
        resume(host, shared, now, provider, current);
    }
}

/// Decides again the waiting requests whose keys arrived (or, with `finished`, every
/// request waiting on that provider's fetch) and those whose wait ran out.
fn resume(
    host: &dyn Host,
    shared: &SharedRef,
    now: u64,
    finished: Option<usize>,
    current: Option<u32>,
) {
    let ready = {
        let mut sh = shared.borrow_mut();
        let sh = &mut *sh;
        let at = Occasion {
            now,
            finished,
            current,
            switches: sh.facts.switches_context(),
        };
        let fetcher = &sh.fetcher;
        sh.waiters
            .take_ready(&at, |p| fetcher.fetched_at(p), |s| s.strong_count() > 0)
    };
    if ready.is_empty() {
        return;
    }
    let mut switched = false;
    for waiter in ready {
        let Some(core) = waiter.stream.upgrade() else {
            continue;
        };
        if Some(waiter.context_id) != current {
            if host.set_effective_context(waiter.context_id).is_err() {
                continue;
            }
            switched = true;
        }
        if evaluate(host, shared, &core, false) == HeadersAction::Continue {
            let _ = host.continue_stream(StreamKind::Request);
        }
    }
    // Back to the stream whose callback this is, if another one was entered.
    if let Some(id) = current.filter(|_| switched) {
        let _ = host.set_effective_context(id);
    }
}

struct StreamCore {
    context_id: u32,
    headers: Pairs,
    /// Pending while deciding or waiting for keys (headers held).
    verdict: Verdict,
}

pub struct JwtAuthStream {
    core: Rc<RefCell<StreamCore>>,
    shared: SharedRef,
}

/// The denial's log line: code, status, provider and rule, so a log at debug level
/// explains a refusal. Never the token, a claim value or the path (which may hold a
/// token in its query).
pub fn denial_log_line(config: &Compiled, r: &Rejection) -> String {
    let provider = r
        .provider
        .and_then(|p| config.providers.get(p))
        .map_or_else(String::new, |p| format!(", provider {}", p.name));
    let rule = r.rule.map_or_else(String::new, |i| format!(", rules[{i}]"));
    format!(
        "jwt-auth: denied {} {}{provider}{rule}",
        r.status,
        r.denial.code.as_str()
    )
}

/// Answers a refused request (the kit's JSON error reply).
fn deny(host: &dyn Host, rejection: &Rejection) {
    reply::refuse(
        host,
        FILTER,
        &Refusal {
            status: rejection.status,
            code: rejection.denial.code.as_str(),
            body: &rejection.body,
            www_authenticate: &rejection.www_authenticate,
        },
    );
}

/// Decides the request held by `core`; `may_wait` lets it wait for keys once.
fn evaluate(
    host: &dyn Host,
    shared: &SharedRef,
    core_ref: &Rc<RefCell<StreamCore>>,
    may_wait: bool,
) -> HeadersAction {
    let Some(now) = now_ms(host) else {
        core_ref.borrow_mut().verdict = Verdict::Denied;
        reply::internal_error(host, FILTER, "the host gave no time");
        return HeadersAction::StopIteration;
    };
    if may_wait && refresh_on_request_path(host, shared, core_ref, now) {
        core_ref.borrow_mut().verdict = Verdict::Pending;
        return HeadersAction::StopIteration;
    }
    let decision = {
        let mut sh = shared.borrow_mut();
        let sh = &mut *sh;
        let core = core_ref.borrow();
        let view = RequestView::of(&core.headers);
        #[allow(clippy::cast_precision_loss)] // ms since 1970 fit f64 exactly
        let now_s = now as f64 / 1000.0;
        // Disjoint fields: the config and keys are read while the cache is updated.
        sh.config
            .decide_cached(&view, now_s, &sh.fetcher.at(now), Some(&mut sh.cache))
    };
    match decision {
        Decision::Deny(r)
            if may_wait && matches!(r.denial.code, Code::NoKeys | Code::KidUnknown) =>
        {
            let wait = {
                let mut sh = shared.borrow_mut();
                let sh = &mut *sh;
                match r.provider.filter(|p| sh.fetcher.is_remote(*p)) {
                    Some(p) => {
                        let mut results = Vec::new();
                        let kid_miss = r.denial.code == Code::KidUnknown;
                        let calls = sh.fetcher.dispatches();
                        let mut wait = sh.fetcher.want(host, p, now, kid_miss, &mut results);
                        sh.record(host, &results);
                        let mut own = sh.fetcher.dispatches() != calls;
                        if wait == Wait::Pending && !own && !sh.facts.switches_context() {
                            // Nobody else may wake this stream: it fetches for itself.
                            own = sh.fetcher.fetch_for_stream(host, p, now);
                            if !own {
                                wait = Wait::No;
                            }
                        }
                        if wait == Wait::Pending {
                            sh.wait_for(host, core_ref, p, now, own);
                        }
                        wait
                    }
                    None => Wait::No,
                }
            };
            match wait {
                Wait::Retry => evaluate(host, shared, core_ref, false),
                Wait::Pending => {
                    core_ref.borrow_mut().verdict = Verdict::Pending;
                    HeadersAction::StopIteration
                }
                Wait::No => refuse(host, shared, core_ref, &r),
            }
        }
        Decision::Deny(r) => refuse(host, shared, core_ref, &r),
        Decision::Allow {
            mutations,
            verified,
            credentials,
        } => {
            let facts = shared.borrow().facts;
            let plans = mutation::plan(facts, &core_ref.borrow().headers, &mutations);
            // A header this host cannot keep from the upstream: refused before anything
            // is written.
            let plans = match plans {
                Ok(plans) => plans,
                Err(name) => {
                    let denial =
                        Denial::new(Code::HeaderNotRemovable, removal::refused_message(name));
                    return refuse(host, shared, core_ref, &reject(denial, None, None));
                }
            };
            let mut sh = shared.borrow_mut();
            let sh = &mut *sh;
            if mutation::apply(host, facts, &mutations, &plans).is_err() {
                core_ref.borrow_mut().verdict = Verdict::Denied;
                reply::internal_error(host, FILTER, "cannot rewrite the request headers");
                return HeadersAction::StopIteration;
            }
            if let Some(claims) = credentials
                && let Err(e) = host.set_property(
                    &facts.stream_property(CREDENTIALS_PROPERTY),
                    claims.as_bytes(),
                )
                && !std::mem::replace(&mut sh.credentials_warned, true)
            {
                let hint = if facts.kind == tollgate_kit::HostKind::Apisix {
                    "; on APISIX the server block must declare it: set $tollgate_credentials '';"
                } else {
                    ""
                };
                host.log(
                    LogLevel::Warn,
                    &format!(
                        "jwt-auth: cannot pass credentials to hcp-auth in the `{}` property ({}): {e}{hint}",
                        facts.stream_property(CREDENTIALS_PROPERTY).join("."),
                        facts.name()
                    ),
                );
            }
            for p in verified {
                sh.metrics.allowed(host, p);
            }
            core_ref.borrow_mut().verdict = Verdict::Passed;
            HeadersAction::Continue
        }
    }
}

/// Without a timer, the request that finds keys due for refresh starts the fetch and
/// waits for it (on APISIX a callout lives with the request that made it).
fn refresh_on_request_path(
    host: &dyn Host,
    shared: &SharedRef,
    core_ref: &Rc<RefCell<StreamCore>>,
    now: u64,
) -> bool {
    let mut sh = shared.borrow_mut();
    let sh = &mut *sh;
    if sh.ticks {
        return false;
    }
    let mut results = Vec::new();
    let fetching = sh.fetcher.refresh_on_request(host, now, &mut results);
    sh.record(host, &results);
    match fetching {
        Some(p) => {
            sh.wait_for(host, core_ref, p, now, true);
            true
        }
        None => false,
    }
}

fn refuse(
    host: &dyn Host,
    shared: &SharedRef,
    core_ref: &Rc<RefCell<StreamCore>>,
    r: &Rejection,
) -> HeadersAction {
    {
        let mut sh = shared.borrow_mut();
        sh.metrics.denied(host, r.provider, r.denial.code);
        host.log(LogLevel::Debug, &denial_log_line(&sh.config, r));
    }
    core_ref.borrow_mut().verdict = Verdict::Denied;
    deny(host, r);
    HeadersAction::StopIteration
}

impl Callouts for JwtAuthStream {
    fn on_http_call_response(
        &mut self,
        host: &dyn Host,
        token: u32,
        _num_headers: usize,
        body_size: usize,
        _num_trailers: usize,
    ) {
        let current = self.core.borrow().context_id;
        fetch_answered(host, &self.shared, token, body_size, Some(current));
    }
}

impl StreamFilter for JwtAuthStream {
    fn on_request_headers(&mut self, host: &dyn Host, _n: usize, _eos: bool) -> HeadersAction {
        match host.header_pairs(MapKind::RequestHeaders) {
            Ok(pairs) => self.core.borrow_mut().headers = pairs,
            Err(e) => {
                self.core.borrow_mut().verdict = Verdict::Denied;
                reply::internal_error(
                    host,
                    FILTER,
                    &format!("cannot read the request headers: {e}"),
                );
                return HeadersAction::StopIteration;
            }
        }
        evaluate(host, &self.shared, &self.core, true)
    }

    fn on_request_body(&mut self, _host: &dyn Host, _size: usize, _eos: bool) -> BodyAction {
        self.core.borrow().verdict.request_body()
    }

    fn on_request_trailers(&mut self, _host: &dyn Host, _n: usize) -> TrailersAction {
        self.core.borrow().verdict.request_trailers()
    }
}

#[cfg(test)]
#[path = "filter_tests.rs"]
mod tests;
