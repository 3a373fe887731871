//! The in-process upstream: an HTTP/1.1 + h2c server on loopback that echoes what it
//! received, and answers gRPC `tollgate.test.Echo/Say`. The echo logic is a plain
//! function ([`echo`]) so the wasmtime host's scripted upstream answers identically.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::{Context as _, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming};
use hyper::header::{HeaderMap, HeaderValue};
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::json;

/// What the echo upstream answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EchoReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// How long the server waits before answering (`/slow`).
    pub delay: Duration,
}

/// The echo upstream's answer to a request: a JSON description of what it received.
/// `/slow…` answers after 3 s; `/status/<code>` answers with that status;
/// `/etag/<tag>…` is a cacheable resource (`ETag: "<tag>"`, `Cache-Control: max-age=1`)
/// that answers a matching `If-None-Match` with 304.
pub fn echo(method: &str, path: &str, headers: &[(String, String)], body: &[u8]) -> EchoReply {
    if let Some(tag) = path
        .strip_prefix("/etag/")
        .and_then(|rest| rest.split(['/', '?']).next())
    {
        let etag = format!("\"{tag}\"");
        let matches = headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("if-none-match") && *v == etag);
        let mut reply = echo(method, "/", headers, body);
        reply.headers.push(("etag".into(), etag));
        reply
            .headers
            .push(("cache-control".into(), "max-age=1".into()));
        if matches {
            reply.status = 304;
            reply.body.clear();
        }
        return reply;
    }
    let status = path
        .strip_prefix("/status/")
        .and_then(|rest| rest.split(['/', '?']).next())
        .and_then(|code| code.parse::<u16>().ok())
        .filter(|c| (200..600).contains(c))
        .unwrap_or(200);
    let delay = if path.starts_with("/slow") {
        Duration::from_secs(3)
    } else {
        Duration::ZERO
    };
    let body = json!({
        "method": method,
        "path": path,
        "headers": headers.iter().map(|(n, v)| [n.as_str(), v.as_str()]).collect::<Vec<_>>(),
        "body": String::from_utf8_lossy(body),
    });
    EchoReply {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: serde_json::to_vec(&body).unwrap_or_default(),
        delay,
    }
}

/// Frames one gRPC message (uncompressed).
pub fn grpc_frame(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 5);
    out.push(0);
    out.extend_from_slice(
        &u32::try_from(message.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    out.extend_from_slice(message);
    out
}

/// The message inside one gRPC frame.
pub fn grpc_unframe(frame: &[u8]) -> Option<&[u8]> {
    let len = u32::from_be_bytes(frame.get(1..5)?.try_into().ok()?) as usize;
    frame.get(5..5 + len)
}

/// A request the upstream saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Fixed answers by exact path, served instead of the echo (a JWKS, an outage).
type Routes = Arc<Mutex<std::collections::HashMap<String, (u16, Vec<u8>, Duration)>>>;

/// The last requests received, at most `capacity` (a ring: memory stays flat under
/// any load).
#[derive(Debug, Default)]
struct Recent {
    capacity: usize,
    requests: std::collections::VecDeque<Seen>,
}

impl Recent {
    fn push(&mut self, seen: Seen) {
        if self.capacity == 0 {
            return;
        }
        if self.requests.len() >= self.capacity {
            self.requests.pop_front();
        }
        self.requests.push_back(seen);
    }
}

type Memory = Arc<Mutex<Recent>>;

/// How many requests [`Upstream::start`] remembers for tests to inspect.
pub const REMEMBERED: usize = 4096;

pub struct Upstream {
    addr: SocketAddr,
    seen: Memory,
    routes: Routes,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Upstream {
    /// Starts the server on 127.0.0.1 with a free port, remembering the last
    /// [`REMEMBERED`] requests.
    pub fn start() -> Result<Self> {
        Self::start_remembering(REMEMBERED)
    }

    /// Like [`Self::start`], remembering at most `capacity` requests (`0`: none, for a
    /// server that runs for hours).
    pub fn start_remembering(capacity: usize) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .context("binding the upstream")?;
        let addr = listener.local_addr()?;
        let seen = Arc::new(Mutex::new(Recent {
            capacity,
            requests: std::collections::VecDeque::new(),
        }));
        let seen_server = Arc::clone(&seen);
        let routes: Routes = Arc::default();
        let routes_server = Arc::clone(&routes);
        runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let seen = Arc::clone(&seen_server);
                let routes = Arc::clone(&routes_server);
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        handle(req, Arc::clone(&seen), Arc::clone(&routes))
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self {
            addr,
            seen,
            routes,
            runtime: Some(runtime),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Answers `path` (exact, query ignored) with `status` and `body` from now on.
    pub fn route(&self, path: &str, status: u16, body: impl Into<Vec<u8>>) {
        self.route_after(path, status, body, Duration::ZERO);
    }

    /// Like [`Self::route`], answering after `delay` (a slow issuer).
    pub fn route_after(&self, path: &str, status: u16, body: impl Into<Vec<u8>>, delay: Duration) {
        self.routes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(path.to_string(), (status, body.into(), delay));
    }

    /// How many requests for `path` (query ignored) arrived, among those remembered.
    pub fn hits(&self, path: &str) -> usize {
        self.seen()
            .iter()
            .filter(|s| s.path.split('?').next() == Some(path))
            .count()
    }

    /// The requests remembered (the last ones received, oldest first).
    pub fn seen(&self) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .requests
            .iter()
            .cloned()
            .collect()
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_secs(1));
        }
    }
}

