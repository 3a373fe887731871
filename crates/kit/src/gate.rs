//! What a request's body and trailers may do while its headers are decided. Continuing
//! a body chunk would release headers held for a decision, so until the verdict every
//! chunk is buffered, and after a refusal nothing more goes anywhere.

use crate::filter::{BodyAction, TrailersAction};
use crate::host::Host;

/// Asks for the request body's callbacks while the headers are held. APISIX runs them
/// only for a filter that sets `wasm_process_req_body`; Envoy (with
/// `allow_on_headers_stop_iteration`) and Kong always do, and ignore the property.
pub fn want_request_body(host: &dyn Host) {
    let _ = host.set_property(&["wasm_process_req_body"], b"true");
}

/// Asks for the response body's callbacks (a filter that reads the body as it
/// streams: response-cache storing it). APISIX runs them only for a filter that sets
/// `wasm_process_resp_body`; Envoy and Kong always do, and ignore the property.
pub fn want_response_body(host: &dyn Host) {
    let _ = host.set_property(&["wasm_process_resp_body"], b"true");
}

/// Where a request stands with one filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Verdict {
    /// Being decided (headers held: waiting for keys, a body hash, a callout).
    #[default]
    Pending,
    Denied,
    Passed,
}

impl Verdict {
    /// The answer to a request body chunk.
    pub fn request_body(self) -> BodyAction {
        match self {
            Self::Pending => BodyAction::StopAndBuffer,
            Self::Denied => BodyAction::StopNoBuffer,
            Self::Passed => BodyAction::Continue,
        }
    }

    /// The answer to request trailers: they go on only once the request has passed.
    pub fn request_trailers(self) -> TrailersAction {
        match self {
            Self::Passed => TrailersAction::Continue,
            Self::Pending | Self::Denied => TrailersAction::StopIteration,
        }
    }
}

#[cfg(test)]
#[path = "gate_tests.rs"]
mod tests;
