//! Storage: a small transactional key-value interface that SQLite (embedded, the
//! default) and etcd (several replicas) both implement, so everything above it
//! (revisions, `If-Match`, the audit chain) is written once and one storage suite tests
//! both backends.
//!
//! The interface is etcd's own shape: each key has a *version* (how many times it was
//! written since it was created; 0 when absent), and a transaction applies its writes
//! only when every compare holds. `If-Match` and the audit chain's head are compares.

mod etcd;
mod sqlite;

pub use etcd::EtcdStore;
pub use sqlite::SqliteStore;

use std::sync::Arc;

/// Keys under this prefix hold what gateways report (the fleet view): writing them
/// wakes no waiter, so a thousand gateways acknowledging do not make every long poll
/// and ECDS stream read their documents again.
pub const QUIET_PREFIX: &str = "fleet/";

/// Whether a write to `key` should wake waiters.
pub(crate) fn wakes(key: &str) -> bool {
    !key.starts_with(QUIET_PREFIX)
}

/// A value and its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub value: Vec<u8>,
    pub version: u64,
}

/// Holds when `key`'s version is `version` (0: the key is absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compare {
    pub key: String,
    pub version: u64,
}

/// A write a transaction makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Put { key: String, value: Vec<u8> },
    Delete { key: String },
}

/// Compares, then writes; all or nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Txn {
    pub compares: Vec<Compare>,
    pub ops: Vec<Op>,
}

impl Txn {
    pub fn compare(mut self, key: impl Into<String>, version: u64) -> Self {
        self.compares.push(Compare {
            key: key.into(),
            version,
        });
        self
    }

    pub fn put(mut self, key: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.ops.push(Op::Put {
            key: key.into(),
            value: value.into(),
        });
        self
    }

    pub fn delete(mut self, key: impl Into<String>) -> Self {
        self.ops.push(Op::Delete { key: key.into() });
        self
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage: {0}")]
    Backend(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// What every backend provides. A successful `txn` is durable when it returns.
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    async fn get(&self, key: &str) -> Result<Option<Entry>>;
    /// Every key starting with `prefix`, in key order, at most `limit`.
    async fn range(&self, prefix: &str, limit: usize) -> Result<Vec<(String, Entry)>>;
    /// `true` when the compares held and the writes were made.
    async fn txn(&self, txn: Txn) -> Result<bool>;
    /// Resolves when something under `prefix` may have changed, here or on another
    /// replica (spurious wake-ups are allowed), or after `timeout`.
    async fn changed(&self, prefix: &str, timeout: std::time::Duration);
    /// A short name for logs and metrics.
    fn backend(&self) -> &'static str;
}

pub type SharedStore = Arc<dyn Store>;

/// The smallest key greater than every key starting with `prefix` (etcd's range end).
pub(crate) fn prefix_end(prefix: &str) -> Vec<u8> {
    let mut end = prefix.as_bytes().to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}
