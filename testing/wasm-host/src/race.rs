//! Worker VMs running at the same time, on real threads, as Envoy runs its workers:
//! what compare-and-swap on shared data exists for.
//!
//! Real threads race at random, so a test would see a lost update only sometimes. Here
//! the threads take turns under a seeded scheduler instead: at every shared-data
//! hostcall the running worker hands the turn to a random worker (perhaps itself) and
//! waits for its own turn again. Reads and writes of different workers interleave in
//! every possible order, the same orders on every run of one seed, and a filter that
//! reads, decides and writes without a CAS token loses updates every time.

use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use tollgate_kit::{BufferKind, MapKind};

use crate::exchange::{Request, UpstreamReply};
use crate::plugin::Plugin;
use crate::properties::StreamInfo;
use crate::vm::{ContextData, Effect, Vm, lock};

/// No turn is waited for longer than this (real time): a test never hangs.
const PATIENCE: Duration = Duration::from_secs(60);

/// Whose turn it is.
pub struct Baton {
    turns: Mutex<Turns>,
    changed: Condvar,
}

struct Turns {
    current: Option<usize>,
    active: Vec<bool>,
    rng: u64,
    /// Set when a worker gave up waiting: everyone stops waiting.
    broken: bool,
}

impl Turns {
    fn pick(&mut self) {
        // xorshift64*: small, seeded, deterministic.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let r = self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d);
        let live: Vec<usize> = (0..self.active.len())
            .filter(|w| self.active.get(*w).copied().unwrap_or(false))
            .collect();
        self.current = match live.len() {
            0 => None,
            n => live.get((r % n as u64) as usize).copied(),
        };
    }
}

impl Baton {
    fn new(workers: usize, seed: u64) -> Self {
        let mut turns = Turns {
            current: None,
            active: vec![true; workers],
            rng: seed | 1,
            broken: false,
        };
        turns.pick();
        Self {
            turns: Mutex::new(turns),
            changed: Condvar::new(),
        }
    }

    fn wait_turn(&self, me: usize) {
        let deadline = Instant::now() + PATIENCE;
        let mut t = lock(&self.turns);
        while t.current != Some(me) && !t.broken {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                t.broken = true;
                self.changed.notify_all();
                return;
            }
            t = self
                .changed
                .wait_timeout(t, left)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }

    /// Worker `me` is about to touch shared data: a random worker runs next.
    pub fn yield_turn(&self, me: usize) {
        {
            let mut t = lock(&self.turns);
            t.pick();
            self.changed.notify_all();
        }
        self.wait_turn(me);
    }

    fn done(&self, me: usize) {
        let mut t = lock(&self.turns);
        if let Some(a) = t.active.get_mut(me) {
            *a = false;
        }
        t.pick();
        self.changed.notify_all();
    }
}

/// Marks a worker finished however its thread ends.
struct Finished<'a>(&'a Baton, usize);

impl Drop for Finished<'_> {
    fn drop(&mut self) {
        self.0.done(self.1);
    }
}

/// What a hammered request's origin answers, when the response phase runs too.
pub type Origin<'a> = &'a (dyn Fn(&Request) -> UpstreamReply + Sync);

/// One request through the request-headers callback, as a rate limiter sees it (and,
/// with `origin`, through the response headers and body too, in one chunk): the
/// status of the filter's local reply, or of the origin's, or 200.
fn headers_only(
    vm: &mut Vm,
    request: &Request,
    source: SocketAddr,
    start: std::time::SystemTime,
    origin: Option<Origin<'_>>,
) -> Result<u16> {
    let mut headers = vec![
        (":authority".to_string(), request.authority.clone()),
        (":path".to_string(), request.path.clone()),
        (":method".to_string(), request.method.clone()),
        (":scheme".to_string(), "http".to_string()),
    ];
    headers.extend(request.headers.iter().cloned());
    let ctx = vm.new_context_id();
    let mut data = ContextData {
        info: Some(StreamInfo {
            request_headers: headers.clone(),
            request_id: String::new(),
            start,
            source,
            destination: SocketAddr::from(([127, 0, 0, 1], 10_000)),
            connection_id: u64::from(ctx),
            request_size: 0,
            response_code: None,
        }),
        ..ContextData::default()
    };
    let count = u32::try_from(headers.len()).unwrap_or(u32::MAX);
    data.maps.insert(MapKind::RequestHeaders, headers);
    let root = vm.store.data().root_context;
    vm.store.data_mut().contexts.insert(ctx, data);
    vm.enter(ctx);
    let create = vm.exports.on_context_create.clone();
    create
        .call(&mut vm.store, (ctx, root))
        .map_err(anyhow::Error::from)?;
    if let Some(f) = vm.exports.on_request_headers.clone() {
        f.call(&mut vm.store, (ctx, count, 1))
            .map_err(anyhow::Error::from)?;
    }
    let effects = vm
        .store
        .data_mut()
        .contexts
        .get_mut(&ctx)
        .map(|d| std::mem::take(&mut d.effects))
        .unwrap_or_default();
    let local = effects.iter().find_map(|e| match e {
        Effect::LocalReply { status, .. } => Some(*status),
        _ => None,
    });
    let status = match (local, origin) {
        (Some(status), _) => status,
        (None, None) => 200,
        (None, Some(origin)) => respond(vm, ctx, &origin(request))?,
    };
    for f in [vm.exports.on_log.clone()].into_iter().flatten() {
        f.call(&mut vm.store, ctx).map_err(anyhow::Error::from)?;
    }
    if let Some(f) = vm.exports.on_done.clone() {
        f.call(&mut vm.store, ctx).map_err(anyhow::Error::from)?;
    }
    if let Some(f) = vm.exports.on_delete.clone() {
        f.call(&mut vm.store, ctx).map_err(anyhow::Error::from)?;
    }
    vm.store.data_mut().contexts.remove(&ctx);
    vm.enter(root);
    Ok(status)
}

