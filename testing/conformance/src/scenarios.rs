//! What each scenario does in `on_request_headers`, and the callout handling.

use std::time::{Duration, UNIX_EPOCH};

use serde_json::{Value, json};
use tollgate_kit::host::{GrpcCall, HttpCall, LocalReply, Pairs};
use tollgate_kit::{BufferKind, HeadersAction, Host, LogLevel, MapKind, MetricKind, StreamKind};

use crate::introspect;
use crate::observe::{self, Record};
use crate::root::{ConformanceConfig, QUEUE_NAME};
use crate::stream::reply;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scenario {
    /// Not a conformance path: pass through untouched.
    Pass,
    Headers,
    Body,
    /// Grows the request body by one byte passing the old size (truncated on Kong).
    BodyGrow,
    /// The same through `replace_body` (right on every host).
    BodyGrowSafe,
    /// Opts in to body callbacks the APISIX way, then rewrites the body.
    BodyOptIn,
    Local,
    Callout,
    CalloutTimeout,
    Properties,
    Shared,
    Queue,
    Metrics,
    Misc,
    Grpc,
    Trap,
    /// The host facts the kit relies on (`tollgate_kit::facts`), returned in a response
    /// header: it needs no shared data, so it works on every host.
    Facts,
    /// Held until the root answers it from its tick (needs `root_reply` configured).
    RootReply,
    Report(String),
}

impl Scenario {
    pub fn from_path(path: &str) -> Self {
        let path = path.split('?').next().unwrap_or_default();
        let Some(rest) = path.strip_prefix("/conformance/") else {
            return Self::Pass;
        };
        if let Some(id) = rest.strip_prefix("report/") {
            return Self::Report(id.to_string());
        }
        match rest {
            "headers" => Self::Headers,
            "body" => Self::Body,
            "body-grow" => Self::BodyGrow,
            "body-grow-safe" => Self::BodyGrowSafe,
            "body-opt-in" => Self::BodyOptIn,
            "local" => Self::Local,
            "callout" => Self::Callout,
            "callout-timeout" => Self::CalloutTimeout,
            "properties" => Self::Properties,
            "shared" => Self::Shared,
            "queue" => Self::Queue,
            "metrics" => Self::Metrics,
            "misc" => Self::Misc,
            "grpc" => Self::Grpc,
            "trap" => Self::Trap,
            "facts" => Self::Facts,
            "root-reply" => Self::RootReply,
            _ => Self::Pass,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Headers => "headers",
            Self::Body => "body",
            Self::BodyGrow => "body-grow",
            Self::BodyGrowSafe => "body-grow-safe",
            Self::BodyOptIn => "body-opt-in",
            Self::Local => "local",
            Self::Callout => "callout",
            Self::CalloutTimeout => "callout-timeout",
            Self::Properties => "properties",
            Self::Shared => "shared",
            Self::Queue => "queue",
            Self::Metrics => "metrics",
            Self::Misc => "misc",
            Self::Grpc => "grpc",
            Self::Trap => "trap",
            Self::Facts => "facts",
            Self::RootReply => "root-reply",
            Self::Report(_) => "report",
        }
    }
}

