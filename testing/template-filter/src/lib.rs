//! A filter that refuses requests lacking a header (the README's template).
use std::rc::Rc;

use tollgate_kit::config::{self, Compile, ConfigError};
use tollgate_kit::reply::{self, Refusal};
use tollgate_kit::slot::ConfigSlot;
use tollgate_kit::{
    BodyAction, Callouts, HeadersAction, Host, MapKind, RequestView, RootFilter, StreamFilter,
    TrailersAction, Verdict,
};

/// The config format this build reads.
pub const VERSION: &str = "tollgate.template.v1";

/// Every field documented with its default and an example.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateConfig {
    /// The config format, checked by `config::load`. Optional. Example: `"tollgate.template.v1"`.
    #[serde(default)]
    pub version: Option<String>,
    /// The header a request must carry. Required. Example: `"x-api-key"`.
    pub header: String,
}

/// What requests use: checked and prepared once, in `on_configure`.
pub struct Ready {
    header: String,
}

impl Compile for TemplateConfig {
    type Compiled = Ready;
    const VERSION: &'static str = VERSION;
    fn compile(self) -> Result<Ready, ConfigError> {
        if self.header.is_empty() || self.header.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(ConfigError::new(
                "header",
                "expected a lower-case header name",
            ));
        }
        Ok(Ready {
            header: self.header,
        })
    }
}

/// The decision: a plain function over plain data, tested natively.
pub fn decide(ready: &Ready, request: &RequestView<'_>) -> Result<(), &'static str> {
    request
        .header(&ready.header)
        .map(drop)
        .ok_or("header_missing")
}

#[derive(Default)]
pub struct Root {
    /// Swapped on reconfigure; each stream keeps the config it started with.
    config: ConfigSlot<Ready>,
}

impl Callouts for Root {}

impl RootFilter for Root {
    fn on_configure(&mut self, _host: &dyn Host, bytes: &[u8]) -> Result<(), String> {
        let ready = config::load::<TemplateConfig>(bytes).map_err(|e| e.to_string())?;
        self.config.replace(ready);
        Ok(())
    }

    fn new_stream(&mut self, _host: &dyn Host, _id: u32) -> Option<Box<dyn StreamFilter>> {
        let config = self.config.current()?;
        Some(Box::new(Stream {
            config,
            verdict: Verdict::Pending,
        }))
    }
}

struct Stream {
    config: Rc<Ready>,
    verdict: Verdict,
}

impl Callouts for Stream {}

impl StreamFilter for Stream {
    fn on_request_headers(&mut self, host: &dyn Host, _n: usize, _eos: bool) -> HeadersAction {
        // One hostcall for every header; a host that fails it fails the request closed.
        let Ok(headers) = host.header_pairs(MapKind::RequestHeaders) else {
            self.verdict = Verdict::Denied;
            reply::internal_error(host, "template", "cannot read the request headers");
            return HeadersAction::StopIteration;
        };
        match decide(&self.config, &RequestView::of(&headers)) {
            Ok(()) => {
                self.verdict = Verdict::Passed;
                HeadersAction::Continue
            }
            Err(code) => {
                self.verdict = Verdict::Denied;
                let body = reply::error_body(code, "the request lacks a required header");
                let refusal = Refusal {
                    status: 400,
                    code,
                    body: &body,
                    www_authenticate: "",
                };
                reply::refuse(host, "template", &refusal);
                HeadersAction::StopIteration
            }
        }
    }

    fn on_request_body(&mut self, _host: &dyn Host, _size: usize, _eos: bool) -> BodyAction {
        self.verdict.request_body()
    }

    fn on_request_trailers(&mut self, _host: &dyn Host, _n: usize) -> TrailersAction {
        self.verdict.request_trailers()
    }
}

tollgate_kit::export_filter!(Root::default());

#[cfg(test)]
mod tests;
