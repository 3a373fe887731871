//! Request sequences through `decide` (`tests/cases/decide/*.yaml`): each case runs its
//! steps in order against one fresh store, at the times given, feeding the origin's
//! answers, and checks what the cache did at every step.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Value, json};
use tollgate_cases::Case;
use tollgate_kit::slots::MemorySlots;
use tollgate_kit::{HostFacts, HostKind};
use tollgate_response_cache::config;
use tollgate_response_cache::decide::{self, Event, Origin, Plan, Reply, Request, Write};
use tollgate_response_cache::store::Store;

/// 2023-11-14T22:13:20Z, in seconds.
const T0: u64 = 1_700_000_000;
const NANOS: u64 = 1_000_000_000;

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
    /// `envoy` (revalidates from the response phase) or `kong`. Default: `envoy`.
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
    /// Seconds after the start.
    #[serde(default)]
    at: u64,
    #[serde(default = "get")]
    method: String,
    path: String,
    #[serde(default = "authority")]
    authority: String,
    /// A demo user (`alice`, `bob` of tenant acme; `carol` of globex), sent as
    /// jwt-auth's payload header; `roles` is `administrator` for alice and carol.
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    /// The request body (a POST read's). Default: empty.
    #[serde(default)]
    body_sent: String,
    /// What the cache does: `HIT`, `STALE` (served), `MISS`, `REVALIDATE` (upstream),
    /// `BYPASS`, `WRITE`, `PURGED`, `FORBIDDEN`, `GATEWAY_TIMEOUT` (504 from the cache).
    expect: String,
    /// For a served reply: its status, `Age`, body, and headers it must have.
    #[serde(default)]
    status: Option<u16>,
    #[serde(default)]
    age: Option<u64>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    has: BTreeMap<String, String>,
    #[serde(default)]
    lacks: Vec<String>,
    /// For `REVALIDATE`: the validators sent upstream.
    #[serde(default)]
    sent: BTreeMap<String, String>,
    /// The origin's answer to `MISS`, `REVALIDATE` and `WRITE`. Default: 200, no body.
    #[serde(default)]
    origin: Option<OriginSpec>,
    /// After the origin answered a `REVALIDATE`: `HIT` (a 304 refreshed and served
    /// the entry), `STALE` (it stood in for an error) or `PASS`.
    #[serde(default)]
    then: Option<String>,
    /// Whether the origin's answer was stored, or why not (`no_store`, …).
    #[serde(default)]
    stored: Option<bool>,
    #[serde(default)]
    not_stored: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OriginSpec {
    #[serde(default = "ok")]
    status: u16,
    #[serde(default)]
    headers: Vec<(String, String)>,
    #[serde(default)]
    body: String,
    /// Seconds the origin takes.
    #[serde(default)]
    after: u64,
}

fn get() -> String {
    "GET".into()
}
fn authority() -> String {
    "acme.hcp.example.com".into()
}
fn ok() -> u16 {
    200
}

fn claims(user: &str) -> Value {
    let (tenant, roles) = match user {
        "alice" => ("acme", vec!["administrator", "monitor"]),
        "bob" => ("acme", vec!["monitor"]),
        "carol" => ("globex", vec!["administrator", "monitor"]),
        other => (other, vec![]),
    };
    json!({"iss": "https://idp.example.com", "sub": user, "tenant": tenant, "roles": roles})
}

struct Tables {
    meta: MemorySlots,
    body: MemorySlots,
    marks: MemorySlots,
    account: MemorySlots,
}

fn run_case(file: &CaseFile, case: &SequenceCase) -> Vec<String> {
    let mut config = file.config.clone();
    if let (Some(over), Some(base)) = (&case.config, config.as_object_mut()) {
        for (k, v) in over {
            base.insert(k.clone(), v.clone());
        }
    }
    let facts = match case.host.as_deref() {
        None | Some("envoy") => HostFacts::of(HostKind::Envoy),
        Some("kong") => HostFacts::of(HostKind::Kong),
        Some(other) => return vec![format!("unknown host {other}")],
    };
    let c = match config::load(config.to_string().as_bytes(), facts) {
        Ok(c) => c,
        Err(e) => return vec![format!("config refused: {e}")],
    };
    let s = &c.storage;
    let t = Tables {
        meta: MemorySlots::new(s.max_entries),
        body: MemorySlots::new(s.max_entries),
        marks: MemorySlots::new(s.invalidation_marks),
        account: MemorySlots::new(1),
    };
    let store = Store {
        meta: &t.meta,
        body: &t.body,
        marks: &t.marks,
        account: &t.account,
        entries: s.max_entries,
        mark_slots: s.invalidation_marks,
        max_bytes: s.max_bytes,
    };
    let mut problems = Vec::new();
    for (i, step) in case.steps.iter().enumerate() {
        for p in run_step(&c, &store, step) {
            problems.push(format!("step {i} ({} {}): {p}", step.method, step.path));
        }
    }
    problems
}