pub fn report(host: &dyn Host, id: &str) -> HeadersAction {
    match observe::load(host, id) {
        Ok(Some(bytes)) => reply(host, 200, &bytes),
        Ok(None) => reply(host, 404, br#"{"error":"no such record"}"#),
        Err(e) => reply(host, 501, format!(r#"{{"error":"{e}"}}"#).as_bytes()),
    }
}

/// Decodes Envoy's 8-byte little-endian integer attribute encoding.
pub fn int_value(bytes: &[u8]) -> Value {
    match <[u8; 8]>::try_from(bytes) {
        Ok(raw) => json!(i64::from_le_bytes(raw)),
        Err(_) => observe::shape(bytes),
    }
}

pub fn on_request_headers(
    scenario: &Scenario,
    host: &dyn Host,
    record: &mut Record,
    pairs: &Pairs,
    config: &ConformanceConfig,
    context_id: u32,
) -> HeadersAction {
    match scenario {
        Scenario::Pass
        | Scenario::Report(_)
        | Scenario::Body
        | Scenario::Facts
        | Scenario::RootReply => HeadersAction::Continue,
        Scenario::BodyGrow | Scenario::BodyGrowSafe => {
            // The body will change length: a stale content-length would truncate it.
            let removed = host.remove_header(MapKind::RequestHeaders, "content-length");
            record.event(
                "drop_content_length",
                json!({ "status": observe::status(&removed) }),
            );
            HeadersAction::Continue
        }
        Scenario::BodyOptIn => {
            let req = host.set_property(&["wasm_process_req_body"], b"true");
            record.event("opt_in", json!({ "set_property": observe::status(&req) }));
            HeadersAction::Continue
        }
        Scenario::Headers => headers(host, record, pairs),
        Scenario::Local => local(host, record),
        Scenario::Callout => callout(
            host,
            record,
            config,
            "/callout-target",
            Duration::from_secs(5),
        ),
        Scenario::CalloutTimeout => {
            callout(host, record, config, "/slow", Duration::from_millis(100))
        }
        Scenario::Properties => properties(host, record),
        Scenario::Shared => shared(host, record),
        Scenario::Queue => queue(host, record),
        Scenario::Metrics => metrics(host, record),
        Scenario::Misc => misc(host, record, context_id),
        Scenario::Grpc => grpc(host, record, config),
        Scenario::Trap => trap(),
    }
}

fn sorted_names(pairs: &Pairs) -> Vec<String> {
    let mut names: Vec<String> = pairs.iter().map(|(n, _)| n.clone()).collect();
    names.sort_unstable();
    names
}

fn headers(host: &dyn Host, record: &mut Record, pairs: &Pairs) -> HeadersAction {
    const REQ: MapKind = MapKind::RequestHeaders;
    let probe = host.header(REQ, "x-probe");
    let multi = host.header(REQ, "x-multi");
    let missing = host.header(REQ, "x-not-there");
    let upper = host.header(REQ, "X-Probe");
    let size = introspect::header_map_size(host, REQ);
    record.event(
        "read",
        json!({
            "names": sorted_names(pairs),
            "x-probe": probe.unwrap_or_default(),
            "x-multi": multi.unwrap_or_default(),
            "missing": missing.unwrap_or_default(),
            "mixed_case_lookup": upper.unwrap_or_default(),
            "size_positive": size.map(|s| s > 0).unwrap_or(false),
        }),
    );
    let add1 = host.add_header(REQ, "x-added", "one");
    let add2 = host.add_header(REQ, "x-added", "two");
    let replace = host.replace_header(REQ, "x-probe", "replaced");
    let replace_new = host.replace_header(REQ, "x-replaced-new", "fresh");
    let remove = host.remove_header(REQ, "x-remove-me");
    let remove_missing = host.remove_header(REQ, "x-never-there");
    let after = host.header_pairs(REQ).unwrap_or_default();
    record.event(
        "write",
        json!({
            "add": [observe::status(&add1), observe::status(&add2)],
            "replace": observe::status(&replace),
            "replace_new": observe::status(&replace_new),
            "remove": observe::status(&remove),
            "remove_missing": observe::status(&remove_missing),
            "names_after": sorted_names(&after),
            "x-added_after": host.header(REQ, "x-added").unwrap_or_default(),
        }),
    );
    HeadersAction::Continue
}

fn local(host: &dyn Host, record: &mut Record) -> HeadersAction {
    let sent = host.send_local_response(&LocalReply {
        status: 403,
        details: "conformance_denied",
        headers: &[("x-local", "yes"), ("content-type", "text/plain")],
        body: b"denied by conformance",
        grpc_status: None,
    });
    record.event("local_reply", json!({ "status": observe::status(&sent) }));
    HeadersAction::StopIteration
}

fn callout(
    host: &dyn Host,
    record: &mut Record,
    config: &ConformanceConfig,
    path: &str,
    timeout: Duration,
) -> HeadersAction {
    let headers = [
        (":method", "GET"),
        (":path", path),
        (":authority", "conformance-callout"),
        ("x-from", "conformance"),
    ];
    let call = HttpCall {
        upstream: &config.callout_cluster,
        headers: &headers,
        body: None,
        trailers: &[],
        timeout,
    };
    let token = host.http_call(&call);
    let unknown = host.http_call(&HttpCall {
        upstream: "no-such-cluster",
        ..call
    });
    let no_path = host.http_call(&HttpCall {
        headers: &[(":method", "GET")],
        ..call
    });
    record.event(
        "dispatch",
        json!({
            "status": observe::status(&token),
            "token_positive": token.as_ref().map(|t| *t > 0).unwrap_or(false),
            "unknown_cluster": observe::status(&unknown),
            "missing_path": observe::status(&no_path),
        }),
    );
    if token.is_ok() {
        HeadersAction::StopIteration
    } else {
        HeadersAction::Continue
    }
}

pub fn on_http_call_response(
    host: &dyn Host,
    record: &mut Record,
    num_headers: usize,
    body_size: usize,
    num_trailers: usize,
) {
    let headers = host
        .header_pairs(MapKind::HttpCallResponseHeaders)
        .unwrap_or_default();
    let status = headers
        .iter()
        .find(|(n, _)| n == ":status")
        .map(|(_, v)| v.clone());
    let body = host.buffer(BufferKind::HttpCallResponseBody, 0, body_size);
    let echoed_path = body
        .as_ref()
        .ok()
        .and_then(|b| b.as_ref())
        .and_then(|b| serde_json::from_slice::<Value>(b).ok())
        .and_then(|v| v.get("path").cloned());
    record.event(
        "http_call_response",
        json!({
            "headers_present": num_headers > 0,
            "body_present": body_size > 0,
            "num_trailers": num_trailers,
            "status": status,
            "echoed_path": echoed_path,
        }),
    );
    let code = status.unwrap_or_else(|| "failed".into());
    let add = host.add_header(MapKind::RequestHeaders, "x-callout-status", &code);
    let resume = host.continue_stream(StreamKind::Request);
    record.event(
        "resume",
        json!({ "add_header": observe::status(&add), "continue_stream": observe::status(&resume) }),
    );
}

/// Attributes whose values are the same in every run.
const STABLE: &[&[&str]] = &[
    &["request", "path"],
    &["request", "url_path"],
    &["request", "host"],
    &["request", "scheme"],
    &["request", "method"],
    &["request", "protocol"],
    &["request", "query"],
    &["request", "useragent"],
    &["request", "referer"],
    &["request", "headers", "x-probe"],
    &["plugin_name"],
    &["plugin_root_id"],
    &["plugin_vm_id"],
    &["listener_direction"],
    &["no", "such", "attribute"],
];

/// Attributes whose values differ per run: recorded by size.
const VARYING: &[&[&str]] = &[
    &["request", "time"],
    &["request", "id"],
    &["request", "size"],
    &["source", "address"],
    &["source", "port"],
    &["destination", "address"],
    &["destination", "port"],
    &["connection", "id"],
    &["connection", "mtls"],
];

fn properties(host: &dyn Host, record: &mut Record) -> HeadersAction {
    let mut stable = serde_json::Map::new();
    for path in STABLE {
        let value = match host.property(path) {
            Ok(Some(bytes)) if path == &["listener_direction"] => int_value(&bytes),
            Ok(Some(bytes)) => observe::text(&bytes),
            Ok(None) => json!("NotFound"),
            Err(e) => json!(e.status.name()),
        };
        stable.insert(path.join("."), value);
    }
    let mut varying = serde_json::Map::new();
    for path in VARYING {
        let value = match host.property(path) {
            Ok(Some(bytes)) => observe::shape(&bytes),
            Ok(None) => json!("NotFound"),
            Err(e) => json!(e.status.name()),
        };
        varying.insert(path.join("."), value);
    }
    let port = host
        .property(&["destination", "port"])
        .ok()
        .flatten()
        .map(|b| int_value(&b));
    let port_is_int = port.as_ref().is_some_and(Value::is_i64);
    record.event(
        "properties",
        json!({ "stable": stable, "varying": varying, "destination.port_is_int": port_is_int }),
    );
    HeadersAction::Continue
}

fn shared(host: &dyn Host, record: &mut Record) -> HeadersAction {
    let key = format!("tollgate.conformance.shared/{}", record.id);
    let before = host.shared_data(&key);
    let set1 = host.set_shared_data(&key, Some(b"v1"), None);
    let got1 = host.shared_data(&key);
    let cas1 = got1.as_ref().ok().and_then(|v| v.cas);
    let set2 = host.set_shared_data(&key, Some(b"v2"), cas1);
    let stale = host.set_shared_data(&key, Some(b"v3"), cas1);
    let got2 = host.shared_data(&key);
    let cas2 = got2.as_ref().ok().and_then(|v| v.cas);
    record.event(
        "shared",
        json!({
            "get_missing": before.as_ref().map(|v| v.value.is_some()).map_err(|e| e.status.name()),
            "set": observe::status(&set1),
            "get_value": got1.as_ref().ok().and_then(|v| v.value.as_deref().map(observe::text)),
            "cas_present": cas1.is_some(),
            "set_with_cas": observe::status(&set2),
            "set_with_stale_cas": observe::status(&stale),
            "value_after": got2.as_ref().ok().and_then(|v| v.value.as_deref().map(observe::text)),
            "cas_changed": cas1 != cas2,
        }),
    );
    HeadersAction::Continue
}

fn queue(host: &dyn Host, record: &mut Record) -> HeadersAction {
    let vm_id = host
        .property(&["plugin_vm_id"])
        .ok()
        .flatten()
        .unwrap_or_default();
    let vm_id = String::from_utf8_lossy(&vm_id).into_owned();
    let resolved = host.resolve_queue(&vm_id, QUEUE_NAME);
    let unknown = host.resolve_queue(&vm_id, "no-such-queue");
    let mut enqueued = Vec::new();
    if let Ok(Some(id)) = resolved {
        for item in ["item-1", "item-2"] {
            enqueued.push(observe::status(&host.enqueue(id, item.as_bytes())));
        }
    }
    let bad_enqueue = host.enqueue(987_654, b"x");
    let bad_dequeue = host.dequeue(987_654);
    record.event(
        "queue",
        json!({
            "resolve": resolved.as_ref().map(|id| id.is_some()).map_err(|e| e.status.name()),
            "resolve_unknown": unknown.as_ref().map(|id| id.is_some()).map_err(|e| e.status.name()),
            "enqueue": enqueued,
            "enqueue_unknown": observe::status(&bad_enqueue),
            "dequeue_unknown": observe::status(&bad_dequeue),
        }),
    );
    HeadersAction::Continue
}

fn metrics(host: &dyn Host, record: &mut Record) -> HeadersAction {
    let counter = host.define_metric(MetricKind::Counter, "tollgate_conformance_requests");
    let again = host.define_metric(MetricKind::Counter, "tollgate_conformance_requests");
    let gauge = host.define_metric(MetricKind::Gauge, "tollgate_conformance_gauge");
    let histogram = host.define_metric(MetricKind::Histogram, "tollgate_conformance_latency");
    let mut out = serde_json::Map::new();
    out.insert(
        "define".into(),
        json!([
            observe::status(&counter),
            observe::status(&gauge),
            observe::status(&histogram)
        ]),
    );
    out.insert(
        "define_twice_same_id".into(),
        json!(counter.as_ref().ok() == again.as_ref().ok()),
    );
    if let Ok(id) = counter {
        let before = introspect::metric(host, id).unwrap_or_default();
        let inc = host.increment_metric(id, 3);
        let after = introspect::metric(host, id).unwrap_or_default();
        out.insert("counter_increment".into(), observe::status(&inc));
        out.insert("counter_delta".into(), json!(after.saturating_sub(before)));
        out.insert(
            "counter_record".into(),
            observe::status(&host.record_metric(id, 1)),
        );
    }
    if let Ok(id) = gauge {
        out.insert(
            "gauge_record".into(),
            observe::status(&host.record_metric(id, 42)),
        );
        out.insert(
            "gauge_value".into(),
            json!(introspect::metric(host, id).ok()),
        );
        out.insert(
            "gauge_decrement".into(),
            observe::status(&host.increment_metric(id, -2)),
        );
        out.insert(
            "gauge_after_decrement".into(),
            json!(introspect::metric(host, id).ok()),
        );
    }
    if let Ok(id) = histogram {
        out.insert(
            "histogram_record".into(),
            observe::status(&host.record_metric(id, 7)),
        );
        out.insert(
            "histogram_get".into(),
            observe::status(&introspect::metric(host, id)),
        );
        out.insert(
            "histogram_increment".into(),
            observe::status(&host.increment_metric(id, 1)),
        );
    }
    out.insert(
        "unknown_increment".into(),
        observe::status(&host.increment_metric(424_242, 1)),
    );
    out.insert(
        "unknown_get".into(),
        observe::status(&introspect::metric(host, 424_242)),
    );
    record.event("metrics", Value::Object(out));
    HeadersAction::Continue
}

fn misc(host: &dyn Host, record: &mut Record, context_id: u32) -> HeadersAction {
    for level in LogLevel::ALL {
        host.log(*level, "tollgate conformance log line");
    }
    let now = host.now();
    let plausible = now
        .as_ref()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .is_some_and(|d| d.as_secs() > 1_600_000_000);
    let foreign = host.call_foreign_function("tollgate_no_such_function", b"");
    let effective_self = host.set_effective_context(context_id);
    let effective_bogus = host.set_effective_context(987_654);
    let trailers = host.header_pairs(MapKind::RequestTrailers);
    let response_early = host.header_pairs(MapKind::ResponseHeaders);
    let body_early = host.buffer(BufferKind::HttpRequestBody, 0, 1024);
    let config_late = host.buffer(BufferKind::PluginConfiguration, 0, 1024);
    let bad_map = host.header(MapKind::HttpCallResponseHeaders, ":status");
    record.event(
        "misc",
        json!({
            "log_level": introspect::log_level(host).map(|l| format!("{l:?}")).map_err(|e| e.status.name()),
            "time_plausible": plausible,
            "foreign_unknown": observe::status(&foreign),
            "effective_context_self": observe::status(&effective_self),
            "effective_context_bogus": observe::status(&effective_bogus),
            "request_trailers_early": trailers.as_ref().map(Vec::len).map_err(|e| e.status.name()),
            "response_headers_early": response_early.as_ref().map(Vec::len).map_err(|e| e.status.name()),
            "request_body_early": body_early.as_ref().map(Option::is_some).map_err(|e| e.status.name()),
            "plugin_config_late": config_late.as_ref().map(Option::is_some).map_err(|e| e.status.name()),
            "callout_headers_outside_callout": bad_map.as_ref().map(Option::is_some).map_err(|e| e.status.name()),
        }),
    );
    HeadersAction::Continue
}

fn grpc(host: &dyn Host, record: &mut Record, config: &ConformanceConfig) -> HeadersAction {
    let call = GrpcCall {
        service: config.grpc_cluster.as_bytes(),
        service_name: "tollgate.test.Echo",
        method: "Say",
        initial_metadata: &[("x-from", b"conformance")],
    };
    let token = host.grpc_call(&call, b"hello grpc", Duration::from_secs(5));
    record.event(
        "grpc_dispatch",
        json!({ "status": observe::status(&token) }),
    );
    if token.is_ok() {
        HeadersAction::StopIteration
    } else {
        HeadersAction::Continue
    }
}

/// Deliberately traps the VM: the trap-containment tests need a filter that does.
#[allow(clippy::panic)]
fn trap() -> HeadersAction {
    panic!("conformance filter asked to trap");
}

#[cfg(test)]
#[path = "scenarios_tests.rs"]
mod tests;

/// The response header that carries the facts scenario's observations.
pub const FACTS_HEADER: &str = "x-conformance-facts";

/// Probes each host fact the kit relies on, from a stream context. The request goes
/// on to the upstream, whose echo shows what a write really did.
pub fn facts(host: &dyn Host) -> Value {
    const REQ: MapKind = MapKind::RequestHeaders;
    let read = |name: &str| match host.header(REQ, name) {
        Ok(Some(v)) => json!(v),
        other => observe::status(&other),
    };
    let effective = host.set_effective_context(u32::MAX);
    let clock = host.proxy_clock().map(|_| ());
    let detected = tollgate_kit::HostFacts::detect(host).name();
    let remove = host.remove_header(REQ, "x-remove-me");
    let authority = host.replace_header(REQ, ":authority", "facts.example");
    // How a rewritten target reaches the upstream (the echo shows it).
    let path = host.replace_header(REQ, ":path", "/facts%20x?q=2");
    let args = host.set_property(&["args"], b"r=3");
    let mut properties = serde_json::Map::new();
    for path in [
        &["tollgate_probe_undeclared"][..],
        &["tollgate_credentials"][..],
        &["wasmx", "tollgate_credentials"][..],
    ] {
        let set = host.set_property(path, b"handed-over");
        let got = match host.property(path) {
            Ok(Some(v)) => observe::text(&v),
            other => observe::status(&other),
        };
        properties.insert(
            path.join("."),
            json!({ "set": observe::status(&set), "get": got }),
        );
    }
    // An unconditional write (no CAS token) over a key that exists: Envoy writes it;
    // Kong's shm_kv compares the token 0 with the key's and refuses (CasMismatch).
    let key = "tollgate.conformance.overwrite/facts";
    let create = host.set_shared_data(key, Some(b"1"), None);
    let overwrite = host.set_shared_data(key, Some(b"2"), None);
    json!({
        "shared_create_unconditional": observe::status(&create),
        "shared_overwrite_unconditional": observe::status(&overwrite),
        "effective_context_unknown_id": observe::status(&effective),
        "proxy_clock": observe::status(&clock),
        "detected": detected,
        "remove": observe::status(&remove),
        "removed_visible_after": read("x-remove-me"),
        "authority_write": observe::status(&authority),
        // Compared, not recorded: Kong reads `:authority` as its own `hostname:port`.
        "authority_took": read(":authority") == json!("facts.example"),
        "method_after": read(":method"),
        "path_write": observe::status(&path),
        "args_write": observe::status(&args),
        "properties": properties,
    })
}
