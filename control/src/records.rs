//! Typed JSON records over the store: the one place that reads and decodes them. A
//! record that does not decode is an internal error (storage holds only what this
//! service wrote), never silently skipped.

use serde::de::DeserializeOwned;

use crate::error::{ApiError, ApiResult};
use crate::store::SharedStore;

/// The record at `key` and its version, `None` when absent.
pub async fn get<T: DeserializeOwned>(
    store: &SharedStore,
    key: &str,
) -> ApiResult<Option<(T, u64)>> {
    match store.get(key).await? {
        Some(entry) => Ok(Some((
            serde_json::from_slice(&entry.value)
                .map_err(|e| ApiError::internal(format!("{key}: {e}")))?,
            entry.version,
        ))),
        None => Ok(None),
    }
}

/// Every record under `prefix`, in key order, at most `limit`.
pub async fn list<T: DeserializeOwned>(
    store: &SharedStore,
    prefix: &str,
    limit: usize,
) -> ApiResult<Vec<T>> {
    store
        .range(prefix, limit)
        .await?
        .into_iter()
        .map(|(key, e)| {
            serde_json::from_slice(&e.value)
                .map_err(|err| ApiError::internal(format!("{key}: {err}")))
        })
        .collect()
}
