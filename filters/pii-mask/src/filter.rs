//! The proxy-wasm glue: one header read per phase, the decision, then each body chunk
//! read, masked and written back. Bytes that may still be part of an undecided match
//! stay in the stream's state until the next chunk (or the end) decides them.

use std::cell::RefCell;
use std::rc::Rc;

use tollgate_kit::host::Pairs;
use tollgate_kit::pairs::first;
use tollgate_kit::reply::{self, Refusal};
use tollgate_kit::slot::ConfigSlot;
use tollgate_kit::{
    BodyAction, BufferKind, Callouts, HeadersAction, Host, HostFacts, LogLevel, MapKind,
    RootFilter, StreamFilter, StreamKind, TrailersAction,
};

use crate::body::{BodyMasker, Over, Trouble};
use crate::config::{Choice, Compiled};
use crate::decide::{self, Blocked, Edit, RequestPlan, ResponsePlan, Unmasked};
use crate::json::Ctx;
use crate::segment::Tally;

const FILTER: &str = "pii-mask";

/// Counters by name (`pii_mask.<name>`).
type Counters = tollgate_kit::counters::Counters<String>;

fn add(counters: &RefCell<Counters>, host: &dyn Host, name: &str, delta: i64) {
    counters
        .borrow_mut()
        .add(host, name.to_string(), delta, || format!("pii_mask.{name}"));
}

#[derive(Default)]
pub struct PiiMaskRoot {
    config: ConfigSlot<Compiled>,
    facts: HostFacts,
    counters: Rc<RefCell<Counters>>,
}

impl Callouts for PiiMaskRoot {}

impl RootFilter for PiiMaskRoot {
    fn on_configure(&mut self, host: &dyn Host, bytes: &[u8]) -> Result<(), String> {
        self.facts = HostFacts::detect(host);
        let compiled = crate::config::load(bytes, self.facts).map_err(|e| e.to_string())?;
        for w in &compiled.warnings {
            host.log(
                LogLevel::Warn,
                &format!("{FILTER} on {}: {w}", self.facts.name()),
            );
        }
        host.log(
            LogLevel::Info,
            &format!(
                "{FILTER}: {} detectors, {} field rules; holds back at most {} bytes of a line or string",
                compiled.detector_names.len(),
                compiled.rules.len(),
                compiled.masker.detectors.window()
            ),
        );
        self.config.replace(compiled);
        Ok(())
    }

    fn new_stream(&mut self, _host: &dyn Host, _context_id: u32) -> Option<Box<dyn StreamFilter>> {
        Some(Box::new(PiiMaskStream {
            config: self.config.current()?,
            facts: self.facts,
            counters: Rc::clone(&self.counters),
            watching: false,
            request: None,
            response: Phase::Idle,
            tally: Tally::default(),
            counted: false,
            counted_trouble: false,
        }))
    }
}

/// Where a response's body stands.
enum Phase {
    Idle,
    Masking(Box<BodyMasker>),
    /// Blocked at the headers (now a 502): chunks are dropped and the error body is
    /// written at the end.
    Blocking(Blocked),
    /// Reset (Envoy): whatever else arrives is dropped.
    Stopped,
    Passing,
}

pub struct PiiMaskStream {
    config: Rc<Compiled>,
    facts: HostFacts,
    counters: Rc<RefCell<Counters>>,
    /// The request is on a masked route and not exempt.
    watching: bool,
    request: Option<BodyMasker>,
    response: Phase,
    tally: Tally,
    counted: bool,
    counted_trouble: bool,
}

fn header<'a>(pairs: &'a Pairs, name: &str) -> Option<&'a str> {
    let v = first(pairs, name);
    (!v.is_empty()).then_some(v)
}

