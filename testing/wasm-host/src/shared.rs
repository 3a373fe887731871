//! State shared by every VM of a plugin, as Envoy shares it between worker threads:
//! shared data (per vm_id, with CAS), shared queues, and metrics.

use std::collections::{BTreeMap, HashMap, VecDeque};

use tollgate_kit::{MetricKind, Status};

#[derive(Debug, Default)]
pub struct SharedState {
    data: HashMap<String, HashMap<String, (Vec<u8>, u32)>>,
    next_cas: u32,
    queues: BTreeMap<u32, Queue>,
    queue_names: HashMap<(String, String), u32>,
    next_queue: u32,
    pub metrics: Metrics,
}

#[derive(Debug)]
struct Queue {
    /// The worker whose root context registered the queue: it gets `on_queue_ready`.
    owner_worker: usize,
    owner_context: u32,
    items: VecDeque<Vec<u8>>,
}

impl SharedState {
    fn cas(&mut self) -> u32 {
        self.next_cas = self.next_cas.wrapping_add(1);
        if self.next_cas == 0 {
            self.next_cas = 1;
        }
        self.next_cas
    }

    pub fn get(&self, vm_id: &str, key: &str) -> Result<(Vec<u8>, u32), Status> {
        self.data
            .get(vm_id)
            .and_then(|m| m.get(key))
            .cloned()
            .ok_or(Status::NotFound)
    }

    /// Every key of `vm_id` starting with `prefix`, with its value, sorted by key.
    pub fn entries(&self, vm_id: &str, prefix: &str) -> Vec<(String, Vec<u8>)> {
        let mut out: Vec<(String, Vec<u8>)> = self
            .data
            .get(vm_id)
            .into_iter()
            .flatten()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, (v, _))| (k.clone(), v.clone()))
            .collect();
        out.sort();
        out
    }

    /// `cas == 0` writes unconditionally; otherwise it must match the current token.
    pub fn set(&mut self, vm_id: &str, key: &str, value: Vec<u8>, cas: u32) -> Result<(), Status> {
        let current = self
            .data
            .get(vm_id)
            .and_then(|m| m.get(key))
            .map(|(_, c)| *c);
        if cas != 0 && current.is_some_and(|c| c != cas) {
            return Err(Status::CasMismatch);
        }
        let next = self.cas();
        self.data
            .entry(vm_id.to_string())
            .or_default()
            .insert(key.to_string(), (value, next));
        Ok(())
    }

    pub fn register_queue(&mut self, vm_id: &str, name: &str, worker: usize, context: u32) -> u32 {
        let key = (vm_id.to_string(), name.to_string());
        if let Some(id) = self.queue_names.get(&key).copied() {
            if let Some(q) = self.queues.get_mut(&id) {
                q.owner_worker = worker;
                q.owner_context = context;
            }
            return id;
        }
        self.next_queue = self.next_queue.saturating_add(1);
        let id = self.next_queue;
        self.queue_names.insert(key, id);
        self.queues.insert(
            id,
            Queue {
                owner_worker: worker,
                owner_context: context,
                items: VecDeque::new(),
            },
        );
        id
    }

    pub fn resolve_queue(&self, vm_id: &str, name: &str) -> Option<u32> {
        self.queue_names
            .get(&(vm_id.to_string(), name.to_string()))
            .copied()
    }

    /// Returns who to notify: (worker, root context).
    pub fn enqueue(&mut self, id: u32, value: Vec<u8>) -> Result<(usize, u32), Status> {
        let q = self.queues.get_mut(&id).ok_or(Status::NotFound)?;
        q.items.push_back(value);
        Ok((q.owner_worker, q.owner_context))
    }

    pub fn dequeue(&mut self, id: u32) -> Result<Vec<u8>, Status> {
        let q = self.queues.get_mut(&id).ok_or(Status::NotFound)?;
        q.items.pop_front().ok_or(Status::Empty)
    }
}

/// Envoy encodes a metric's kind in the low two bits of its id.
const KIND_MASK: u32 = 0x3;
const ID_STEP: u32 = 0x4;

/// Metric values live in one store (Envoy's stats are process-wide); ids are per VM.
#[derive(Debug, Default)]
pub struct Metrics {
    values: BTreeMap<String, (MetricKind, i128, Vec<u64>)>,
}

/// One VM's metric ids.
#[derive(Debug, Default)]
pub struct MetricIds {
    by_id: HashMap<u32, String>,
    next: [u32; 3],
}

impl MetricIds {
    /// Like Envoy, every definition gets a fresh id; ids of one name share one value.
    pub fn define(&mut self, metrics: &mut Metrics, kind: MetricKind, name: &str) -> u32 {
        let slot = usize::try_from(kind.code()).unwrap_or(0).min(2);
        let seq = self.next.get(slot).copied().unwrap_or(0);
        if let Some(n) = self.next.get_mut(slot) {
            *n = seq.saturating_add(1);
        }
        let id = seq.saturating_mul(ID_STEP) | kind.code();
        self.by_id.insert(id, name.to_string());
        metrics
            .values
            .entry(name.to_string())
            .or_insert((kind, 0, Vec::new()));
        id
    }

    fn kind(id: u32) -> MetricKind {
        MetricKind::from_code(id & KIND_MASK).unwrap_or(MetricKind::Histogram)
    }

    pub fn increment(&self, metrics: &mut Metrics, id: u32, delta: i64) -> Result<(), Status> {
        match Self::kind(id) {
            MetricKind::Histogram => Err(Status::BadArgument),
            MetricKind::Counter if delta < 0 => Err(Status::BadArgument),
            _ => {
                let name = self.by_id.get(&id).ok_or(Status::NotFound)?;
                let entry = metrics.values.get_mut(name).ok_or(Status::NotFound)?;
                entry.1 = entry.1.saturating_add(i128::from(delta)).max(0);
                Ok(())
            }
        }
    }

    pub fn record(&self, metrics: &mut Metrics, id: u32, value: u64) -> Result<(), Status> {
        let name = self.by_id.get(&id).ok_or(Status::NotFound)?;
        let entry = metrics.values.get_mut(name).ok_or(Status::NotFound)?;
        match Self::kind(id) {
            MetricKind::Counter => entry.1 = entry.1.saturating_add(i128::from(value)),
            MetricKind::Gauge => entry.1 = i128::from(value),
            MetricKind::Histogram => entry.2.push(value),
        }
        Ok(())
    }

    pub fn get(&self, metrics: &Metrics, id: u32) -> Result<u64, Status> {
        if Self::kind(id) == MetricKind::Histogram {
            return Err(Status::BadArgument);
        }
        let name = self.by_id.get(&id).ok_or(Status::NotFound)?;
        let entry = metrics.values.get(name).ok_or(Status::NotFound)?;
        Ok(u64::try_from(entry.1).unwrap_or(u64::MAX))
    }
}

impl Metrics {
    /// A counter's or gauge's value by name, for assertions.
    pub fn value(&self, name: &str) -> Option<u64> {
        self.values
            .get(name)
            .map(|(_, v, _)| u64::try_from(*v).unwrap_or(u64::MAX))
    }

    /// A histogram's recorded values by name, for assertions.
    pub fn samples(&self, name: &str) -> Vec<u64> {
        self.values
            .get(name)
            .map(|(_, _, s)| s.clone())
            .unwrap_or_default()
    }
}
