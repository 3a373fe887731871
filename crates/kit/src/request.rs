//! The request as a filter's decision sees it: plain data, read with one header-map
//! hostcall, so decisions are plain functions tested natively.

use crate::host::Pairs;
use crate::pairs::first;

/// The parts of a request a decision reads.
#[derive(Debug, Clone, Copy)]
pub struct RequestView<'a> {
    pub method: &'a str,
    /// `:path`, query included.
    pub path: &'a str,
    /// Every request header as read (names lower-case), pseudo-headers included.
    pub headers: &'a [(String, String)],
}

impl<'a> RequestView<'a> {
    /// The view of a header map read in one call (`:method` and `:path` from it).
    pub fn of(headers: &'a Pairs) -> Self {
        Self {
            method: first(headers, ":method"),
            path: first(headers, ":path"),
            headers,
        }
    }

    /// The first value of `name` (lower-case), if the request has it.
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the request carries `name` at all.
    pub fn has(&self, name: &str) -> bool {
        self.headers.iter().any(|(k, _)| k == name)
    }
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
