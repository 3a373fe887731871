//! Envoy attributes for `proxy_get_property`, encoded as Envoy encodes them: strings as
//! bytes, integers and timestamps as 8-byte little-endian, booleans as one byte, maps
//! as header pairs. Addresses include the port (`127.0.0.1:5000`).

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use tollgate_kit::{Status, pairs};

use crate::exchange::Headers;
use crate::vm::PluginShared;

/// Per-stream attributes.
#[derive(Debug, Clone)]
pub struct StreamInfo {
    pub request_headers: Headers,
    pub request_id: String,
    pub start: SystemTime,
    pub source: SocketAddr,
    pub destination: SocketAddr,
    pub connection_id: u64,
    pub request_size: u64,
    pub response_code: Option<u16>,
}

fn int(v: i64) -> Vec<u8> {
    v.to_le_bytes().to_vec()
}

fn header<'a>(headers: &'a Headers, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Looks up `path` (segments) for the given stream, or for the root when `info` is `None`.
pub fn lookup(
    plugin: &PluginShared,
    info: Option<&StreamInfo>,
    path: &[String],
) -> Result<Vec<u8>, Status> {
    let segs: Vec<&str> = path.iter().map(String::as_str).collect();
    match segs.as_slice() {
        ["plugin_name"] => return Ok(plugin.name.clone().into_bytes()),
        ["plugin_root_id"] => return Ok(plugin.root_id.clone().into_bytes()),
        ["plugin_vm_id"] => return Ok(plugin.vm_id.clone().into_bytes()),
        _ => {}
    }
    let info = info.ok_or(Status::NotFound)?;
    let h = &info.request_headers;
    let path_value = header(h, ":path").unwrap_or("/");
    let (url_path, query) = path_value.split_once('?').unwrap_or((path_value, ""));
    let text = |v: Option<&str>| v.map(|s| s.as_bytes().to_vec()).ok_or(Status::NotFound);
    match segs.as_slice() {
        ["request", "path"] => text(Some(path_value)),
        ["request", "url_path"] => text(Some(url_path)),
        ["request", "query"] => text(Some(query)),
        ["request", "host"] => text(header(h, ":authority")),
        ["request", "scheme"] => text(header(h, ":scheme")),
        ["request", "method"] => text(header(h, ":method")),
        ["request", "protocol"] => text(Some("HTTP/1.1")),
        ["request", "useragent"] => text(header(h, "user-agent")),
        ["request", "referer"] => text(header(h, "referer")),
        ["request", "id"] => text(Some(&info.request_id)),
        ["request", "headers"] => Ok(pairs::encode(h)),
        ["request", "headers", name] => text(header(h, &name.to_ascii_lowercase())),
        ["request", "time"] => {
            let nanos = info
                .start
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            Ok(int(i64::try_from(nanos).unwrap_or(i64::MAX)))
        }
        ["request", "size"] => Ok(int(i64::try_from(info.request_size).unwrap_or(i64::MAX))),
        ["source", "address"] => text(Some(&info.source.to_string())),
        ["source", "port"] => Ok(int(i64::from(info.source.port()))),
        ["destination", "address"] => text(Some(&info.destination.to_string())),
        ["destination", "port"] => Ok(int(i64::from(info.destination.port()))),
        ["connection", "id"] => Ok(int(i64::try_from(info.connection_id).unwrap_or(i64::MAX))),
        ["connection", "mtls"] => Ok(vec![0]),
        ["response", "code"] => info
            .response_code
            .map(|c| int(i64::from(c)))
            .ok_or(Status::NotFound),
        _ => Err(Status::NotFound),
    }
}
