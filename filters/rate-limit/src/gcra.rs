//! The Generic Cell Rate Algorithm: one number per limit (the theoretical arrival time,
//! TAT) decides whether a request fits, so a bucket's whole state fits in one
//! shared-data value and one compare-and-swap updates it.
//!
//! A limit admits `burst` requests at once and then one every `emission` (its period
//! divided by its requests), exactly like a token bucket of `burst` tokens refilled at
//! `requests / period`. Over any window of length `w` that starts with a full bucket, at
//! most `burst + floor(w / emission)` requests pass. Time is nanoseconds since the Unix
//! epoch; all arithmetic saturates, so no clock value can overflow it.

/// One compiled limit: `requests` per `period`, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gcra {
    /// Nanoseconds between two requests at the steady rate (at least 1).
    pub emission: u64,
    /// How far ahead of now the TAT may run: `burst * emission`.
    pub capacity: u64,
    /// Requests per period, as configured (for response headers).
    pub requests: u64,
    /// The period in nanoseconds (for response headers).
    pub period: u64,
    pub burst: u64,
}

impl Gcra {
    /// `requests` per `period_ns`, `burst` at once; `None` if any is zero or the bucket
    /// would not fit in a u64 of nanoseconds.
    pub fn new(requests: u64, period_ns: u64, burst: u64) -> Option<Self> {
        if requests == 0 || period_ns == 0 || burst == 0 {
            return None;
        }
        let emission = (period_ns / requests).max(1);
        let capacity = emission.checked_mul(burst)?;
        // Leave room for `now + capacity` with any clock until the year 2500.
        if capacity > u64::MAX / 2 {
            return None;
        }
        Some(Self {
            emission,
            capacity,
            requests,
            period: period_ns,
            burst,
        })
    }

    /// This limit's share on one of `workers` workers that cannot share state: the rate
    /// and the burst divided (the burst rounded down, at least 1), so together they
    /// never admit more than the whole limit's rate plus its burst.
    pub fn share(self, workers: u32) -> Self {
        let w = u64::from(workers.max(1));
        let burst = (self.burst / w).max(1);
        let emission = self.emission.saturating_mul(w);
        Self {
            emission,
            capacity: emission.saturating_mul(burst),
            requests: self.requests,
            period: self.period,
            burst,
        }
    }
}

/// What one limit says about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Admitted: the new TAT, the requests still admissible right now, and when the
    /// bucket is full again (nanoseconds from now).
    Admit {
        tat: u64,
        remaining: u64,
        reset: u64,
    },
    /// Refused: nanoseconds until this request would fit.
    Deny { retry_after: u64 },
}

/// Checks one request against one limit whose stored TAT is `tat` (0: never used).
pub fn check(limit: &Gcra, tat: u64, now: u64) -> Verdict {
    let start = tat.max(now);
    let next = start.saturating_add(limit.emission);
    let ahead = next - now;
    if ahead > limit.capacity {
        return Verdict::Deny {
            retry_after: ahead - limit.capacity,
        };
    }
    Verdict::Admit {
        tat: next,
        remaining: (limit.capacity - ahead) / limit.emission,
        reset: ahead,
    }
}

/// The outcome of every limit of one bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// All limits admit: the TATs to store, and the most restrictive limit's index,
    /// remaining count and reset.
    Admit {
        tats: Vec<u64>,
        tightest: usize,
        remaining: u64,
        reset: u64,
    },
    /// At least one refuses: the limit that refuses longest and when to retry. Nothing
    /// changes: a refused request costs no budget.
    Deny { limit: usize, retry_after: u64 },
}

/// Checks one request against all `limits` of a bucket at once: it passes only if
/// every limit admits it, and then every TAT moves. `tats` shorter than `limits` (a
/// fresh bucket) count as 0.
pub fn check_all(limits: &[Gcra], tats: &[u64], now: u64) -> Outcome {
    let mut admitted = Vec::with_capacity(limits.len());
    let mut tightest = (0, u64::MAX, 0);
    let mut refused: Option<(usize, u64)> = None;
    for (i, limit) in limits.iter().enumerate() {
        let tat = tats.get(i).copied().unwrap_or(0);
        match check(limit, tat, now) {
            Verdict::Admit {
                tat,
                remaining,
                reset,
            } => {
                admitted.push(tat);
                if remaining < tightest.1 {
                    tightest = (i, remaining, reset);
                }
            }
            Verdict::Deny { retry_after } => {
                if refused.is_none_or(|(_, r)| retry_after > r) {
                    refused = Some((i, retry_after));
                }
            }
        }
    }
    match refused {
        Some((limit, retry_after)) => Outcome::Deny { limit, retry_after },
        None => Outcome::Admit {
            tats: admitted,
            tightest: tightest.0,
            remaining: if tightest.1 == u64::MAX {
                0
            } else {
                tightest.1
            },
            reset: tightest.2,
        },
    }
}

/// Whether a bucket with these TATs is indistinguishable from a fresh one at `now`
/// (every limit refilled), so its slot may be given to another key.
pub fn idle(tats: &[u64], now: u64) -> bool {
    tats.iter().all(|t| *t <= now)
}

#[cfg(test)]
#[path = "gcra_tests.rs"]
mod tests;
