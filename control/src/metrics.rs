//! Prometheus metrics in the text exposition format: requests by route, method and
//! status, with their total time, and writes by outcome. Labels are route templates,
//! never paths or tokens, so nothing secret or unbounded reaches them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// (route template, method, status) → (count, seconds).
type RequestTable = BTreeMap<(String, String, u16), (u64, f64)>;

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<RequestTable>,
    events: Mutex<BTreeMap<(String, String), u64>>,
}

impl Metrics {
    pub fn request(&self, route: &str, method: &str, status: u16, took: Duration) {
        if let Ok(mut m) = self.requests.lock() {
            let e = m
                .entry((route.to_string(), method.to_string(), status))
                .or_default();
            e.0 += 1;
            e.1 += took.as_secs_f64();
        }
    }

    /// An audited event: `action` and its outcome (`applied`, `denied`, …).
    pub fn event(&self, action: &str, outcome: &str) {
        if let Ok(mut m) = self.events.lock() {
            *m.entry((action.to_string(), outcome.to_string()))
                .or_default() += 1;
        }
    }

    pub fn render(&self, backend: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP tollgate_control_requests_total HTTP requests by route template, method and status."
        );
        let _ = writeln!(out, "# TYPE tollgate_control_requests_total counter");
        let requests = self.requests.lock().map(|m| m.clone()).unwrap_or_default();
        for ((route, method, status), (n, _)) in &requests {
            let _ = writeln!(
                out,
                "tollgate_control_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP tollgate_control_request_seconds_total Time spent answering, by route template, method and status."
        );
        let _ = writeln!(out, "# TYPE tollgate_control_request_seconds_total counter");
        for ((route, method, status), (_, s)) in &requests {
            let _ = writeln!(
                out,
                "tollgate_control_request_seconds_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {s}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP tollgate_control_events_total Audited events by action and outcome."
        );
        let _ = writeln!(out, "# TYPE tollgate_control_events_total counter");
        let events = self.events.lock().map(|m| m.clone()).unwrap_or_default();
        for ((action, outcome), n) in &events {
            let _ = writeln!(
                out,
                "tollgate_control_events_total{{action=\"{action}\",outcome=\"{outcome}\"}} {n}"
            );
        }
        let _ = writeln!(out, "# HELP tollgate_control_info The storage backend.");
        let _ = writeln!(out, "# TYPE tollgate_control_info gauge");
        let _ = writeln!(out, "tollgate_control_info{{backend=\"{backend}\"}} 1");
        out
    }
}
