//! The per-request context: picks a scenario from the path and records every callback.

use std::rc::Rc;

use serde_json::json;
use tollgate_kit::filter::Callouts;
use tollgate_kit::host::LocalReply;
use tollgate_kit::{
    BodyAction, BufferKind, HeadersAction, Host, MapKind, StreamFilter, StreamKind, TrailersAction,
};

use crate::observe::{self, Record};
use crate::root::ConformanceConfig;
use crate::scenarios::{self, Scenario};

pub struct ConformanceStream {
    config: Rc<ConformanceConfig>,
    context_id: u32,
    scenario: Scenario,
    record: Option<Record>,
    /// The facts scenario's observations, sent back in a response header.
    facts: Option<String>,
    /// Where a `root-reply` stream waits for the root to answer it.
    parked: Option<crate::root::Parked>,
}

impl ConformanceStream {
    pub fn new(config: Rc<ConformanceConfig>, context_id: u32) -> Self {
        Self {
            config,
            context_id,
            scenario: Scenario::Pass,
            record: None,
            facts: None,
            parked: None,
        }
    }

    /// Lets `root-reply` streams wait for the root's answer.
    pub fn parking(mut self, parked: crate::root::Parked) -> Self {
        self.parked = Some(parked);
        self
    }

    /// Records an event (when this stream is recorded) and persists the record.
    fn note(&mut self, host: &dyn Host, name: &str, fields: serde_json::Value) {
        if let Some(record) = self.record.as_mut() {
            record.event(name, fields);
            let _ = record.flush(host);
        }
    }

    fn body(
        &mut self,
        host: &dyn Host,
        kind: BufferKind,
        phase: &str,
        size: usize,
        eos: bool,
    ) -> BodyAction {
        if kind == BufferKind::HttpRequestBody
            && matches!(
                self.scenario,
                Scenario::BodyGrow | Scenario::BodyGrowSafe | Scenario::BodyOptIn
            )
        {
            return self.rewrite_request_body(host, size, eos);
        }
        let transform = self.scenario == Scenario::Body;
        let data = host.buffer(kind, 0, size);
        let mut fields = serde_json::Map::new();
        fields.insert("size".into(), json!(size));
        fields.insert("end_of_stream".into(), json!(eos));
        if transform {
            let read = match &data {
                Ok(Some(bytes)) => json!({ "len": bytes.len() }),
                other => observe::status(other),
            };
            fields.insert("read".into(), read);
        }
        if transform && eos {
            let upper = data.ok().flatten().unwrap_or_default().to_ascii_uppercase();
            fields.insert(
                "set_buffer".into(),
                observe::status(&host.set_buffer(kind, 0, size, &upper)),
            );
        }
        self.note(host, phase, serde_json::Value::Object(fields));
        if transform && !eos {
            BodyAction::StopAndBuffer
        } else {
            BodyAction::Continue
        }
    }
}

impl ConformanceStream {
    /// Appends `!` to the request body at end of stream, by the scenario's method.
    fn rewrite_request_body(&mut self, host: &dyn Host, size: usize, eos: bool) -> BodyAction {
        if !eos {
            return BodyAction::StopAndBuffer;
        }
        let mut body = host
            .buffer(BufferKind::HttpRequestBody, 0, size)
            .ok()
            .flatten()
            .unwrap_or_default();
        body.push(b'!');
        let result = match self.scenario {
            Scenario::BodyGrow => host.set_buffer(BufferKind::HttpRequestBody, 0, size, &body),
            _ => tollgate_kit::host::replace_body(host, BufferKind::HttpRequestBody, size, &body),
        };
        self.note(
            host,
            "rewrite",
            json!({ "size": size, "set_buffer": observe::status(&result) }),
        );
        BodyAction::Continue
    }
}

