//! The callbacks a filter implements. They take `&dyn Host` and plain numbers, so the
//! same filter code runs under the ABI layer (wasm32) and under the mock (native tests).

use crate::host::Host;

/// What `on_*_headers` tells the proxy (ABI `FilterHeadersStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadersAction {
    Continue,
    /// Hold the headers; body chunks still reach this filter.
    StopIteration,
    /// Hold headers and buffer the body without calling this filter until it resumes.
    StopAllAndBuffer,
    StopAllAndWatermark,
}

impl HeadersAction {
    pub fn code(self) -> u32 {
        match self {
            Self::Continue => 0,
            Self::StopIteration => 1,
            Self::StopAllAndBuffer => 3,
            Self::StopAllAndWatermark => 4,
        }
    }
}

/// What `on_*_body` tells the proxy (ABI `FilterDataStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyAction {
    Continue,
    /// Keep this chunk; the next call sees everything buffered so far.
    StopAndBuffer,
    StopAndWatermark,
    /// Hold the stream without buffering this chunk for the filter.
    StopNoBuffer,
}

impl BodyAction {
    pub fn code(self) -> u32 {
        match self {
            Self::Continue => 0,
            Self::StopAndBuffer => 1,
            Self::StopAndWatermark => 2,
            Self::StopNoBuffer => 3,
        }
    }
}

/// What `on_*_trailers` tells the proxy (ABI `FilterTrailersStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrailersAction {
    Continue,
    StopIteration,
}

impl TrailersAction {
    pub fn code(self) -> u32 {
        match self {
            Self::Continue => 0,
            Self::StopIteration => 1,
        }
    }
}

/// Responses to callouts, delivered to the context that made the call.
#[allow(unused_variables)]
pub trait Callouts {
    fn on_http_call_response(
        &mut self,
        host: &dyn Host,
        token: u32,
        num_headers: usize,
        body_size: usize,
        num_trailers: usize,
    ) {
    }
    fn on_grpc_initial_metadata(&mut self, host: &dyn Host, token: u32, num_elements: usize) {}
    fn on_grpc_message(&mut self, host: &dyn Host, token: u32, size: usize) {}
    fn on_grpc_trailing_metadata(&mut self, host: &dyn Host, token: u32, num_elements: usize) {}
    fn on_grpc_close(&mut self, host: &dyn Host, token: u32, status_code: u32) {}
}

/// The per-plugin context: configuration, timers, queues and stream creation.
#[allow(unused_variables)]
pub trait RootFilter: Callouts + 'static {
    fn on_vm_start(&mut self, host: &dyn Host, vm_config: &[u8]) -> bool {
        true
    }

    /// Parses and compiles `config`. An error rejects the plugin (Envoy does not load it),
    /// so a bad config never serves traffic.
    fn on_configure(&mut self, host: &dyn Host, config: &[u8]) -> Result<(), String>;

    /// A filter for a new HTTP stream; `None` lets the stream pass untouched.
    fn new_stream(&mut self, host: &dyn Host, context_id: u32) -> Option<Box<dyn StreamFilter>>;

    fn on_tick(&mut self, host: &dyn Host) {}
    fn on_queue_ready(&mut self, host: &dyn Host, queue_id: u32) {}
    fn on_foreign_function(&mut self, host: &dyn Host, function_id: u32, data_size: usize) {}
    fn on_done(&mut self, host: &dyn Host) -> bool {
        true
    }
    fn on_log(&mut self, host: &dyn Host) {}
}

/// The per-request context.
#[allow(unused_variables)]
pub trait StreamFilter: Callouts {
    fn on_request_headers(
        &mut self,
        host: &dyn Host,
        num_headers: usize,
        end_of_stream: bool,
    ) -> HeadersAction {
        HeadersAction::Continue
    }
    fn on_request_body(
        &mut self,
        host: &dyn Host,
        body_size: usize,
        end_of_stream: bool,
    ) -> BodyAction {
        BodyAction::Continue
    }
    fn on_request_trailers(&mut self, host: &dyn Host, num_trailers: usize) -> TrailersAction {
        TrailersAction::Continue
    }
    fn on_response_headers(
        &mut self,
        host: &dyn Host,
        num_headers: usize,
        end_of_stream: bool,
    ) -> HeadersAction {
        HeadersAction::Continue
    }
    fn on_response_body(
        &mut self,
        host: &dyn Host,
        body_size: usize,
        end_of_stream: bool,
    ) -> BodyAction {
        BodyAction::Continue
    }
    fn on_response_trailers(&mut self, host: &dyn Host, num_trailers: usize) -> TrailersAction {
        TrailersAction::Continue
    }
    fn on_log(&mut self, host: &dyn Host) {}
    fn on_done(&mut self, host: &dyn Host) -> bool {
        true
    }
    fn on_delete(&mut self, host: &dyn Host) {}
}