type Reply = Response<ReplyBody>;

async fn handle(req: Request<Incoming>, seen: Memory, routes: Routes) -> Result<Reply, Infallible> {
    let method = req.method().to_string();
    let path = req
        .uri()
        .path_and_query()
        .map_or("/".to_string(), ToString::to_string);
    let mut headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    if let Some(authority) = req.uri().authority()
        && !headers.iter().any(|(n, _)| n == "host")
    {
        headers.push(("host".into(), authority.to_string()));
    }
    let grpc = req
        .headers()
        .get("content-type")
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"));
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    seen.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Seen {
            method: method.clone(),
            path: path.clone(),
            headers: headers.clone(),
            body: body.clone(),
        });
    if grpc {
        return Ok(grpc_reply(&path, &body));
    }
    let fixed = routes
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(path.split('?').next().unwrap_or_default())
        .cloned();
    if let Some((status, body, delay)) = fixed {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let mut response = Response::new(ReplyBody::full(body));
        *response.status_mut() =
            hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::OK);
        response
            .headers_mut()
            .insert("content-type", HeaderValue::from_static("application/json"));
        return Ok(response);
    }
    let reply = echo(&method, &path, &headers, &body);
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut response = Response::new(ReplyBody::full(reply.body));
    *response.status_mut() =
        hyper::StatusCode::from_u16(reply.status).unwrap_or(hyper::StatusCode::OK);
    for (n, v) in reply.headers {
        if let (Ok(n), Ok(v)) = (
            hyper::header::HeaderName::from_bytes(n.as_bytes()),
            HeaderValue::from_str(&v),
        ) {
            response.headers_mut().insert(n, v);
        }
    }
    Ok(response)
}

fn grpc_reply(path: &str, body: &[u8]) -> Reply {
    let (status, message) = match (path, grpc_unframe(body)) {
        ("/tollgate.test.Echo/Say", Some(msg)) => {
            ("0", Some(grpc_frame(&[b"echo: ".as_slice(), msg].concat())))
        }
        _ => ("12", None),
    };
    let mut trailers = HeaderMap::new();
    trailers.insert(
        "grpc-status",
        HeaderValue::from_static(if status == "0" { "0" } else { "12" }),
    );
    let mut response = Response::new(ReplyBody {
        data: message.map(Bytes::from),
        trailers: Some(trailers),
        full: None,
    });
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("application/grpc"));
    response
}

/// A body of one data frame and optional trailers (gRPC needs trailers).
pub struct ReplyBody {
    data: Option<Bytes>,
    trailers: Option<HeaderMap>,
    full: Option<Full<Bytes>>,
}

impl ReplyBody {
    fn full(body: Vec<u8>) -> Self {
        Self {
            data: None,
            trailers: None,
            full: Some(Full::new(Bytes::from(body))),
        }
    }
}

impl Body for ReplyBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if let Some(full) = self.full.as_mut() {
            return Pin::new(full).poll_frame(cx);
        }
        if let Some(data) = self.data.take() {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        Poll::Ready(self.trailers.take().map(|t| Ok(Frame::trailers(t))))
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        match &self.full {
            Some(full) => full.size_hint(),
            None => hyper::body::SizeHint::default(),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.full {
            Some(full) => full.is_end_stream(),
            None => self.data.is_none() && self.trailers.is_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_describes_the_request() {
        let r = echo(
            "POST",
            "/status/418?x=1",
            &[("x-a".into(), "1".into())],
            b"hi",
        );
        assert_eq!(r.status, 418);
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["body"], "hi");
        assert_eq!(v["headers"][0][0], "x-a");
        assert_eq!(echo("GET", "/slow", &[], b"").delay, Duration::from_secs(3));
        let tagged = echo("GET", "/etag/v1", &[], b"");
        assert_eq!(tagged.status, 200);
        assert!(tagged.headers.contains(&("etag".into(), "\"v1\"".into())));
        let again = echo(
            "GET",
            "/etag/v1",
            &[("If-None-Match".into(), "\"v1\"".into())],
            b"",
        );
        assert_eq!((again.status, again.body.len()), (304, 0));
    }

    #[test]
    fn grpc_framing_round_trips() {
        assert_eq!(grpc_unframe(&grpc_frame(b"abc")), Some(&b"abc"[..]));
        assert_eq!(grpc_unframe(&[0, 0, 0, 0, 9, 1]), None);
    }
}