impl PiiMaskStream {
    /// Past the size limit: `pass` as configured; `block` resets the stream where the
    /// host can, and elsewhere masks on (never a short body that looks whole).
    fn over(&self) -> Over {
        match (self.config.on_oversize, self.facts.resets_streams()) {
            (Choice::Pass, _) => Over::Pass,
            (Choice::Block, true) => Over::Stop,
            (Choice::Block, false) => Over::KeepMasking,
        }
    }

    fn count(&self, host: &dyn Host, name: &str) {
        add(&self.counters, host, name, 1);
    }

    fn unmasked(&self, host: &dyn Host, why: Unmasked) {
        if why.is_loss() {
            self.count(host, "unmasked");
            self.count(host, &format!("unmasked.{}", why.name()));
        }
    }

    /// Adds what this stream's bodies saw to the counters, once.
    fn flush_tally(&mut self, host: &dyn Host) {
        if self.counted {
            return;
        }
        self.counted = true;
        let tally = std::mem::take(&mut self.tally);
        if tally.bytes > 0 {
            add(
                &self.counters,
                host,
                "bytes_scanned",
                i64::try_from(tally.bytes).unwrap_or(i64::MAX),
            );
        }
        for (key, n) in tally.matches() {
            if let Some(name) = self.config.detector_names.get(key) {
                add(
                    &self.counters,
                    host,
                    &format!("matches.{name}"),
                    i64::try_from(*n).unwrap_or(i64::MAX),
                );
            }
        }
    }

    fn edit(&self, host: &dyn Host, edits: &[Edit]) {
        for e in edits {
            let r = match e {
                Edit::Remove(name) => host.remove_header(MapKind::ResponseHeaders, name),
                Edit::Set(name, value) => {
                    host.replace_header(MapKind::ResponseHeaders, name, value)
                }
            };
            if let Err(err) = r {
                host.log(
                    LogLevel::Warn,
                    &format!("{FILTER}: cannot change a response header: {err}"),
                );
            }
        }
    }

    fn block(&mut self, host: &dyn Host, b: Blocked, edits: &[Edit]) {
        self.count(host, "blocked");
        self.count(host, &format!("blocked.{}", b.name()));
        host.log(
            LogLevel::Warn,
            &format!("{FILTER}: response blocked: {}", b.message()),
        );
        self.edit(host, edits);
        self.response = Phase::Blocking(b);
    }

    /// A body that cannot be masked to its end stops here: Envoy resets the stream
    /// (the client sees an error, never a short body that looks whole); a host that
    /// cannot reset keeps masking instead.
    fn trouble(&mut self, host: &dyn Host, t: Trouble) -> bool {
        let c = Rc::clone(&self.config);
        match t {
            Trouble::Oversize if c.on_oversize == Choice::Pass => {
                self.count(host, "oversize");
                self.unmasked(host, Unmasked::Oversize);
                self.response = Phase::Passing;
                false
            }
            Trouble::Oversize | Trouble::Corrupt => {
                let why = if t == Trouble::Oversize {
                    Blocked::Oversize
                } else {
                    Blocked::Unreadable
                };
                if self.counted_trouble {
                    return false;
                }
                self.counted_trouble = true;
                self.count(
                    host,
                    if t == Trouble::Oversize {
                        "oversize"
                    } else {
                        "errors"
                    },
                );
                if self.facts.resets_streams() {
                    self.count(host, "blocked");
                    self.count(host, &format!("blocked.{}", why.name()));
                    host.log(
                        LogLevel::Warn,
                        &format!("{FILTER}: response reset: {}", why.message()),
                    );
                    if let Err(e) = host.close_stream(StreamKind::Response) {
                        host.log(
                            LogLevel::Error,
                            &format!("{FILTER}: cannot reset the response: {e}"),
                        );
                    }
                    self.response = Phase::Stopped;
                    true
                } else {
                    false
                }
            }
        }
    }

