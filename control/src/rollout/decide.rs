//! A rollout's next step, as a plain function of what is known: the policy, when the
//! candidate started baking, what each canary runs or refused, and each canary's error
//! rate before and since.

use serde::Serialize;

use super::Policy;
use crate::fleet::Gateway;
use crate::signals::Window;

/// One canary's error signal.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Signal {
    /// Its errors per request in the bake time before the rollout began.
    pub before: Option<Window>,
    /// Since it began.
    pub since: Option<Window>,
}

/// What to do.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// Keep baking; why, for the progress line.
    Wait {
        waiting_for: String,
    },
    Promote,
    RollBack {
        reason: String,
    },
}

/// Decides for `candidate`, baking since `started` (Unix seconds), at `now`.
/// `canaries` pairs each canary id with its fleet record (if it ever reported) and its
/// signal.
pub fn decide(
    policy: &Policy,
    filter: &str,
    candidate: u64,
    started: u64,
    now: u64,
    canaries: &[(&str, Option<&Gateway>, Signal)],
) -> Decision {
    // A refusal ends it at once.
    for (id, record, _) in canaries {
        let refused = record
            .and_then(|g| g.filters.get(filter))
            .and_then(|f| f.error.as_ref())
            .filter(|e| e.revision == Some(candidate));
        if let Some(e) = refused {
            return Decision::RollBack {
                reason: format!("canary {id} refused revision {candidate}: {}", e.detail),
            };
        }
    }
    // So does an error rate that rose past the policy's margin on enough requests.
    for (id, _, signal) in canaries {
        let Some(since) = signal.since else { continue };
        if since.requests < f64::from(policy.min_requests) {
            continue;
        }
        let before = signal.before.map_or(0.0, |w| w.rate());
        if since.rate() > before + policy.max_error_rise {
            return Decision::RollBack {
                reason: format!(
                    "canary {id}: errors rose from {:.1}% to {:.1}% of {} requests (allowed: +{:.1} points)",
                    before * 100.0,
                    since.rate() * 100.0,
                    since.requests,
                    policy.max_error_rise * 100.0
                ),
            };
        }
    }
    let pending: Vec<&str> = canaries
        .iter()
        .filter(|(_, record, _)| {
            record
                .and_then(|g| g.filters.get(filter))
                .and_then(|f| f.revision)
                != Some(candidate)
        })
        .map(|(id, _, _)| *id)
        .collect();
    if !pending.is_empty() {
        return Decision::Wait {
            waiting_for: format!(
                "canaries to apply revision {candidate}: {}",
                pending.join(", ")
            ),
        };
    }
    let baked = now.saturating_sub(started);
    if baked < policy.bake_seconds {
        return Decision::Wait {
            waiting_for: format!("bake time: {baked} of {} s", policy.bake_seconds),
        };
    }
    let quiet: Vec<&str> = canaries
        .iter()
        .filter(|(_, _, s)| {
            s.since
                .is_none_or(|w| w.requests < f64::from(policy.min_requests))
        })
        .map(|(id, _, _)| *id)
        .collect();
    if policy.require_traffic && !quiet.is_empty() {
        return Decision::Wait {
            waiting_for: format!(
                "{} requests on each canary: {}",
                policy.min_requests,
                quiet.join(", ")
            ),
        };
    }
    Decision::Promote
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
