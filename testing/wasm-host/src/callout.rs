//! Scripted callout targets: what a cluster answers, after how long, or that it fails.

use std::sync::Arc;
use std::time::Duration;

use crate::exchange::UpstreamRequest;

/// How a cluster answers one HTTP callout.
#[derive(Debug, Clone)]
pub enum HttpReply {
    Respond {
        /// Response headers, `:status` included.
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        trailers: Vec<(String, String)>,
        delay: Duration,
    },
    /// The connection fails (reset, refused) after `delay`.
    Fail { delay: Duration },
    /// Never answers: the callout's own timeout fires.
    Hang,
}

impl HttpReply {
    pub fn status(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Self::Respond {
            headers: vec![(":status".into(), status.to_string())],
            body: body.into(),
            trailers: Vec::new(),
            delay: Duration::ZERO,
        }
    }

    pub fn ok(body: impl Into<Vec<u8>>) -> Self {
        Self::status(200, body)
    }

    pub fn fail() -> Self {
        Self::Fail {
            delay: Duration::ZERO,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        if let Self::Respond { headers, .. } = &mut self {
            headers.push((name.to_ascii_lowercase(), value.to_string()));
        }
        self
    }

    /// Delays the answer (or the failure) by `delay` of virtual time.
    pub fn after(mut self, by: Duration) -> Self {
        match &mut self {
            Self::Respond { delay, .. } | Self::Fail { delay } => *delay = by,
            Self::Hang => {}
        }
        self
    }
}

/// How a cluster answers one gRPC call.
#[derive(Debug, Clone)]
pub enum GrpcReply {
    Messages {
        messages: Vec<Vec<u8>>,
        delay: Duration,
    },
    Status {
        code: u32,
        message: String,
        delay: Duration,
    },
    Hang,
}

pub type HttpHandler = Arc<dyn Fn(&UpstreamRequest) -> HttpReply + Send + Sync>;
/// (service name, method, initial metadata, message) → reply.
pub type GrpcHandler =
    Arc<dyn Fn(&str, &str, &[(String, String)], &[u8]) -> GrpcReply + Send + Sync>;

/// A callout target: a cluster name (Envoy, Kong) or `host:port` (APISIX).
#[derive(Clone)]
pub struct Cluster {
    pub name: String,
    pub(crate) http: Option<HttpHandler>,
    pub(crate) grpc: Option<GrpcHandler>,
}

impl Cluster {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            http: None,
            grpc: None,
        }
    }

    pub fn http(
        mut self,
        handler: impl Fn(&UpstreamRequest) -> HttpReply + Send + Sync + 'static,
    ) -> Self {
        self.http = Some(Arc::new(handler));
        self
    }

    pub fn grpc(
        mut self,
        handler: impl Fn(&str, &str, &[(String, String)], &[u8]) -> GrpcReply + Send + Sync + 'static,
    ) -> Self {
        self.grpc = Some(Arc::new(handler));
        self
    }
}
