//! The test-facing request and response types.

use std::net::SocketAddr;

use crate::hostcall_log::HostcallRecord;
use tollgate_kit::LogLevel;

pub type Headers = Vec<(String, String)>;

fn find<'a>(headers: &'a Headers, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// A client request, sent in chunks.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub authority: String,
    pub headers: Headers,
    pub body_chunks: Vec<Vec<u8>>,
    pub trailers: Headers,
    /// Which worker VM takes the stream; round-robin when `None`.
    pub worker: Option<usize>,
    pub source: Option<SocketAddr>,
    /// Stream properties an earlier filter in the chain set (Envoy filter state).
    pub filter_state: Vec<(String, Vec<u8>)>,
}

impl Request {
    pub fn new(method: &str, path: &str) -> Self {
        Self {
            method: method.to_string(),
            path: path.to_string(),
            authority: "localhost".to_string(),
            headers: Vec::new(),
            body_chunks: Vec::new(),
            trailers: Vec::new(),
            worker: None,
            source: None,
            filter_state: Vec::new(),
        }
    }

    pub fn get(path: &str) -> Self {
        Self::new("GET", path)
    }

    pub fn post(path: &str, body: impl Into<Vec<u8>>) -> Self {
        Self::new("POST", path).chunk(body)
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .push((name.to_ascii_lowercase(), value.to_string()));
        self
    }

    pub fn authority(mut self, authority: &str) -> Self {
        self.authority = authority.to_string();
        self
    }

    /// Appends a body chunk; each chunk is one `on_request_body` delivery.
    pub fn chunk(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.body_chunks.push(bytes.into());
        self
    }

    pub fn trailer(mut self, name: &str, value: &str) -> Self {
        self.trailers
            .push((name.to_ascii_lowercase(), value.to_string()));
        self
    }

    /// A property an earlier filter set on this stream (`proxy_set_property`), e.g.
    /// jwt-auth's `tollgate_credentials` for hcp-auth.
    pub fn filter_state(mut self, key: &str, value: impl Into<Vec<u8>>) -> Self {
        self.filter_state.push((key.to_string(), value.into()));
        self
    }

    pub fn on_worker(mut self, worker: usize) -> Self {
        self.worker = Some(worker);
        self
    }
}

/// What reached the upstream (or a callout target).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpstreamRequest {
    /// All headers, pseudo-headers (`:method`, `:path`, `:authority`) included.
    pub headers: Headers,
    pub body: Vec<u8>,
    pub trailers: Headers,
}

impl UpstreamRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        find(&self.headers, name)
    }

    pub fn path(&self) -> &str {
        self.header(":path").unwrap_or("/")
    }

    pub fn method(&self) -> &str {
        self.header(":method").unwrap_or("GET")
    }
}

/// What the scripted upstream answers.
#[derive(Debug, Clone)]
pub struct UpstreamReply {
    pub status: u16,
    pub headers: Headers,
    pub body_chunks: Vec<Vec<u8>>,
    pub trailers: Headers,
}

impl UpstreamReply {
    pub fn new(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body_chunks: Vec::new(),
            trailers: Vec::new(),
        }
    }

    pub fn ok(body: impl Into<Vec<u8>>) -> Self {
        Self::new(200).chunk(body)
    }

    /// A response header, spelt as given: Envoy's codec lowercases names, the nginx
    /// hosts hand them to filters as the upstream spelt them.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn chunk(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        let bytes = bytes.into();
        if !bytes.is_empty() {
            self.body_chunks.push(bytes);
        }
        self
    }

    pub fn trailer(mut self, name: &str, value: &str) -> Self {
        self.trailers
            .push((name.to_ascii_lowercase(), value.to_string()));
        self
    }
}

/// What the client received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientResponse {
    pub status: u16,
    pub headers: Headers,
    pub body: Vec<u8>,
    pub trailers: Headers,
}

impl ClientResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        find(&self.headers, name)
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Everything one stream produced.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub client: ClientResponse,
    /// `None` when the filter answered locally or the stream failed before forwarding.
    pub upstream: Option<UpstreamRequest>,
    pub hostcalls: Vec<HostcallRecord>,
    pub logs: Vec<(LogLevel, String)>,
    /// The trap that ended this stream, if the filter trapped.
    pub trap: Option<String>,
}

impl Outcome {
    pub fn trapped(&self) -> bool {
        self.trap.is_some()
    }

    /// How many times the stream called `name`.
    pub fn hostcall_count(&self, name: &str) -> usize {
        self.hostcalls.iter().filter(|h| h.name == name).count()
    }
}
