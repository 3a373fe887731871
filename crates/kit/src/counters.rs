//! Counters defined on first use and cached by id, so a request pays one hostcall per
//! count. A host without metrics (a failed define) just counts nothing.

use std::collections::HashMap;
use std::hash::Hash;

use crate::host::Host;
use crate::types::MetricKind;

#[derive(Debug)]
pub struct Counters<K> {
    ids: HashMap<K, Option<u32>>,
}

impl<K> Default for Counters<K> {
    fn default() -> Self {
        Self {
            ids: HashMap::new(),
        }
    }
}

impl<K: Hash + Eq> Counters<K> {
    /// Adds one to the counter for `key`; `name` is asked for only the first time.
    pub fn inc(&mut self, host: &dyn Host, key: K, name: impl FnOnce() -> String) {
        self.add(host, key, 1, name);
    }

    /// Adds `delta` to the counter for `key` (bytes, matches of a body).
    pub fn add(&mut self, host: &dyn Host, key: K, delta: i64, name: impl FnOnce() -> String) {
        let id = *self
            .ids
            .entry(key)
            .or_insert_with(|| host.define_metric(MetricKind::Counter, &name()).ok());
        if let Some(id) = id {
            let _ = host.increment_metric(id, delta);
        }
    }
}

#[cfg(test)]
#[path = "counters_tests.rs"]
mod tests;
