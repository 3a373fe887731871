//! Counters in Redis, shared by every `tollgate-ratelimit` instance pointed at it, as a
//! limitador storage.
//!
//! One Lua script checks every counter a descriptor hits and, only if all have room,
//! adds to all of them: Redis runs a script atomically, so two instances (two
//! gateways) can never both take the last request of a window. Windows are fixed, as in
//! limitador: a counter's key expires one window after its first hit.
//!
//! Keys are `tollgate:rl:{<namespace>}:<sha256>` over the limit and the counter's
//! variables (the bucket key, already one-way). The braces keep a namespace's keys on
//! one Redis Cluster shard.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use limitador::counter::Counter;
use limitador::limit::Limit;
use limitador::storage::{AsyncCounterStorage, Authorization, StorageErr};
use redis::aio::ConnectionManager;
use sha2::{Digest, Sha256};

/// The limit name a failed Redis call is reported under. limitador's `StorageErr` has
/// no public constructor (outside its own Redis feature, which does not build), so a
/// failure comes back as this "limit" and the service turns it into an error.
pub const UNAVAILABLE: &str = "\u{0}tollgate:redis-unavailable";

/// The first counter without room for `delta` ends the script with `{0, index, value,
/// pttl}`. KEYS: the counters. ARGV: delta, then per key its maximum and window (ms).
macro_rules! check_all {
    () => {
        r"
local delta = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  local max = tonumber(ARGV[2 * i])
  local value = tonumber(redis.call('GET', key) or '0')
  if value + delta > max then
    return {0, i, value, redis.call('PTTL', key)}
  end
end
"
    };
}

/// Checks all counters, then adds `delta` to each only if every one has room. Returns
/// `{1, value1, pttl1, value2, pttl2, …}` when admitted.
const CHECK_AND_UPDATE: &str = concat!(
    check_all!(),
    r"local out = {1}
for i, key in ipairs(KEYS) do
  local window = tonumber(ARGV[2 * i + 1])
  local value = redis.call('INCRBY', key, delta)
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then
    redis.call('PEXPIRE', key, window)
    ttl = window
  end
  table.insert(out, value)
  table.insert(out, ttl)
end
return out
"
);

/// The same check, without adding.
const CHECK: &str = concat!(check_all!(), "return {1}\n");

pub struct RedisCounters {
    conn: ConnectionManager,
    check_and_update: redis::Script,
    check: redis::Script,
    /// The last failure, for the service's error message.
    pub last_error: Mutex<Option<String>>,
}

impl RedisCounters {
    pub async fn connect(url: &str) -> Result<Self, String> {
        let client = redis::Client::open(url).map_err(|e| format!("Redis at {url}: {e}"))?;
        let conn = ConnectionManager::new(client)
            .await
            .map_err(|e| format!("cannot reach Redis at {url}: {e}"))?;
        Ok(Self {
            conn,
            check_and_update: redis::Script::new(CHECK_AND_UPDATE),
            check: redis::Script::new(CHECK),
            last_error: Mutex::new(None),
        })
    }

    fn failed(&self, e: &redis::RedisError) -> Authorization {
        tracing::error!(error = %e, "Redis failed");
        if let Ok(mut last) = self.last_error.lock() {
            *last = Some(e.to_string());
        }
        Authorization::Limited(Some(UNAVAILABLE.to_string()))
    }

    async fn run(
        &self,
        script: &redis::Script,
        counters: &[Counter],
        delta: u64,
    ) -> Result<Vec<i64>, redis::RedisError> {
        let mut invocation = script.prepare_invoke();
        invocation.arg(delta);
        for c in counters {
            invocation.key(key(c));
            invocation.arg(c.max_value());
            invocation.arg(u64::try_from(c.window().as_millis()).unwrap_or(u64::MAX));
        }
        let mut conn = self.conn.clone();
        invocation.invoke_async(&mut conn).await
    }

