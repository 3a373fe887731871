//! Versioned documents: every change is an immutable revision numbered 1, 2, 3… with
//! its content's SHA-256, author, time and message. Content is stored once per digest
//! (`blob/<sha256>`), so a rollback or an unchanged push costs no space. The head
//! (`doc/<id>/head`) is the current revision; its storage version is what `If-Match`
//! compares, so two authors starting from the same revision cannot both win.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::audit::{Event, Outcome};
use crate::error::{ApiError, ApiResult, code};
use crate::ledger::{self, CommitError};
use crate::store::{Compare, Op, SharedStore};

/// One revision, as stored and as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Revision {
    pub number: u64,
    pub sha256: String,
    pub author: String,
    pub time: String,
    pub message: String,
    /// Set when this revision restored an earlier one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_of: Option<u64>,
    /// The change request this revision came from, when it was approved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<String>,
    /// What gateways receive, when it differs from the content (a signed bundle).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distributed_sha256: Option<String>,
}

/// What the writer saw: `If-Match` as sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// No `If-Match`: only valid when the document does not exist yet.
    Nothing,
    /// `If-Match: "<n>"`.
    Revision(u64),
}

impl Expected {
    /// Reads `If-Match` (`"3"`, `3` or `W/"3"`).
    pub fn from_header(value: Option<&str>) -> ApiResult<Self> {
        let Some(raw) = value else {
            return Ok(Self::Nothing);
        };
        let trimmed = raw.trim().trim_start_matches("W/").trim_matches('"');
        trimmed.parse::<u64>().map(Self::Revision).map_err(|_| {
            ApiError::bad_request(format!(
                "If-Match must be a revision number such as \"3\", not `{raw}`"
            ))
        })
    }
}

pub fn digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn head_key(id: &str) -> String {
    format!("doc/{id}/head")
}

fn revision_key(id: &str, number: u64) -> String {
    format!("doc/{id}/rev/{number:012}")
}

pub fn blob_key(sha256: &str) -> String {
    format!("blob/{sha256}")
}

/// The current revision and its storage version (0: the document does not exist).
pub async fn head(store: &SharedStore, id: &str) -> ApiResult<(Option<Revision>, u64)> {
    Ok(match crate::records::get(store, &head_key(id)).await? {
        Some((revision, version)) => (Some(revision), version),
        None => (None, 0),
    })
}

pub async fn revision(store: &SharedStore, id: &str, number: u64) -> ApiResult<Revision> {
    crate::records::get(store, &revision_key(id, number))
        .await?
        .map(|(r, _)| r)
        .ok_or_else(|| ApiError::not_found(format!("revision {number} of `{id}`")))
}

pub async fn revisions(store: &SharedStore, id: &str, limit: usize) -> ApiResult<Vec<Revision>> {
    crate::records::list(store, &format!("doc/{id}/rev/"), limit).await
}

pub async fn blob(store: &SharedStore, sha256: &str) -> ApiResult<Vec<u8>> {
    store
        .get(&blob_key(sha256))
        .await?
        .map(|e| e.value)
        .ok_or_else(|| ApiError::internal(format!("blob {sha256} is missing")))
}

/// A new revision to make.
pub struct Write {
    pub id: String,
    pub expected: Expected,
    pub content: Vec<u8>,
    /// Stored too, by digest (a signed bundle); named by `distributed_sha256`.
    pub distributed: Option<Vec<u8>>,
    pub author: String,
    pub message: String,
    pub rollback_of: Option<u64>,
    pub change: Option<String>,
    /// The audit action (`config.set`, `bundle.push`, …).
    pub action: &'static str,
    /// More writes in the same transaction (a change request marked approved).
    pub extra: Vec<Op>,
    /// More compares the transaction needs (the change request is still as read).
    pub extra_guards: Vec<Compare>,
    pub extra_detail: Value,
}

