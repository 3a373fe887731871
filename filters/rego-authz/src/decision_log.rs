//! Decision logs in OPA's shape (`decision_id`, `labels`, `bundles`, `path`, `input`,
//! `result`, `requested_by`, `timestamp`, `metrics`, `erased`), masked before they are
//! queued, batched and POSTed as a JSON array. The queue is bounded; what does not fit
//! is dropped and counted, never blocking a request.

use std::collections::{BTreeMap, VecDeque};

use serde_json::{Value as Json, json};

/// Always erased: they carry credentials or raw tokens.
const ALWAYS_ERASED_HEADERS: &[&str] = &["authorization", "proxy-authorization", "cookie"];

/// Removes the value at a `/`-separated `pointer` (`/input/a/b`); whether it was there.
fn erase(event: &mut Json, pointer: &str) -> bool {
    let mut parts: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
    let Some(last) = parts.pop() else {
        return false;
    };
    let mut node = event;
    for p in parts {
        let next = match node {
            Json::Object(map) => map.get_mut(p),
            Json::Array(items) => p.parse::<usize>().ok().and_then(|i| items.get_mut(i)),
            _ => None,
        };
        let Some(next) = next else {
            return false;
        };
        node = next;
    }
    match node {
        Json::Object(map) => map.remove(last).is_some(),
        _ => false,
    }
}

/// What one event is made of.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    pub decision_id: String,
    /// The rule as OPA writes it: `envoy/authz/allow`.
    pub path: &'a str,
    pub input: Json,
    pub result: Option<Json>,
    /// The error, when the policy failed.
    pub error: Option<String>,
    pub revision: Option<&'a str>,
    pub requested_by: Option<&'a str>,
    pub timestamp: String,
    pub eval_ns: u64,
}

/// The queue of masked events.
#[derive(Debug)]
pub struct Queue {
    pub events: VecDeque<Json>,
    pub max_queue: usize,
    pub max_batch: usize,
    pub dropped: u64,
    labels: BTreeMap<String, String>,
    mask: Vec<String>,
    token_header: String,
}

impl Queue {
    pub fn new(
        max_queue: usize,
        max_batch: usize,
        labels: BTreeMap<String, String>,
        mask: Vec<String>,
        token_header: &str,
    ) -> Self {
        Self {
            events: VecDeque::new(),
            max_queue,
            max_batch,
            dropped: 0,
            labels,
            mask,
            token_header: token_header.to_string(),
        }
    }

    /// Builds, masks and queues an event; `false` when it was dropped (queue full).
    pub fn push(&mut self, e: Event<'_>) -> bool {
        if self.events.len() >= self.max_queue {
            self.dropped += 1;
            return false;
        }
        let event = self.event(e);
        self.events.push_back(event);
        true
    }

    /// The event, masked.
    pub fn event(&self, e: Event<'_>) -> Json {
        let mut event = json!({
            "decision_id": e.decision_id,
            "labels": self.labels,
            "path": e.path,
            "input": e.input,
            "timestamp": e.timestamp,
            "metrics": {"timer_rego_query_eval_ns": e.eval_ns},
        });
        if let Json::Object(map) = &mut event {
            if let Some(r) = e.result {
                map.insert("result".into(), r);
            }
            if let Some(err) = e.error {
                map.insert("error".into(), json!({"message": err}));
            }
            if let Some(rev) = e.revision {
                map.insert("bundles".into(), json!({"tollgate": {"revision": rev}}));
            }
            if let Some(by) = e.requested_by {
                map.insert("requested_by".into(), Json::String(by.into()));
            }
        }
        let mut erased = Vec::new();
        let headers = "/input/attributes/request/http/headers/";
        let always = ALWAYS_ERASED_HEADERS
            .iter()
            .map(|h| format!("{headers}{h}"))
            .chain(std::iter::once(format!("{headers}{}", self.token_header)));
        for pointer in always.chain(self.mask.iter().cloned()) {
            if erase(&mut event, &pointer) {
                erased.push(Json::String(pointer));
            }
        }
        if !erased.is_empty()
            && let Json::Object(map) = &mut event
        {
            map.insert("erased".into(), Json::Array(erased));
        }
        event
    }

    /// The next batch, as the JSON array to POST (gzip-compressed with `gzip`).
    pub fn take_batch(&mut self, gzip: bool) -> Option<(usize, Vec<u8>)> {
        if self.events.is_empty() {
            return None;
        }
        let n = self.events.len().min(self.max_batch);
        let batch: Vec<Json> = self.events.drain(..n).collect();
        let json = serde_json::to_vec(&batch).ok()?;
        if !gzip {
            return Some((n, json));
        }
        use std::io::Write as _;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&json).ok()?;
        enc.finish().ok().map(|b| (n, b))
    }
}

/// A random UUID (v4) for `decision_id`, from WASI's random source.
pub fn decision_id() -> String {
    use rand_core::RngCore as _;
    let mut b = [0u8; 16];
    rand_core::OsRng.fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    let part = |from: usize, to: usize| hex.get(from..to).unwrap_or_default().to_string();
    format!(
        "{}-{}-{}-{}-{}",
        part(0, 8),
        part(8, 12),
        part(12, 16),
        part(16, 20),
        part(20, 32)
    )
}

/// `data.envoy.authz.allow` → `envoy/authz/allow`.
pub fn rule_path(rule: &str) -> String {
    rule.strip_prefix("data.").unwrap_or(rule).replace('.', "/")
}

#[cfg(test)]
#[path = "decision_log_tests.rs"]
mod tests;
