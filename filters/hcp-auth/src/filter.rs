//! The proxy-wasm glue: one header read, one property read when credentials are needed,
//! the decision, and the header changes. With `s3.sign_body` the body is buffered
//! (headers held) until its hash is known.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::UNIX_EPOCH;

use tollgate_kit::host::Pairs;
use tollgate_kit::pairs::first as header;
use tollgate_kit::reply::{self, Refusal};
use tollgate_kit::slot::ConfigSlot;
use tollgate_kit::{
    BodyAction, BufferKind, Callouts, HeadersAction, Host, HostFacts, LogLevel, MapKind, Mutation,
    RequestView, RootFilter, StreamFilter, TrailersAction, Verdict, mutation, removal,
};

use crate::config::{Compiled, Mode};
use crate::credentials;
use crate::decide::{Decision, Rejection, path_rejection, reject};
use crate::sigv4::sha256_hex;

pub use tollgate_kit::contract::CREDENTIALS_PROPERTY;

/// The filter's name in logs and response details.
const FILTER: &str = "hcp-auth";

/// Counters by group (`""` or `"denied."`) and name: `hcp_auth.<group><name>`.
type Counters = tollgate_kit::counters::Counters<(&'static str, &'static str)>;

fn count(counters: &RefCell<Counters>, host: &dyn Host, group: &'static str, name: &'static str) {
    counters
        .borrow_mut()
        .inc(host, (group, name), || format!("hcp_auth.{group}{name}"));
}

#[derive(Default)]
pub struct HcpAuthRoot {
    config: ConfigSlot<Compiled>,
    facts: HostFacts,
    counters: Rc<RefCell<Counters>>,
}

impl Callouts for HcpAuthRoot {}

impl RootFilter for HcpAuthRoot {
    fn on_configure(&mut self, host: &dyn Host, bytes: &[u8]) -> Result<(), String> {
        self.facts = HostFacts::detect(host);
        let compiled = crate::config::load(bytes, self.facts).map_err(|e| e.to_string())?;
        self.config.replace(compiled);
        Ok(())
    }

    fn new_stream(&mut self, _host: &dyn Host, _context_id: u32) -> Option<Box<dyn StreamFilter>> {
        Some(Box::new(HcpAuthStream {
            config: self.config.current()?,
            facts: self.facts,
            counters: Rc::clone(&self.counters),
            headers: Vec::new(),
            path: String::new(),
            mode: Mode::Passthrough,
            credentials: None,
            verdict: Verdict::Pending,
            buffered: 0,
        }))
    }
}

pub struct HcpAuthStream {
    config: Rc<Compiled>,
    facts: HostFacts,
    counters: Rc<RefCell<Counters>>,
    headers: Pairs,
    /// The path routes matched (normal form), prepared once in the headers phase.
    path: String,
    /// The route's mode, matched once in the headers phase.
    mode: Mode,
    /// The claims' credentials, read once in the headers phase.
    credentials: Option<Result<credentials::Credentials, credentials::Problem>>,
    /// Pending while deciding, and while the body is buffered (headers held).
    verdict: Verdict,
    buffered: usize,
}

fn mode_counter(mode: Mode) -> &'static str {
    match mode {
        Mode::Management => "management",
        Mode::S3 => "s3",
        Mode::Passthrough => "passthrough",
    }
}

impl HcpAuthStream {
    fn refuse(&mut self, host: &dyn Host, r: &Rejection) {
        self.verdict = Verdict::Denied;
        count(&self.counters, host, "denied.", r.code);
        // Code, status and mode only: never a claim, a credential or the path.
        host.log(
            LogLevel::Debug,
            &format!(
                "hcp-auth: denied {} {} (mode {})",
                r.status,
                r.code,
                mode_counter(self.mode)
            ),
        );
        let www = if r.status == 401 {
            format!(
                "Bearer realm=\"tollgate\", error=\"invalid_token\", error_description=\"{}\"",
                r.code
            )
        } else {
            String::new()
        };
        let refusal = Refusal {
            status: r.status,
            code: r.code,
            body: &r.body,
            www_authenticate: &www,
        };
        reply::refuse(host, FILTER, &refusal);
    }

    fn fail(&mut self, host: &dyn Host, why: &str) {
        self.verdict = Verdict::Denied;
        count(&self.counters, host, "denied.", "internal");
        reply::internal_error(host, FILTER, why);
    }

    /// Hashes the buffered body, then decides and applies.
    fn run_with_body(&mut self, host: &dyn Host) -> bool {
        let body = match host.buffer(BufferKind::HttpRequestBody, 0, self.buffered) {
            Ok(b) => b.unwrap_or_default(),
            Err(e) => {
                self.fail(host, &format!("cannot read the request body: {e}"));
                return false;
            }
        };
        let hash = sha256_hex(&body);
        if !self.run(host, Some(&hash)) {
            return false;
        }
        let framing = self
            .config
            .buffered_framing(&RequestView::of(&self.headers), body.len());
        let applied = mutation::plan(self.facts, &self.headers, &framing)
            .map_err(|name| format!("`{name}` cannot be rewritten here"))
            .and_then(|plans| {
                mutation::apply(host, self.facts, &framing, &plans).map_err(|e| e.to_string())
            });
        if let Err(e) = applied {
            self.fail(host, &format!("cannot set the body's length: {e}"));
            return false;
        }
        true
    }

