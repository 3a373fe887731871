//! Where the tier keeps things: entries with a time to live, and an append-only log of
//! invalidations read by cursor.
//!
//! In Redis, entries are `tollgate:cache:e:<name>` with `EX`, and invalidations a
//! stream, `tollgate:cache:invalidations`, trimmed to the horizon by `MINID` on every
//! add: its ids (milliseconds and a sequence) are the cursors gateways follow.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use redis::aio::ConnectionManager;
use serde::Serialize;

/// One published invalidation, as the filter writes and reads it (its own type: one
/// definition of the wire format).
pub use tollgate_response_cache::tier::Published;

/// A page of invalidations and the cursor after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page {
    pub next: String,
    pub items: Vec<Published>,
}

/// The most items one page holds.
pub const PAGE: usize = 1000;

/// Where a page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum From {
    /// After this cursor (exclusive).
    After(String),
    /// Everything since this Unix time in milliseconds.
    Since(u64),
}

pub enum Backend {
    Redis {
        conn: ConnectionManager,
        horizon: Duration,
    },
    Memory(Mutex<Memory>),
}

#[derive(Default)]
pub struct Memory {
    entries: HashMap<String, (Vec<u8>, Instant)>,
    /// By cursor `(ms, seq)`.
    log: BTreeMap<(u64, u64), Published>,
    max_entries: usize,
    horizon: Duration,
}

const ENTRY: &str = "tollgate:cache:e:";
const STREAM: &str = "tollgate:cache:invalidations";

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn parse_cursor(c: &str) -> Option<(u64, u64)> {
    let (ms, seq) = c.split_once('-')?;
    Some((ms.parse().ok()?, seq.parse().ok()?))
}

impl Backend {
    pub async fn redis(url: &str, horizon: Duration) -> Result<Self, String> {
        let client = redis::Client::open(url).map_err(|e| format!("Redis at {url}: {e}"))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Duration::from_secs(2))
            .set_response_timeout(Duration::from_secs(2))
            .set_number_of_retries(1);
        let conn = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|e| format!("Redis at {url}: {e}"))?;
        Ok(Self::Redis { conn, horizon })
    }

    pub fn memory(max_entries: usize, horizon: Duration) -> Self {
        Self::Memory(Mutex::new(Memory {
            max_entries,
            horizon,
            ..Memory::default()
        }))
    }

    pub async fn get(&self, name: &str) -> Result<Option<Vec<u8>>, String> {
        match self {
            Self::Redis { conn, .. } => {
                let mut c = conn.clone();
                redis::cmd("GET")
                    .arg(format!("{ENTRY}{name}"))
                    .query_async(&mut c)
                    .await
                    .map_err(|e| e.to_string())
            }
            Self::Memory(m) => {
                let m = m.lock().map_err(|_| "poisoned")?;
                Ok(m.entries
                    .get(name)
                    .filter(|(_, until)| *until > Instant::now())
                    .map(|(v, _)| v.clone()))
            }
        }
    }

    pub async fn put(&self, name: &str, value: &[u8], ttl: Duration) -> Result<(), String> {
        let secs = ttl.as_secs().max(1);
        match self {
            Self::Redis { conn, .. } => {
                let mut c = conn.clone();
                redis::cmd("SET")
                    .arg(format!("{ENTRY}{name}"))
                    .arg(value)
                    .arg("EX")
                    .arg(secs)
                    .query_async::<()>(&mut c)
                    .await
                    .map_err(|e| e.to_string())
            }
            Self::Memory(m) => {
                let mut m = m.lock().map_err(|_| "poisoned")?;
                let now = Instant::now();
                m.entries.retain(|_, (_, until)| *until > now);
                if m.entries.len() >= m.max_entries && !m.entries.contains_key(name) {
                    return Err("the in-memory tier is full".into());
                }
                m.entries.insert(
                    name.to_string(),
                    (value.to_vec(), now + Duration::from_secs(secs)),
                );
                Ok(())
            }
        }
    }

    pub async fn publish(&self, p: &Published) -> Result<(), String> {
        let body = serde_json::to_string(p).map_err(|e| e.to_string())?;
        match self {
            Self::Redis { conn, horizon } => {
                let mut c = conn.clone();
                let oldest =
                    now_ms().saturating_sub(u64::try_from(horizon.as_millis()).unwrap_or(u64::MAX));
                redis::cmd("XADD")
                    .arg(STREAM)
                    .arg("MINID")
                    .arg("~")
                    .arg(oldest)
                    .arg("*")
                    .arg("p")
                    .arg(body)
                    .query_async::<String>(&mut c)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
            Self::Memory(m) => {
                let mut m = m.lock().map_err(|_| "poisoned")?;
                let ms = now_ms();
                let seq = m.log.range((ms, 0)..).count() as u64;
                m.log.insert((ms, seq), p.clone());
                let oldest =
                    ms.saturating_sub(u64::try_from(m.horizon.as_millis()).unwrap_or(u64::MAX));
                m.log.retain(|(t, _), _| *t >= oldest);
                Ok(())
            }
        }
    }

    pub async fn page(&self, from: &From) -> Result<Page, String> {
        let start = match from {
            From::After(c) => {
                let (ms, seq) = parse_cursor(c).ok_or("expected a cursor like 1700000000000-0")?;
                format!("({ms}-{seq}")
            }
            From::Since(ms) => format!("{ms}"),
        };
        let fallback = match from {
            From::After(c) => c.clone(),
            From::Since(ms) => format!("{}-0", ms.saturating_sub(1)),
        };
        match self {
            Self::Redis { conn, .. } => {
                let mut c = conn.clone();
                let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
                    .arg(STREAM)
                    .arg(&start)
                    .arg("+")
                    .arg("COUNT")
                    .arg(PAGE)
                    .query_async(&mut c)
                    .await
                    .map_err(|e| e.to_string())?;
                let mut items = Vec::new();
                let mut next = fallback;
                for id in reply.ids {
                    next = id.id.clone();
                    if let Some(p) = id
                        .get::<String>("p")
                        .and_then(|p| serde_json::from_str::<Published>(&p).ok())
                    {
                        items.push(p);
                    }
                }
                Ok(Page { next, items })
            }
            Self::Memory(m) => {
                let m = m.lock().map_err(|_| "poisoned")?;
                let lower = match from {
                    From::After(c) => {
                        let (ms, seq) = parse_cursor(c).unwrap_or((0, 0));
                        std::ops::Bound::Excluded((ms, seq))
                    }
                    From::Since(ms) => std::ops::Bound::Included((*ms, 0)),
                };
                let mut next = fallback;
                let mut items = Vec::new();
                for ((ms, seq), p) in m.log.range((lower, std::ops::Bound::Unbounded)).take(PAGE) {
                    next = format!("{ms}-{seq}");
                    items.push(p.clone());
                }
                Ok(Page { next, items })
            }
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Self::Redis { .. } => "redis",
            Self::Memory(_) => "memory",
        }
    }
}

#[cfg(test)]
#[path = "backend_tests.rs"]
mod tests;