/// Runs the response phase of `ctx` with `reply` (its body in one chunk).
fn respond(vm: &mut Vm, ctx: u32, reply: &UpstreamReply) -> Result<u16> {
    let mut headers = vec![(":status".to_string(), reply.status.to_string())];
    headers.extend(reply.headers.iter().cloned());
    let body = reply.body_chunks.concat();
    let count = u32::try_from(headers.len()).unwrap_or(u32::MAX);
    let size = u32::try_from(body.len()).unwrap_or(u32::MAX);
    if let Some(d) = vm.store.data_mut().contexts.get_mut(&ctx) {
        d.maps.insert(MapKind::ResponseHeaders, headers);
        d.buffers.insert(BufferKind::HttpResponseBody, body.clone());
    }
    if let Some(f) = vm.exports.on_response_headers.clone() {
        f.call(&mut vm.store, (ctx, count, u32::from(body.is_empty())))
            .map_err(anyhow::Error::from)?;
    }
    if !body.is_empty()
        && let Some(f) = vm.exports.on_response_body.clone()
    {
        f.call(&mut vm.store, (ctx, size, 1))
            .map_err(anyhow::Error::from)?;
    }
    Ok(reply.status)
}

impl Plugin {
    /// Every worker VM sends `per_worker` requests (`make(worker, i)`) at the same
    /// virtual instant, all workers at once on their own threads, interleaved at every
    /// shared-data hostcall by the scheduler seeded with `seed`. Only request headers
    /// run (no upstream, no callouts). Returns each worker's statuses: a local reply's,
    /// or 200 for a request let through.
    pub fn hammer(
        &mut self,
        per_worker: usize,
        seed: u64,
        make: impl Fn(usize, usize) -> Request + Sync,
    ) -> Result<Vec<Vec<u16>>> {
        self.hammer_with(per_worker, seed, make, None)
    }

    /// [`Self::hammer`], with requests the filter lets on answered by `origin` through
    /// the response headers and body callbacks (a cache filling its store races too).
    pub fn hammer_exchanges(
        &mut self,
        per_worker: usize,
        seed: u64,
        make: impl Fn(usize, usize) -> Request + Sync,
        origin: Origin<'_>,
    ) -> Result<Vec<Vec<u16>>> {
        self.hammer_with(per_worker, seed, make, Some(origin))
    }

    fn hammer_with(
        &mut self,
        per_worker: usize,
        seed: u64,
        make: impl Fn(usize, usize) -> Request + Sync,
        origin: Option<Origin<'_>>,
    ) -> Result<Vec<Vec<u16>>> {
        let workers = self.workers.len();
        let baton = Arc::new(Baton::new(workers, seed));
        *lock(&self.shared.race) = Some(Arc::clone(&baton));
        let start = self.shared.clock.now();
        let results: Vec<Result<Vec<u16>>> = std::thread::scope(|scope| {
            let handles: Vec<_> = self
                .workers
                .iter_mut()
                .enumerate()
                .map(|(w, worker)| {
                    let baton = Arc::clone(&baton);
                    let make = &make;
                    scope.spawn(move || -> Result<Vec<u16>> {
                        let _finished = Finished(&baton, w);
                        baton.wait_turn(w);
                        let vm = worker
                            .vm
                            .as_mut()
                            .ok_or_else(|| anyhow!("worker {w} has no VM"))?;
                        let source = SocketAddr::from(([127, 0, 0, 1], 40_000 + w as u16));
                        (0..per_worker)
                            .map(|i| headers_only(vm, &make(w, i), source, start, origin))
                            .collect()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(anyhow!("a worker thread panicked")))
                })
                .collect()
        });
        *lock(&self.shared.race) = None;
        if lock(&baton.turns).broken {
            bail!("the workers stopped taking turns (a worker waited over {PATIENCE:?})");
        }
        results.into_iter().collect()
    }

    /// Fault injection: the host ignores compare-and-swap tokens, so every
    /// `proxy_set_shared_data` writes unconditionally (a filter without CAS behaves
    /// exactly so). Shows what CAS protects.
    pub fn ignore_cas(&mut self, ignore: bool) {
        self.shared
            .ignore_cas
            .store(ignore, std::sync::atomic::Ordering::SeqCst);
    }
}
