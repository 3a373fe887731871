//! Request sequences through `decide` (`tests/cases/decide/*.yaml`): each case runs its
//! steps in order against one fresh table, at the times given, and checks every
//! step's verdict. Fields are described on the types below.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::Value;
use tollgate_cases::Case;
use tollgate_kit::slots::MemorySlots;
use tollgate_kit::{HostFacts, HostKind};
use tollgate_rate_limit::config::{self, Mode};
use tollgate_rate_limit::decide::{Request, Verdict, decide};
use tollgate_rate_limit::headers;

/// 2023-11-14T22:13:20Z, in nanoseconds.
const T0: u64 = 1_700_000_000_000_000_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    /// The config every case starts from.
    config: Value,
    cases: Vec<SequenceCase>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SequenceCase {
    name: String,
    /// Top-level fields replacing the file's config's.
    #[serde(default)]
    config: Option<serde_json::Map<String, Value>>,
    /// `envoy` (shared table) or `apisix` (per-worker shares). Default: `envoy`.
    #[serde(default)]
    host: Option<String>,
    steps: Vec<Step>,
}

impl Case for SequenceCase {
    fn name(&self) -> &str {
        &self.name
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Step {
    /// Milliseconds after the start.
    #[serde(default)]
    at_ms: u64,
    #[serde(default = "get")]
    method: String,
    #[serde(default = "root")]
    path: String,
    #[serde(default)]
    headers: Vec<(String, String)>,
    /// Verified claims, sent as jwt-auth's payload header.
    #[serde(default)]
    claims: Option<Value>,
    /// The connection's peer.
    #[serde(default)]
    peer: Option<String>,
    /// Sends the same request this many times, each with the same expectation.
    #[serde(default = "one")]
    repeat: u32,
    expect: Expect,
}

fn get() -> String {
    "GET".into()
}
fn root() -> String {
    "/".into()
}
fn one() -> u32 {
    1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    /// `pass`, `limited`, `unavailable` or `bad_path`.
    verdict: String,
    /// The refusing rule (`limited`).
    #[serde(default)]
    rule: Option<String>,
    /// Headers that must be on the response (a refusal's, or an admitted one's).
    #[serde(default)]
    headers: Vec<(String, String)>,
    /// `rule.event` names that must be among the step's events (`per-user.exempt`).
    #[serde(default)]
    events: Vec<String>,
}

fn check_case(case: &SequenceCase, base: &Value) -> Vec<String> {
    let mut config = base.clone();
    if let (Some(Value::Object(c)), Some(over)) = (Some(&mut config), &case.config) {
        c.extend(over.clone());
    }
    let kind = match case.host.as_deref() {
        None | Some("envoy") => HostKind::Envoy,
        Some("apisix") => HostKind::Apisix,
        Some(other) => return vec![format!("unknown host {other}")],
    };
    let compiled = match config::load(config.to_string().as_bytes(), HostFacts::of(kind)) {
        Ok(c) => c,
        Err(e) => return vec![format!("config refused: {e}")],
    };
    let mode: Mode = compiled.mode;
    let store = MemorySlots::new(compiled.max_keys);
    let mut problems = Vec::new();
    for (i, step) in case.steps.iter().enumerate() {
        let mut hs: Vec<(String, String)> = vec![
            (":method".into(), step.method.clone()),
            (":path".into(), step.path.clone()),
            (":authority".into(), "api.example.com".into()),
        ];
        hs.extend(step.headers.iter().cloned());
        if let Some(claims) = &step.claims {
            hs.push((
                compiled.claims_header.clone(),
                URL_SAFE_NO_PAD.encode(claims.to_string()),
            ));
        }
        for n in 0..step.repeat {
            let request = Request {
                headers: &hs,
                peer: step.peer.as_deref(),
                now: T0 + step.at_ms * 1_000_000,
            };
            let d = decide(&compiled, mode, &store, (7, 11), &request);
            let (verdict, rule, got_headers) = match &d.verdict {
                Verdict::Pass(r) => (
                    "pass",
                    None,
                    r.as_ref()
                        .map(|r| headers::for_report(r, &compiled.response, false))
                        .unwrap_or_default(),
                ),
                Verdict::Limited { rule, report } => (
                    "limited",
                    Some(rule.clone()),
                    headers::for_report(report, &compiled.response, true),
                ),
                Verdict::Unavailable => ("unavailable", None, Vec::new()),
                Verdict::BadPath(_) => ("bad_path", None, Vec::new()),
            };
            let at = format!("step {i} (request {n})");
            if verdict != step.expect.verdict {
                problems.push(format!("{at}: {verdict}, expected {}", step.expect.verdict));
            }
            if step.expect.rule.is_some() && rule != step.expect.rule {
                problems.push(format!(
                    "{at}: rule {rule:?}, expected {:?}",
                    step.expect.rule
                ));
            }
            for (k, v) in &step.expect.headers {
                if !got_headers.iter().any(|(gk, gv)| gk == k && gv == v) {
                    problems.push(format!("{at}: no `{k}: {v}` in {got_headers:?}"));
                }
            }
            let events: Vec<String> = d
                .events
                .iter()
                .map(|(r, e)| format!("{}.{}", compiled.rules[*r].name, e.name()))
                .collect();
            for e in &step.expect.events {
                if !events.contains(e) {
                    problems.push(format!("{at}: no event {e} in {events:?}"));
                }
            }
        }
    }
    problems
}

fn decide_file(path: &Path) {
    let file: CaseFile = tollgate_cases::load(path);
    tollgate_cases::run(path, &file.cases, |c| check_case(c, &file.config));
}

tollgate_cases::case_files!(dir: "tests/cases/decide", run: decide_file, files: [limits, keys, callers, hosts]);