    fn mask_chunk(
        &mut self,
        host: &dyn Host,
        kind: BufferKind,
        size: usize,
        eos: bool,
        masker: &mut BodyMasker,
    ) -> Result<(), Trouble> {
        let chunk = match host.buffer(kind, 0, size) {
            Ok(b) => b.unwrap_or_default(),
            Err(e) => {
                host.log(
                    LogLevel::Error,
                    &format!("{FILTER}: cannot read a body chunk: {e}"),
                );
                Vec::new()
            }
        };
        let c = Rc::clone(&self.config);
        let cx = Ctx {
            masker: &c.masker,
            rules: &c.rules,
        };
        let mut out = Vec::with_capacity(chunk.len() + 64);
        let result = masker.push(&cx, &chunk, eos, &mut out, &mut self.tally);
        if (size > 0 || !out.is_empty())
            && let Err(e) = tollgate_kit::host::replace_body(host, kind, size, &out)
        {
            host.log(
                LogLevel::Error,
                &format!("{FILTER}: cannot replace a body chunk: {e}"),
            );
        }
        result
    }
}

impl Callouts for PiiMaskStream {}

impl StreamFilter for PiiMaskStream {
    fn on_request_headers(
        &mut self,
        host: &dyn Host,
        _num_headers: usize,
        end_of_stream: bool,
    ) -> HeadersAction {
        let pairs = host
            .header_pairs(MapKind::RequestHeaders)
            .unwrap_or_default();
        let c = Rc::clone(&self.config);
        let req = decide::Request {
            method: first(&pairs, ":method"),
            path: first(&pairs, ":path"),
            claims: header(&pairs, &c.claims_header),
            content_type: header(&pairs, "content-type"),
            content_encoding: header(&pairs, "content-encoding"),
        };
        match decide::request(&c, &req) {
            RequestPlan::Pass(why) => {
                self.unmasked(host, why);
                HeadersAction::Continue
            }
            RequestPlan::Refuse(b) => {
                self.count(host, "blocked");
                self.count(host, &format!("blocked.{}", b.name()));
                let body = decide::block_body(b);
                reply::refuse(
                    host,
                    FILTER,
                    &Refusal {
                        status: 502,
                        code: "pii_mask_blocked",
                        body: &body,
                        www_authenticate: "",
                    },
                );
                HeadersAction::StopIteration
            }
            RequestPlan::Watch {
                strip_accept_encoding,
                body,
            } => {
                self.watching = true;
                // The masked representation has other offsets: ranges of it are not
                // served (a range could also start inside a value and escape masking).
                let _ = host.remove_header(MapKind::RequestHeaders, "range");
                if strip_accept_encoding {
                    let _ = host.remove_header(MapKind::RequestHeaders, "accept-encoding");
                }
                if let Some(format) = body
                    && !end_of_stream
                {
                    let _ = host.remove_header(MapKind::RequestHeaders, "content-length");
                    tollgate_kit::gate::want_request_body(host);
                    self.request =
                        Some(BodyMasker::new(format, None, c.max_body_bytes, self.over()));
                }
                HeadersAction::Continue
            }
        }
    }

    fn on_request_body(
        &mut self,
        host: &dyn Host,
        body_size: usize,
        end_of_stream: bool,
    ) -> BodyAction {
        let Some(mut masker) = self.request.take() else {
            return BodyAction::Continue;
        };
        match self.mask_chunk(
            host,
            BufferKind::HttpRequestBody,
            body_size,
            end_of_stream,
            &mut masker,
        ) {
            Ok(()) => {}
            Err(Trouble::Oversize) if self.config.on_oversize == Choice::Pass => {
                self.count(host, "oversize");
            }
            Err(_) => {
                self.count(host, "blocked");
                self.count(host, "blocked.request_oversize");
                let body = tollgate_kit::reply::error_body(
                    "request_too_large",
                    "the request body is larger than the edge checks for personal data",
                );
                reply::refuse(
                    host,
                    FILTER,
                    &Refusal {
                        status: 413,
                        code: "request_too_large",
                        body: &body,
                        www_authenticate: "",
                    },
                );
                return BodyAction::StopNoBuffer;
            }
        }
        if !end_of_stream {
            self.request = Some(masker);
        }
        BodyAction::Continue
    }

