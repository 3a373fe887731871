//! The headers that tell a client its limits: `Retry-After` (RFC 9110), the IETF
//! `RateLimit-Policy` and `RateLimit` fields (draft-ietf-httpapi-ratelimit-headers-10:
//! `"name";q=<quota>;w=<window s>` and `"name";r=<remaining>;t=<reset s>`), and the
//! older `X-RateLimit-*` trio on request.

use crate::config::ResponseConfig;
use crate::decide::Report;

const SECOND: u64 = 1_000_000_000;

/// Whole seconds, rounded up: a client that waits this long is never early.
pub fn seconds_up(ns: u64) -> u64 {
    ns.div_ceil(SECOND)
}

/// Headers for `report`; `refused` adds `Retry-After` (at least 1 s).
pub fn for_report(
    report: &Report,
    response: &ResponseConfig,
    refused: bool,
) -> Vec<(String, String)> {
    let mut out = Vec::with_capacity(6);
    let reset = seconds_up(report.reset);
    if refused {
        out.push(("retry-after".into(), reset.max(1).to_string()));
    }
    if response.ratelimit_headers {
        out.push((
            "ratelimit-policy".into(),
            format!(
                "\"{}\";q={};w={}",
                report.policy,
                report.gcra.requests,
                seconds_up(report.gcra.period).max(1)
            ),
        ));
        out.push((
            "ratelimit".into(),
            format!("\"{}\";r={};t={}", report.policy, report.remaining, reset),
        ));
    }
    if response.x_ratelimit_headers {
        out.push(("x-ratelimit-limit".into(), report.gcra.requests.to_string()));
        out.push(("x-ratelimit-remaining".into(), report.remaining.to_string()));
        out.push(("x-ratelimit-reset".into(), reset.to_string()));
    }
    out
}

#[cfg(test)]
#[path = "headers_tests.rs"]
mod tests;
