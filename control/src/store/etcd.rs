//! The replicated backend: etcd's v3 API. Every control-service replica talks to the
//! same etcd cluster; `If-Match` and the audit chain are etcd transactions comparing
//! key versions, and a watch on the namespace wakes long polls on every replica.

use std::sync::Arc;
use std::time::Duration;

use etcd_client::{
    Client, Compare as EtcdCompare, CompareOp, GetOptions, SortOrder, SortTarget, Txn as EtcdTxn,
    TxnOp, WatchOptions,
};
use tokio::sync::Notify;

use super::{Entry, Op, Result, Store, StoreError, Txn};

pub struct EtcdStore {
    client: Client,
    /// Every key is stored under this prefix, so one etcd can hold several deployments.
    namespace: String,
    notify: Arc<Notify>,
    watcher: tokio::task::JoinHandle<()>,
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("etcd: {e}"))
}

impl Drop for EtcdStore {
    fn drop(&mut self) {
        self.watcher.abort();
    }
}

impl EtcdStore {
    /// Connects to `endpoints` (for example `http://127.0.0.1:2379`) and keeps every key
    /// under `namespace`.
    pub async fn connect(endpoints: &[String], namespace: &str) -> Result<Self> {
        let options = etcd_client::ConnectOptions::new()
            .with_connect_timeout(Duration::from_secs(5))
            .with_timeout(Duration::from_secs(10));
        let client = Client::connect(endpoints, Some(options))
            .await
            .map_err(backend)?;
        let notify = Arc::new(Notify::new());
        let watcher = tokio::spawn(watch(client.clone(), namespace.to_string(), notify.clone()));
        Ok(Self {
            client,
            namespace: namespace.to_string(),
            notify,
            watcher,
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.namespace)
    }
}

/// Wakes waiters on every change under the namespace, reconnecting the watch (bounded
/// back-off) when it breaks.
async fn watch(mut client: Client, namespace: String, notify: Arc<Notify>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let opened = client
            .watch(namespace.as_str(), Some(WatchOptions::new().with_prefix()))
            .await;
        if let Ok((_watcher, mut stream)) = opened {
            backoff = Duration::from_millis(100);
            // A fresh watch may have missed changes: wake everyone to re-read.
            notify.notify_waiters();
            while let Ok(Some(response)) = stream.message().await {
                let loud = response.events().iter().any(|e| {
                    e.kv()
                        .and_then(|kv| kv.key_str().ok())
                        .and_then(|k| k.strip_prefix(namespace.as_str()))
                        .is_none_or(super::wakes)
                });
                if loud {
                    notify.notify_waiters();
                }
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

fn version(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

#[async_trait::async_trait]
impl Store for EtcdStore {
    async fn get(&self, key: &str) -> Result<Option<Entry>> {
        let response = self
            .client
            .kv_client()
            .get(self.key(key), None)
            .await
            .map_err(backend)?;
        Ok(response.kvs().first().map(|kv| Entry {
            value: kv.value().to_vec(),
            version: version(kv.version()),
        }))
    }

    async fn range(&self, prefix: &str, limit: usize) -> Result<Vec<(String, Entry)>> {
        let options = GetOptions::new()
            .with_prefix()
            .with_sort(SortTarget::Key, SortOrder::Ascend)
            .with_limit(i64::try_from(limit).unwrap_or(i64::MAX));
        let response = self
            .client
            .kv_client()
            .get(self.key(prefix), Some(options))
            .await
            .map_err(backend)?;
        let mut out = Vec::with_capacity(response.kvs().len());
        for kv in response.kvs() {
            let key = kv.key_str().map_err(backend)?;
            let Some(key) = key.strip_prefix(self.namespace.as_str()) else {
                continue;
            };
            out.push((
                key.to_string(),
                Entry {
                    value: kv.value().to_vec(),
                    version: version(kv.version()),
                },
            ));
        }
        Ok(out)
    }

    async fn txn(&self, txn: Txn) -> Result<bool> {
        let compares: Vec<EtcdCompare> = txn
            .compares
            .iter()
            .map(|c| {
                EtcdCompare::version(
                    self.key(&c.key),
                    CompareOp::Equal,
                    i64::try_from(c.version).unwrap_or(i64::MAX),
                )
            })
            .collect();
        let ops: Vec<TxnOp> = txn
            .ops
            .iter()
            .map(|op| match op {
                Op::Put { key, value } => TxnOp::put(self.key(key), value.clone(), None),
                Op::Delete { key } => TxnOp::delete(self.key(key), None),
            })
            .collect();
        let response = self
            .client
            .kv_client()
            .txn(EtcdTxn::new().when(compares).and_then(ops))
            .await
            .map_err(backend)?;
        Ok(response.succeeded())
    }

    async fn changed(&self, _prefix: &str, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.notify.notified()).await;
    }

    fn backend(&self) -> &'static str {
        "etcd"
    }
}
