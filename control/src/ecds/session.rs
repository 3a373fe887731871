//! One ECDS stream's state (xDS state of the world), without the transport: what the
//! gateway subscribed to, what was last sent under which nonce, and what each request
//! acknowledges or refuses. Plain data in, plain data out, tested natively.

use std::collections::BTreeSet;

use envoy_types::pb::envoy::service::discovery::v3::{DiscoveryRequest, DiscoveryResponse};
use envoy_types::pb::google::protobuf::Any;

use super::resource::{Name, TYPE_URL};

/// One resource as built for a response.
#[derive(Debug, Clone, PartialEq)]
pub struct Built {
    pub name: Name,
    pub revision: u64,
    /// What exactly it is: the resolved config's and the module's digests.
    pub version: String,
    pub resource: Any,
}

/// The last response sent.
#[derive(Debug, Clone, PartialEq)]
struct Sent {
    nonce: String,
    version: String,
    resources: Vec<Built>,
}

/// What a request says about the last response.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Nothing: the first request, or one about an older response (its nonce is stale).
    None,
    /// The gateway applied these.
    Ack(Vec<Built>),
    /// The gateway refused these, with its reason.
    Nack(Vec<Built>, String),
}

/// What to do after a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub verdict: Verdict,
    /// The subscription changed: build and send.
    pub resubscribed: bool,
    /// Names that are not resources of this service, with why (logged, never sent).
    pub rejected: Vec<String>,
}

#[derive(Debug, Default)]
pub struct Session {
    node: Option<String>,
    names: BTreeSet<Name>,
    sent: Option<Sent>,
    responses: u64,
}

impl Session {
    /// The gateway's node id (from its first request).
    pub fn node(&self) -> Option<&str> {
        self.node.as_deref()
    }

    pub fn names(&self) -> impl Iterator<Item = &Name> {
        self.names.iter()
    }

    /// Takes a request. An `Err` ends the stream: a wrong type, or no node id.
    pub fn on_request(&mut self, request: &DiscoveryRequest) -> Result<Step, String> {
        if !request.type_url.is_empty() && request.type_url != TYPE_URL {
            return Err(format!(
                "this stream serves {TYPE_URL}, not {}",
                request.type_url
            ));
        }
        if self.node.is_none() {
            let id = request.node.as_ref().map(|n| n.id.as_str()).unwrap_or("");
            crate::fleet::check_gateway_id(id).map_err(|e| format!("node id: {e}"))?;
            self.node = Some(id.to_string());
        }
        let verdict = match &self.sent {
            Some(sent) if sent.nonce == request.response_nonce => match &request.error_detail {
                Some(status) => Verdict::Nack(sent.resources.clone(), status.message.clone()),
                None => Verdict::Ack(sent.resources.clone()),
            },
            _ => Verdict::None,
        };
        let mut rejected = Vec::new();
        let mut names = BTreeSet::new();
        for text in &request.resource_names {
            match Name::parse(text) {
                Ok(name) => {
                    names.insert(name);
                }
                Err(e) => rejected.push(e),
            }
        }
        // The first request always gets an answer; later ones only when the set moved.
        let resubscribed = names != self.names || self.sent.is_none();
        self.names = names;
        Ok(Step {
            verdict,
            resubscribed,
            rejected,
        })
    }

    /// The response carrying `built` (every subscribed resource that exists), or `None`
    /// when the gateway already has exactly that and nothing forces a resend, or when
    /// there is nothing to send: Envoy takes an ECDS response without its resource as
    /// a failed first fetch and would start the listener without the filter's config,
    /// so a gateway waits (warming) until its group has the config.
    pub fn respond(&mut self, built: Vec<Built>, force: bool) -> Option<DiscoveryResponse> {
        if built.is_empty() {
            return None;
        }
        let version = response_version(&built);
        if !force && self.sent.as_ref().is_some_and(|s| s.version == version) {
            return None;
        }
        self.responses += 1;
        let nonce = format!("{}-{}", self.responses, &version[..8.min(version.len())]);
        let response = DiscoveryResponse {
            version_info: version.clone(),
            resources: built.iter().map(|b| b.resource.clone()).collect(),
            type_url: TYPE_URL.into(),
            nonce: nonce.clone(),
            ..DiscoveryResponse::default()
        };
        self.sent = Some(Sent {
            nonce,
            version,
            resources: built,
        });
        Some(response)
    }
}

/// A response's version: a digest of its resources' names and versions, so it moves
/// exactly when one of them does.
fn response_version(built: &[Built]) -> String {
    let mut text = String::new();
    for b in built {
        text.push_str(&b.name.to_string());
        text.push('=');
        text.push_str(&b.version);
        text.push('\n');
    }
    let digest = crate::docs::digest(text.as_bytes());
    digest.get(..16).unwrap_or(&digest).to_string()
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
