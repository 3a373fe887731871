//! The one write path: a storage transaction that makes a change only if what the
//! change was based on still holds (`If-Match`), and appends its audit record in the
//! same transaction. Concurrent writers of *other* things only move the audit head;
//! those races are retried (bounded). A writer whose own base moved gets a conflict.

use crate::audit::{self, Event, Record};
use crate::store::{Compare, Op, SharedStore, StoreError, Txn};

/// How often an append is retried when only the audit head moved under it.
const MAX_ATTEMPTS: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// Something the change was based on changed first.
    #[error("conflict")]
    Conflict,
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Applies `ops` when every `guard` holds, with `event`'s audit record.
pub async fn commit(
    store: &SharedStore,
    guards: &[Compare],
    ops: &[Op],
    event: &Event,
) -> Result<Record, CommitError> {
    for _ in 0..MAX_ATTEMPTS {
        let (head, head_version) = audit::head(store).await?;
        let txn = Txn {
            compares: guards.to_vec(),
            ops: ops.to_vec(),
        };
        let (txn, record) = audit::append(txn, &head, head_version, event, now_rfc3339());
        if store.txn(txn).await? {
            return Ok(record);
        }
        for guard in guards {
            let version = store.get(&guard.key).await?.map_or(0, |e| e.version);
            if version != guard.version {
                return Err(CommitError::Conflict);
            }
        }
    }
    Err(CommitError::Store(StoreError::Backend(
        "the audit log is too busy; try again".into(),
    )))
}

/// Records an attempt that changed nothing (a denial, a refused push).
pub async fn record(store: &SharedStore, event: &Event) -> Result<Record, StoreError> {
    match commit(store, &[], &[], event).await {
        Ok(r) => Ok(r),
        Err(CommitError::Store(e)) => Err(e),
        Err(CommitError::Conflict) => Err(StoreError::Backend("unreachable conflict".into())),
    }
}

/// Writes `value` at `key` if `key` is still at `version` (0: absent), with `event`'s
/// audit record. A concurrent change of `key` is a 409 naming `what`.
pub async fn put_guarded(
    store: &SharedStore,
    key: &str,
    version: u64,
    value: Vec<u8>,
    event: &Event,
    what: &str,
) -> crate::error::ApiResult<()> {
    let guard = [Compare {
        key: key.to_string(),
        version,
    }];
    let ops = [Op::Put {
        key: key.to_string(),
        value,
    }];
    match commit(store, &guard, &ops, event).await {
        Ok(_) => Ok(()),
        Err(CommitError::Conflict) => Err(crate::error::ApiError::new(
            axum::http::StatusCode::CONFLICT,
            crate::error::code::CONFLICT,
            format!("{what} changed concurrently; read it again and retry"),
        )),
        Err(CommitError::Store(e)) => Err(e.into()),
    }
}

/// Writes `record` at `key` as its latest version with its audit `event` (whatever
/// version is there now is the guard): 201 when it was new, 200 when it replaced one.
pub async fn put_record<T: serde::Serialize>(
    store: &SharedStore,
    key: &str,
    record: &T,
    event: &Event,
    what: &str,
) -> crate::error::ApiResult<axum::http::StatusCode> {
    let version = store.get(key).await?.map_or(0, |e| e.version);
    let value = serde_json::to_vec(record).map_err(crate::error::ApiError::internal)?;
    put_guarded(store, key, version, value, event, what).await?;
    Ok(if version == 0 {
        axum::http::StatusCode::CREATED
    } else {
        axum::http::StatusCode::OK
    })
}