impl StreamFilter for ConformanceStream {
    fn on_request_headers(
        &mut self,
        host: &dyn Host,
        num_headers: usize,
        end_of_stream: bool,
    ) -> HeadersAction {
        // One hostcall for the whole map: the pattern every Tollgate filter follows.
        let pairs = host
            .header_pairs(MapKind::RequestHeaders)
            .unwrap_or_default();
        let find = |name: &str| {
            pairs
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        let path = find(":path").unwrap_or("/");
        self.scenario = Scenario::from_path(path);
        if let Scenario::Report(id) = &self.scenario {
            return scenarios::report(host, id);
        }
        if self.scenario == Scenario::RootReply {
            if let Some(parked) = &self.parked {
                parked.borrow_mut().push(self.context_id);
            }
            return HeadersAction::StopIteration;
        }
        if self.scenario == Scenario::Facts {
            self.facts = Some(scenarios::facts(host).to_string());
            return HeadersAction::Continue;
        }
        let Some(id) = find("x-conformance-id") else {
            return HeadersAction::Continue;
        };
        self.record = Some(Record::new(id));
        self.note(
            host,
            "request_headers",
            json!({ "num_headers": num_headers, "pairs": pairs.len(), "end_of_stream": end_of_stream, "scenario": self.scenario.name() }),
        );
        let Some(record) = self.record.as_mut() else {
            return HeadersAction::Continue;
        };
        let action = scenarios::on_request_headers(
            &self.scenario,
            host,
            record,
            &pairs,
            &self.config,
            self.context_id,
        );
        let _ = record.flush(host);
        action
    }

    fn on_request_body(
        &mut self,
        host: &dyn Host,
        body_size: usize,
        end_of_stream: bool,
    ) -> BodyAction {
        self.body(
            host,
            BufferKind::HttpRequestBody,
            "request_body",
            body_size,
            end_of_stream,
        )
    }

    fn on_request_trailers(&mut self, host: &dyn Host, num_trailers: usize) -> TrailersAction {
        self.note(
            host,
            "request_trailers",
            json!({ "num_trailers": num_trailers }),
        );
        TrailersAction::Continue
    }

    fn on_response_headers(
        &mut self,
        host: &dyn Host,
        num_headers: usize,
        end_of_stream: bool,
    ) -> HeadersAction {
        if let Some(facts) = self.facts.take() {
            let _ = host.add_header(MapKind::ResponseHeaders, scenarios::FACTS_HEADER, &facts);
        }
        if self.record.is_none() {
            return HeadersAction::Continue;
        }
        let pairs = host
            .header_pairs(MapKind::ResponseHeaders)
            .unwrap_or_default();
        let status = pairs
            .iter()
            .find(|(n, _)| n == ":status")
            .map(|(_, v)| v.clone());
        let mut names: Vec<&str> = pairs
            .iter()
            .map(|(n, _)| n.as_str())
            .filter(|n| *n != "date")
            .collect();
        names.sort_unstable();
        names.dedup();
        let add = host.add_header(MapKind::ResponseHeaders, "x-conformance", "seen");
        if self.scenario == Scenario::Body {
            // The body is rewritten; a stale length would truncate or hang the client.
            let _ = host.remove_header(MapKind::ResponseHeaders, "content-length");
        }
        self.note(
            host,
            "response_headers",
            json!({ "num_headers": num_headers, "end_of_stream": end_of_stream, "status": status, "names": names, "add_header": observe::status(&add) }),
        );
        HeadersAction::Continue
    }

    fn on_response_body(
        &mut self,
        host: &dyn Host,
        body_size: usize,
        end_of_stream: bool,
    ) -> BodyAction {
        if self.record.is_none() {
            return BodyAction::Continue;
        }
        self.body(
            host,
            BufferKind::HttpResponseBody,
            "response_body",
            body_size,
            end_of_stream,
        )
    }

    fn on_response_trailers(&mut self, host: &dyn Host, num_trailers: usize) -> TrailersAction {
        self.note(
            host,
            "response_trailers",
            json!({ "num_trailers": num_trailers }),
        );
        TrailersAction::Continue
    }

    fn on_log(&mut self, host: &dyn Host) {
        let code = host.property(&["response", "code"]);
        let code = match code {
            Ok(Some(bytes)) => json!(scenarios::int_value(&bytes)),
            other => observe::status(&other),
        };
        self.note(host, "log", json!({ "response.code": code }));
    }

    fn on_done(&mut self, host: &dyn Host) -> bool {
        self.note(host, "done", json!({}));
        true
    }

    fn on_delete(&mut self, host: &dyn Host) {
        self.note(host, "delete", json!({}));
    }
}

impl Callouts for ConformanceStream {
    fn on_http_call_response(
        &mut self,
        host: &dyn Host,
        _token: u32,
        num_headers: usize,
        body_size: usize,
        num_trailers: usize,
    ) {
        let Some(record) = self.record.as_mut() else {
            return;
        };
        scenarios::on_http_call_response(host, record, num_headers, body_size, num_trailers);
        let _ = record.flush(host);
    }

    fn on_grpc_message(&mut self, host: &dyn Host, _token: u32, size: usize) {
        let message = host.buffer(BufferKind::GrpcReceiveBuffer, 0, size);
        let message = match &message {
            Ok(Some(bytes)) => observe::text(bytes),
            other => observe::status(other),
        };
        self.note(
            host,
            "grpc_message",
            json!({ "size": size, "message": message }),
        );
        let resume = host.continue_stream(StreamKind::Request);
        self.note(
            host,
            "resume",
            json!({ "continue_stream": observe::status(&resume) }),
        );
    }

    fn on_grpc_close(&mut self, host: &dyn Host, _token: u32, status_code: u32) {
        let status = host.status();
        let message = match &status {
            Ok((_, Some(m))) => observe::text(m),
            _ => json!(null),
        };
        self.note(host, "grpc_close", json!({ "status_code": status_code, "get_status": observe::status(&status), "message": message }));
        let resume = host.continue_stream(StreamKind::Request);
        self.note(
            host,
            "resume",
            json!({ "continue_stream": observe::status(&resume) }),
        );
    }
}

/// Sends a plain local reply; used by the report and error paths.
pub fn reply(host: &dyn Host, status: u32, body: &[u8]) -> HeadersAction {
    let reply = LocalReply {
        status,
        details: "conformance_report",
        headers: &[("content-type", "application/json")],
        body,
        grpc_status: None,
    };
    let _ = host.send_local_response(&reply);
    HeadersAction::StopIteration
}