/// The 409 a writer gets, naming the current revision.
pub fn conflict(id: &str, current: Option<&Revision>) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::CONFLICT,
        code::CONFLICT,
        format!(
            "`{id}` changed: the current revision is {}; re-read it and apply your change to it",
            current.map_or(0, |r| r.number)
        ),
    )
    .with_details(json!({ "current": current }))
}

/// Checks `expected` against the head; the storage version to compare on commit.
pub fn check_expected(id: &str, head: Option<&Revision>, expected: Expected) -> ApiResult<()> {
    match (head, expected) {
        (None, Expected::Nothing) => Ok(()),
        (Some(h), Expected::Revision(n)) if h.number == n => Ok(()),
        (Some(_), Expected::Nothing) => Err(ApiError::new(
            axum::http::StatusCode::PRECONDITION_REQUIRED,
            code::PRECONDITION_REQUIRED,
            format!("`{id}` exists: send If-Match with the revision your change is based on"),
        )),
        (current, Expected::Revision(_)) => Err(conflict(id, current)),
    }
}

/// Makes the revision, or answers 409/428. An unchanged content is not a new
/// revision: the current one is returned, with `false`.
pub async fn write(store: &SharedStore, w: Write) -> ApiResult<(Revision, bool)> {
    let (current, version) = head(store, &w.id).await?;
    check_expected(&w.id, current.as_ref(), w.expected)?;
    let sha256 = digest(&w.content);
    if let Some(c) = &current
        && c.sha256 == sha256
        && w.rollback_of.is_none()
        && w.change.is_none()
    {
        return Ok((c.clone(), false));
    }
    let distributed_sha256 = w.distributed.as_deref().map(digest);
    let revision = Revision {
        number: current.as_ref().map_or(1, |c| c.number + 1),
        sha256: sha256.clone(),
        author: w.author.clone(),
        time: ledger::now_rfc3339(),
        message: w.message.clone(),
        rollback_of: w.rollback_of,
        change: w.change.clone(),
        distributed_sha256: distributed_sha256.clone(),
    };
    let record = serde_json::to_vec(&revision).map_err(ApiError::internal)?;
    let mut ops = vec![
        Op::Put {
            key: blob_key(&sha256),
            value: w.content,
        },
        Op::Put {
            key: revision_key(&w.id, revision.number),
            value: record.clone(),
        },
        Op::Put {
            key: head_key(&w.id),
            value: record,
        },
    ];
    if let (Some(bytes), Some(sha)) = (w.distributed, &distributed_sha256) {
        ops.push(Op::Put {
            key: blob_key(sha),
            value: bytes,
        });
    }
    ops.extend(w.extra);
    let mut detail = json!({
        "revision": revision.number,
        "sha256": revision.sha256,
        "message": revision.message,
    });
    if let (Some(d), Value::Object(extra)) = (detail.as_object_mut(), w.extra_detail) {
        d.extend(extra);
    }
    let event = Event {
        actor: w.author,
        action: w.action.into(),
        target: w.id.clone(),
        outcome: if w.change.is_some() {
            Outcome::Approved
        } else {
            Outcome::Applied
        },
        detail,
    };
    let mut guards = vec![Compare {
        key: head_key(&w.id),
        version,
    }];
    guards.extend(w.extra_guards);
    match ledger::commit(store, &guards, &ops, &event).await {
        Ok(_) => Ok((revision, true)),
        Err(CommitError::Conflict) => {
            let (now, _) = head(store, &w.id).await?;
            Err(conflict(&w.id, now.as_ref()))
        }
        Err(CommitError::Store(e)) => Err(e.into()),
    }
}

/// A line diff of two texts (unified, 3 lines of context).
pub fn diff_text(from: &str, to: &str, from_name: &str, to_name: &str) -> String {
    similar::TextDiff::from_lines(from, to)
        .unified_diff()
        .context_radius(3)
        .header(from_name, to_name)
        .to_string()
}
