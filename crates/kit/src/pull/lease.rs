//! One worker per proxy process polls: the one that holds the lease in shared data.
//! Workers get distinct ids from a counter in shared data (no clock or randomness
//! needed), and a lease names its holder and when it runs out, so a worker that dies
//! hands over after one `ttl`.

use std::time::Duration;

use crate::host::Host;
use crate::types::Status;

/// How many times a compare-and-swap is tried before giving up for this tick.
const TRIES: usize = 8;

fn number(bytes: Option<&[u8]>) -> u64 {
    bytes
        .and_then(|b| std::str::from_utf8(b).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// A new worker id for `filter`, unique in this process.
pub fn worker_id(host: &dyn Host, filter: &str) -> Result<u64, String> {
    let key = format!("tollgate.pull.{filter}.workers");
    for _ in 0..TRIES {
        let current = host.shared_data(&key).map_err(|e| e.to_string())?;
        let next = number(current.value.as_deref()) + 1;
        match host.set_shared_data(&key, Some(next.to_string().as_bytes()), current.cas) {
            Ok(()) => return Ok(next),
            Err(e) if e.status == Status::CasMismatch => continue,
            Err(e) => return Err(e.to_string()),
        }
    }
    Err("shared data kept changing".into())
}

/// The poll lease of one filter.
#[derive(Debug, Clone)]
pub struct Lease {
    key: String,
    me: u64,
    ttl: Duration,
}

impl Lease {
    pub fn new(filter: &str, me: u64, ttl: Duration) -> Self {
        Self {
            key: format!("tollgate.pull.{filter}.lease"),
            me,
            ttl,
        }
    }

    /// Takes or renews the lease at `now_ms`: true while this worker holds it.
    pub fn hold(&self, host: &dyn Host, now_ms: u64) -> bool {
        let Ok(current) = host.shared_data(&self.key) else {
            return false;
        };
        let text = current
            .value
            .as_deref()
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or("");
        let mut parts = text.split_whitespace();
        let holder: u64 = parts.next().and_then(|v| v.parse().ok()).unwrap_or(0);
        let until: u64 = parts.next().and_then(|v| v.parse().ok()).unwrap_or(0);
        if holder != self.me && holder != 0 && until > now_ms {
            return false;
        }
        let until = now_ms.saturating_add(u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX));
        let value = format!("{} {until}", self.me);
        host.set_shared_data(&self.key, Some(value.as_bytes()), current.cas)
            .is_ok()
    }
}

#[cfg(test)]
#[path = "lease_tests.rs"]
mod tests;