    fn on_response_headers(
        &mut self,
        host: &dyn Host,
        _num_headers: usize,
        end_of_stream: bool,
    ) -> HeadersAction {
        if !self.watching {
            return HeadersAction::Continue;
        }
        let pairs = host
            .header_pairs(MapKind::ResponseHeaders)
            .unwrap_or_default();
        let c = Rc::clone(&self.config);
        let r = decide::Response {
            status: first(&pairs, ":status").parse().unwrap_or(0),
            head: false,
            no_body: end_of_stream && self.facts.response_headers_end_stream(),
            content_type: header(&pairs, "content-type"),
            content_encoding: header(&pairs, "content-encoding"),
            content_length: header(&pairs, "content-length"),
            etag: header(&pairs, "etag"),
        };
        match decide::response(&c, &r) {
            ResponsePlan::Pass(why) => {
                self.unmasked(host, why);
                self.response = Phase::Passing;
            }
            ResponsePlan::Block(b, edits) => self.block(host, b, &edits),
            ResponsePlan::Mask {
                format,
                encoding,
                edits,
            } => {
                self.edit(host, &edits);
                tollgate_kit::gate::want_response_body(host);
                self.response = Phase::Masking(Box::new(BodyMasker::new(
                    format,
                    encoding,
                    c.max_body_bytes,
                    self.over(),
                )));
            }
        }
        HeadersAction::Continue
    }

    fn on_response_body(
        &mut self,
        host: &dyn Host,
        body_size: usize,
        end_of_stream: bool,
    ) -> BodyAction {
        match std::mem::replace(&mut self.response, Phase::Idle) {
            Phase::Masking(mut masker) => {
                let result = self.mask_chunk(
                    host,
                    BufferKind::HttpResponseBody,
                    body_size,
                    end_of_stream,
                    &mut masker,
                );
                self.response = Phase::Masking(masker);
                if let Err(t) = result
                    && self.trouble(host, t)
                {
                    return BodyAction::StopNoBuffer;
                }
            }
            Phase::Blocking(b) => {
                let body = if end_of_stream {
                    decide::block_body(b)
                } else {
                    String::new()
                };
                if let Err(e) = tollgate_kit::host::replace_body(
                    host,
                    BufferKind::HttpResponseBody,
                    body_size,
                    body.as_bytes(),
                ) {
                    host.log(
                        LogLevel::Error,
                        &format!("{FILTER}: cannot replace a blocked body: {e}"),
                    );
                }
                self.response = Phase::Blocking(b);
            }
            Phase::Stopped => {
                let _ = tollgate_kit::host::replace_body(
                    host,
                    BufferKind::HttpResponseBody,
                    body_size,
                    b"",
                );
                self.response = Phase::Stopped;
                return BodyAction::StopNoBuffer;
            }
            other => self.response = other,
        }
        if end_of_stream {
            self.flush_tally(host);
        }
        BodyAction::Continue
    }

    fn on_response_trailers(&mut self, host: &dyn Host, _num_trailers: usize) -> TrailersAction {
        if let Phase::Masking(m) = &self.response
            && m.held() > 0
        {
            // Proxy-wasm cannot add body bytes from the trailers callback: the held
            // bytes are lost rather than sent unmasked.
            self.count(host, "errors");
            host.log(
                LogLevel::Warn,
                &format!(
                    "{FILTER}: a body ended in trailers with {} bytes held back; they are not sent",
                    m.held()
                ),
            );
        }
        TrailersAction::Continue
    }

    fn on_log(&mut self, host: &dyn Host) {
        self.flush_tally(host);
    }
}

#[cfg(test)]
#[path = "filter_tests.rs"]
mod tests;