    /// Applies a script's answer to the counters (remaining, expiry); the verdict.
    /// `before` is what was added: limitador takes an admitted request's `delta` off
    /// `remaining` itself, so remaining is reported as it was before the update.
    fn read(counters: &mut [Counter], answer: &[i64], before: u64) -> Authorization {
        let at = |i: usize| answer.get(i).copied().unwrap_or(0);
        let admitted = at(0) == 1;
        let set = |c: &mut Counter, value: i64, pttl: i64| {
            let value = u64::try_from(value).unwrap_or(0);
            let used = if admitted {
                value.saturating_sub(before)
            } else {
                value
            };
            c.set_remaining(c.max_value().saturating_sub(used));
            if let Ok(ms) = u64::try_from(pttl) {
                c.set_expires_in(Duration::from_millis(ms));
            }
        };
        if admitted {
            for (i, c) in counters.iter_mut().enumerate() {
                set(c, at(1 + 2 * i), at(2 + 2 * i));
            }
            return Authorization::Ok;
        }
        let index = usize::try_from(at(1)).unwrap_or(1).saturating_sub(1);
        let name = counters.get_mut(index).map(|c| {
            set(c, at(2), at(3));
            c.limit().name().map(str::to_string)
        });
        Authorization::Limited(name.flatten())
    }
}

/// A counter's Redis key: its namespace, limit and variable values.
pub fn key(counter: &Counter) -> String {
    let limit = counter.limit();
    let mut conditions: Vec<String> = limit.conditions().into_iter().collect();
    conditions.sort();
    let mut variables: Vec<String> = limit.variables().into_iter().collect();
    variables.sort();
    let identity = serde_json::json!({
        "max": limit.max_value(),
        "seconds": limit.seconds(),
        "conditions": conditions,
        "variables": variables,
        "values": counter.set_variables(),
    });
    let digest = Sha256::digest(identity.to_string().as_bytes());
    let namespace = counter.namespace().as_ref();
    format!("tollgate:rl:{{{namespace}}}:{}", hex::encode(digest))
}

#[async_trait::async_trait]
impl AsyncCounterStorage for RedisCounters {
    async fn is_within_limits(&self, counter: &Counter, delta: u64) -> Result<bool, StorageErr> {
        let answer = self
            .run(&self.check, std::slice::from_ref(counter), delta)
            .await;
        Ok(answer.is_ok_and(|a| a.first() == Some(&1)))
    }

    async fn update_counter(&self, counter: &Counter, delta: u64) -> Result<(), StorageErr> {
        // Only reached through `update_counters`, which the service never calls.
        let mut one = vec![counter.clone()];
        let _ = self.check_and_update(&mut one, delta).await;
        Ok(())
    }

    async fn check<'a>(
        &self,
        counters: &mut Vec<Counter>,
        delta: u64,
    ) -> Result<Authorization, StorageErr> {
        match self.run(&self.check, counters, delta).await {
            Ok(answer) => Ok(Self::read(counters, &answer, 0)),
            Err(e) => Ok(self.failed(&e)),
        }
    }

    async fn check_and_update<'a>(
        &self,
        counters: &mut Vec<Counter>,
        delta: u64,
    ) -> Result<Authorization, StorageErr> {
        match self.run(&self.check_and_update, counters, delta).await {
            Ok(answer) => Ok(Self::read(counters, &answer, delta)),
            Err(e) => Ok(self.failed(&e)),
        }
    }

    async fn get_counters(
        &self,
        _limits: &HashSet<Arc<Limit>>,
    ) -> Result<HashSet<Counter>, StorageErr> {
        // Listing would scan Redis; nothing here needs it.
        Ok(HashSet::new())
    }

    async fn delete_counters(&self, _limits: &HashSet<Arc<Limit>>) -> Result<(), StorageErr> {
        // A removed limit's counters expire with their window.
        Ok(())
    }

    async fn clear(&self) -> Result<(), StorageErr> {
        Ok(())
    }
}
