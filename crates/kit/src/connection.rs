//! The connection a request came on, read the way each host exposes it: Envoy's
//! attributes (`source.address` with its port) on Envoy and Kong, nginx variables
//! (`remote_addr` and `remote_port`, …) on APISIX.

use crate::facts::{HostFacts, HostKind};
use crate::host::Host;

fn text(host: &dyn Host, path: &[&str]) -> Option<String> {
    host.property(path)
        .ok()
        .flatten()
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|s| !s.is_empty())
}

/// `address:port` (`[v6]:port`), from nginx's separate variables.
fn join(address: Option<String>, port: Option<String>) -> Option<String> {
    address.map(|a| match port {
        Some(p) if a.contains(':') => format!("[{a}]:{p}"),
        Some(p) => format!("{a}:{p}"),
        None => a,
    })
}

/// The peer's address, with its port where the host gives it.
pub fn peer(host: &dyn Host, facts: HostFacts) -> Option<String> {
    match facts.kind {
        HostKind::Apisix => join(text(host, &["remote_addr"]), text(host, &["remote_port"])),
        HostKind::Envoy | HostKind::Kong => text(host, &["source", "address"]),
    }
}

/// The address the proxy accepted the connection on.
pub fn local(host: &dyn Host, facts: HostFacts) -> Option<String> {
    match facts.kind {
        HostKind::Apisix => join(text(host, &["server_addr"]), text(host, &["server_port"])),
        HostKind::Envoy | HostKind::Kong => text(host, &["destination", "address"]),
    }
}

/// The request's protocol (`HTTP/1.1`).
pub fn protocol(host: &dyn Host, facts: HostFacts) -> Option<String> {
    match facts.kind {
        HostKind::Apisix => text(host, &["server_protocol"]),
        HostKind::Envoy | HostKind::Kong => text(host, &["request", "protocol"]),
    }
}

#[cfg(test)]
#[path = "connection_tests.rs"]
mod tests;