fn check_reply(step: &Step, reply: &Reply, problems: &mut Vec<String>) {
    let header = |name: &str| {
        reply
            .headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if let Some(s) = step.status
        && s != reply.status
    {
        problems.push(format!("status {} (expected {s})", reply.status));
    }
    if let Some(a) = step.age
        && header("age") != Some(a.to_string().as_str())
    {
        problems.push(format!("age {:?} (expected {a})", header("age")));
    }
    if let Some(b) = &step.body
        && reply.body != b.as_bytes()
    {
        problems.push(format!("body {:?}", String::from_utf8_lossy(&reply.body)));
    }
    for (k, v) in &step.has {
        if header(k) != Some(v.as_str()) {
            problems.push(format!("header {k}: {:?} (expected {v:?})", header(k)));
        }
    }
    for k in &step.lacks {
        if header(k).is_some() {
            problems.push(format!("has header {k}"));
        }
    }
}

fn run_step(c: &config::Compiled, store: &Store<'_>, step: &Step) -> Vec<String> {
    let mut problems = Vec::new();
    let mut headers: Vec<(String, String)> = vec![
        (":method".into(), step.method.clone()),
        (":path".into(), step.path.clone()),
        (":authority".into(), step.authority.clone()),
    ];
    if let Some(u) = &step.user {
        headers.push((
            c.identity.claims_header.clone(),
            URL_SAFE_NO_PAD.encode(claims(u).to_string()),
        ));
    }
    headers.extend(step.headers.iter().map(|(k, v)| (k.clone(), v.clone())));
    let now_ns = (T0 + step.at) * NANOS;
    let req = Request {
        headers: &headers,
        credentials: None,
        now_ns,
        body: Some(step.body_sent.as_bytes()),
    };
    let mut events = Vec::new();
    let origin_spec = step.origin.as_ref();
    let origin_headers: Vec<(String, String)> = origin_spec
        .map(|o| {
            let mut h = vec![(":status".to_string(), o.status.to_string())];
            h.extend(
                o.headers
                    .iter()
                    .map(|(k, v)| (k.to_ascii_lowercase(), v.clone())),
            );
            h
        })
        .unwrap_or_else(|| vec![(":status".into(), "200".into())]);
    let origin = Origin {
        status: origin_spec.map_or(200, |o| o.status),
        headers: &origin_headers,
        body: origin_spec.map_or(&b""[..], |o| o.body.as_bytes()),
        now_ns: (T0 + step.at + origin_spec.map_or(0, |o| o.after)) * NANOS,
    };
    if let Some(outcome) = decide::purge(c, &req) {
        let got = match outcome {
            Ok(scope) => {
                decide::mark(store, &[scope], now_ns, &mut events);
                "PURGED"
            }
            Err(()) => "FORBIDDEN",
        };
        if got != step.expect {
            problems.push(format!("{got} (expected {})", step.expect));
        }
        return problems;
    }
    let plan = match decide::request(c, store, &req, &mut events) {
        Ok(p) => p,
        Err(e) => return vec![format!("store error {e}")],
    };
    let got = match &plan {
        Plan::Bypass(_) => "BYPASS".to_string(),
        Plan::Serve(r) if r.status == 504 => "GATEWAY_TIMEOUT".into(),
        Plan::Serve(r) => r
            .headers
            .iter()
            .find(|(k, _)| k == "x-cache")
            .map_or("?".into(), |(_, v)| v.clone()),
        Plan::Fetch(f) if f.revalidating.is_some() => "REVALIDATE".into(),
        Plan::Fetch(_) => "MISS".into(),
        Plan::Write { .. } => "WRITE".into(),
    };
    if got != step.expect {
        problems.push(format!("{got} (expected {})", step.expect));
        return problems;
    }
    match plan {
        Plan::Serve(reply) => check_reply(step, &reply, &mut problems),
        Plan::Fetch(fetch) => {
            for (k, v) in &step.sent {
                if !fetch.conditional.iter().any(|(n, x)| n == k && x == v) {
                    problems.push(format!("sent {:?}, not {k}: {v}", fetch.conditional));
                }
            }
            let mut then = "PASS";
            if fetch.revalidating.is_some() {
                let replaced = if origin.status == 304 {
                    decide::refreshed(c, store, &fetch, &origin, &headers, &mut events)
                } else {
                    decide::stands_in_for_error(&fetch, origin.status, origin.now_ns, &headers)
                };
                if let Some(reply) = replaced {
                    then = if reply
                        .headers
                        .iter()
                        .any(|(k, v)| k == "x-cache" && v == "STALE")
                    {
                        "STALE"
                    } else {
                        "HIT"
                    };
                    check_reply(step, &reply, &mut problems);
                }
            }
            if then == "PASS" {
                match decide::may_store(c, &fetch, origin.status, origin.headers, origin.now_ns) {
                    Ok(()) => {
                        decide::store_response(c, store, &fetch, &origin, &headers, &mut events);
                    }
                    Err(why) => events.push(Event::NotStored(why.name())),
                }
            }
            if let Some(expected) = &step.then
                && expected != then
            {
                problems.push(format!("then {then} (expected {expected})"));
            }
        }
        Plan::Write { authority, path } => {
            let write = Write {
                method: &step.method,
                authority: &authority,
                path: &path,
                status: origin.status,
                headers: origin.headers,
                now_ns: origin.now_ns,
            };
            decide::written(c, store, &write, &mut events);
        }
        Plan::Bypass(_) => {}
    }
    let stored = events.contains(&Event::Stored);
    if let Some(s) = step.stored
        && s != stored
    {
        problems.push(format!("stored {stored} (expected {s}); events {events:?}"));
    }
    if let Some(why) = &step.not_stored {
        let found = events
            .iter()
            .any(|e| matches!(e, Event::NotStored(w) if w == why));
        if !found {
            problems.push(format!("not stored for {why} expected; events {events:?}"));
        }
    }
    problems
}

fn sequences(path: &Path) {
    let file: CaseFile = tollgate_cases::load(path);
    tollgate_cases::run(path, &file.cases, |case| run_case(&file, case));
}

tollgate_cases::case_files!(
    dir: "tests/cases/decide",
    run: sequences,
    files: [freshness, requests, validation, identity, invalidation, storing, queries]
);
