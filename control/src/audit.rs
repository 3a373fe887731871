//! The audit log: every change, approval, rejection and denied attempt, each record
//! carrying the SHA-256 of the one before, so removing or editing a record breaks the
//! chain at that record. Records are appended in the same storage transaction as the
//! change they describe: a change without its record (or the reverse) cannot exist.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::store::{Result, SharedStore, Txn};

pub const HEAD_KEY: &str = "audit/head";
const RECORD_PREFIX: &str = "audit/rec/";
/// The hash the first record points back to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What happened to an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Applied,
    Proposed,
    Approved,
    Rejected,
    Denied,
    Refused,
}

/// One record. `hash` covers every other field, `prev` included.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    pub seq: u64,
    pub time: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub outcome: Outcome,
    /// What changed: revision numbers, digests, reasons. Never secret values.
    pub detail: Value,
    pub prev: String,
    pub hash: String,
}

/// The chain's head: the last record's number and hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    pub seq: u64,
    pub hash: String,
}

/// What a caller wants recorded.
#[derive(Debug, Clone)]
pub struct Event {
    pub actor: String,
    pub action: String,
    pub target: String,
    pub outcome: Outcome,
    pub detail: Value,
}

pub fn record_key(seq: u64) -> String {
    format!("{RECORD_PREFIX}{seq:012}")
}

/// The hash of `record` with its `hash` field left out of the input.
pub fn hash_of(record: &Record) -> String {
    let mut copy = record.clone();
    copy.hash = String::new();
    let text = serde_json::to_vec(&copy).unwrap_or_default();
    hex::encode(Sha256::digest(&text))
}

/// The head as stored, and its version (the compare that orders appends).
pub async fn head(store: &SharedStore) -> Result<(Head, u64)> {
    Ok(match store.get(HEAD_KEY).await? {
        Some(entry) => (
            serde_json::from_slice(&entry.value).unwrap_or(Head {
                seq: 0,
                hash: GENESIS.into(),
            }),
            entry.version,
        ),
        None => (
            Head {
                seq: 0,
                hash: GENESIS.into(),
            },
            0,
        ),
    })
}

/// Adds `event`'s record after `head` to `txn` (which must compare the head's version).
pub fn append(
    txn: Txn,
    head: &Head,
    head_version: u64,
    event: &Event,
    time: String,
) -> (Txn, Record) {
    let mut record = Record {
        seq: head.seq + 1,
        time,
        actor: event.actor.clone(),
        action: event.action.clone(),
        target: event.target.clone(),
        outcome: event.outcome,
        detail: event.detail.clone(),
        prev: head.hash.clone(),
        hash: String::new(),
    };
    record.hash = hash_of(&record);
    let next = Head {
        seq: record.seq,
        hash: record.hash.clone(),
    };
    let txn = txn
        .compare(HEAD_KEY, head_version)
        .put(
            record_key(record.seq),
            serde_json::to_vec(&record).unwrap_or_default(),
        )
        .put(HEAD_KEY, serde_json::to_vec(&next).unwrap_or_default());
    (txn, record)
}

/// Records from `after` (exclusive), at most `limit`.
pub async fn list(store: &SharedStore, after: u64, limit: usize) -> Result<Vec<Record>> {
    let rows = store.range(RECORD_PREFIX, usize::MAX).await?;
    Ok(rows
        .into_iter()
        .filter_map(|(_, e)| serde_json::from_slice::<Record>(&e.value).ok())
        .filter(|r| r.seq > after)
        .take(limit)
        .collect())
}

/// The outcome of walking the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    pub intact: bool,
    pub records: u64,
    pub head: String,
    /// The first record where the chain breaks, and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broken_at: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Walks every record from the first: each must be numbered in order, point at the
/// hash of the one before and hash to what it says; the last must be the head.
pub async fn verify(store: &SharedStore) -> Result<Verification> {
    let (head, _) = head(store).await?;
    let rows = store.range(RECORD_PREFIX, usize::MAX).await?;
    let mut prev = GENESIS.to_string();
    let mut expected = 1u64;
    let broken = |at: u64, why: String, records: u64| Verification {
        intact: false,
        records,
        head: head.hash.clone(),
        broken_at: Some(at),
        reason: Some(why),
    };
    for (key, entry) in rows {
        let Ok(record) = serde_json::from_slice::<Record>(&entry.value) else {
            return Ok(broken(
                expected,
                format!("`{key}` is not a record"),
                expected - 1,
            ));
        };
        if record.seq != expected || key != record_key(record.seq) {
            return Ok(broken(
                expected,
                format!("record {expected} is missing (found {})", record.seq),
                expected - 1,
            ));
        }
        if record.prev != prev {
            return Ok(broken(
                record.seq,
                "it does not point at the previous record's hash".into(),
                expected - 1,
            ));
        }
        if hash_of(&record) != record.hash {
            return Ok(broken(
                record.seq,
                "its content does not match its hash".into(),
                expected - 1,
            ));
        }
        prev = record.hash;
        expected += 1;
    }
    let records = expected - 1;
    if records != head.seq || prev != head.hash {
        return Ok(broken(
            records + 1,
            format!(
                "the head names record {} but the chain ends at {records}",
                head.seq
            ),
            records,
        ));
    }
    Ok(Verification {
        intact: true,
        records,
        head: head.hash,
        broken_at: None,
        reason: None,
    })
}