    /// Reads the authority back after writing it: a host that reports success but
    /// ignores the write (Kong with `:authority`) must not forward the request to the
    /// default tenant. Fails closed.
    fn tenant_routed(&mut self, host: &dyn Host, mutations: &[Mutation]) -> bool {
        let Some(wanted) = mutation::value_of(mutations, ":authority") else {
            return true;
        };
        let name = self.facts.authority_header();
        match host.header(MapKind::RequestHeaders, name) {
            Ok(Some(now)) if now.eq_ignore_ascii_case(wanted) => true,
            _ => {
                self.fail(
                    host,
                    &format!(
                        "{} did not take the tenant's authority in `{name}`",
                        self.facts.name()
                    ),
                );
                false
            }
        }
    }

    /// Decides and applies; `Continue` means the request may go on.
    fn run(&mut self, host: &dyn Host, body_hash: Option<&str>) -> bool {
        let Some(now) = host
            .now()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_secs())
        else {
            self.fail(host, "the host gave no time");
            return false;
        };
        let view = RequestView::of(&self.headers);
        // Borrowed, not cloned: the password is not copied per request.
        let no_claims = credentials::Problem::NoClaims;
        let creds = match &self.credentials {
            Some(result) => result.as_ref(),
            None => Err(&no_claims),
        };
        match self
            .config
            .decide_in(self.mode, &view, &self.path, creds, now, body_hash)
        {
            Decision::Allow { mode, mutations } => {
                let plans = match mutation::plan(self.facts, &self.headers, &mutations) {
                    Ok(plans) => plans,
                    Err(name) => {
                        let message = removal::refused_message(name);
                        self.refuse(host, &reject(400, removal::REFUSED_CODE, &message));
                        return false;
                    }
                };
                if let Err(e) = mutation::apply(host, self.facts, &mutations, &plans) {
                    self.fail(host, &format!("cannot rewrite the request headers: {e}"));
                    return false;
                }
                if !self.tenant_routed(host, &mutations) {
                    return false;
                }
                count(&self.counters, host, "", mode_counter(mode));
                self.verdict = Verdict::Passed;
                true
            }
            Decision::NeedBody => {
                // Only reached without a hash; the body path always passes one.
                self.fail(host, "the body hash was not available");
                false
            }
            Decision::Deny(r) => {
                self.refuse(host, &r);
                false
            }
        }
    }
}

impl Callouts for HcpAuthStream {}

impl StreamFilter for HcpAuthStream {
    fn on_request_headers(
        &mut self,
        host: &dyn Host,
        _n: usize,
        end_of_stream: bool,
    ) -> HeadersAction {
        match host.header_pairs(MapKind::RequestHeaders) {
            Ok(pairs) => self.headers = pairs,
            Err(e) => {
                self.fail(host, &format!("cannot read the request headers: {e}"));
                return HeadersAction::StopIteration;
            }
        }
        let config = Rc::clone(&self.config);
        match config.paths.prepare(header(&self.headers, ":path")) {
            Ok(path) => self.path = path.into_owned(),
            Err(problem) => {
                self.refuse(host, &path_rejection(problem));
                return HeadersAction::StopIteration;
            }
        }
        let mode = config.mode_for(header(&self.headers, ":method"), &self.path);
        self.mode = mode;
        if mode != Mode::Passthrough {
            let path = self.facts.stream_property(CREDENTIALS_PROPERTY);
            let property = host.property(&path).ok().flatten();
            let claims = credentials::claims(property.as_deref());
            self.credentials = Some(credentials::extract(claims.as_ref(), &config.claims));
        }
        if config.needs_body(mode)
            && !end_of_stream
            && self.credentials.as_ref().is_some_and(Result::is_ok)
        {
            let declared = header(&self.headers, "content-length").parse::<u64>().ok();
            if declared.is_some_and(|n| n > config.s3.max_body_bytes) {
                self.refuse(host, &too_large(config.s3.max_body_bytes));
                return HeadersAction::StopIteration;
            }
            tollgate_kit::gate::want_request_body(host);
            return HeadersAction::StopIteration;
        }
        let hash = config
            .needs_body(mode)
            .then_some(crate::sigv4::EMPTY_SHA256);
        if self.run(host, hash) {
            HeadersAction::Continue
        } else {
            HeadersAction::StopIteration
        }
    }

    fn on_request_body(&mut self, host: &dyn Host, size: usize, end_of_stream: bool) -> BodyAction {
        if self.verdict != Verdict::Pending {
            return self.verdict.request_body();
        }
        let max = self.config.s3.max_body_bytes;
        self.buffered = size;
        if u64::try_from(size).unwrap_or(u64::MAX) > max {
            self.refuse(host, &too_large(max));
            return BodyAction::StopNoBuffer;
        }
        if !end_of_stream {
            return BodyAction::StopAndBuffer;
        }
        if self.run_with_body(host) {
            BodyAction::Continue
        } else {
            BodyAction::StopNoBuffer
        }
    }

    fn on_request_trailers(&mut self, host: &dyn Host, _n: usize) -> TrailersAction {
        // A body that ended with trailers: its last chunk had no end-of-stream mark.
        if self.verdict == Verdict::Pending && !self.run_with_body(host) {
            return TrailersAction::StopIteration;
        }
        self.verdict.request_trailers()
    }
}

fn too_large(max: u64) -> Rejection {
    reject(
        413,
        "body_too_large",
        &format!("the body is larger than the {max} bytes this route signs"),
    )
}

#[cfg(test)]
#[path = "filter_tests.rs"]
mod tests;
