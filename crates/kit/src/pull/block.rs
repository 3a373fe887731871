//! The `control` block of a plugin configuration: where the control service is and
//! who this gateway is. The rest of the configuration, if any, is the filter's own
//! config to start with (the last good one, until the first pull).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

fn default_poll_seconds() -> u64 {
    10
}
fn default_timeout_ms() -> u64 {
    5_000
}
fn default_authority() -> String {
    "tollgate-control".into()
}

/// Where and how to pull.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlBlock {
    /// The control service: a cluster name (Envoy) or `host:port` (Kong).
    pub upstream: String,
    /// The `:authority` sent. Default `tollgate-control`.
    #[serde(default = "default_authority")]
    pub authority: String,
    pub project: String,
    pub group: String,
    /// This gateway's id in the group's fleet view.
    pub gateway: String,
    /// A gateway token of the project.
    pub token: String,
    /// How often to poll. Default 10, at least 1.
    #[serde(default = "default_poll_seconds")]
    pub poll_seconds: u64,
    /// How long a poll may take. Default 5000.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// The keys that verify documents, by key id (PEM, as `/v1/signing-keys` lists them).
    pub public_keys: BTreeMap<String, String>,
}

/// A plugin configuration split in two: the control block, if any, and the filter's
/// own config (what is left, if anything).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    pub control: Option<ControlBlock>,
    pub config: Option<Vec<u8>>,
}

/// Splits `bytes`. Without a `control` key (or when it is not a JSON object) the
/// config is returned whole, untouched.
pub fn split(bytes: &[u8]) -> Result<Split, String> {
    let whole = || Split {
        control: None,
        config: Some(bytes.to_vec()),
    };
    let Ok(Value::Object(mut map)) = serde_json::from_slice::<Value>(bytes) else {
        return Ok(whole());
    };
    let Some(block) = map.remove("control") else {
        return Ok(whole());
    };
    let de = serde_path_to_error::deserialize::<_, ControlBlock>(block);
    let control = de.map_err(|e| {
        let path = e.path().to_string();
        let at = if path == "." {
            String::new()
        } else {
            format!(".{path}")
        };
        format!("control{at}: {}", e.inner())
    })?;
    check(&control)?;
    let config = if map.is_empty() {
        None
    } else {
        Some(serde_json::to_vec(&Value::Object(map)).map_err(|e| e.to_string())?)
    };
    Ok(Split {
        control: Some(control),
        config,
    })
}

/// A gateway id: 1 to 256 printable ASCII characters (the control service's fleet
/// view keys its records by it, and takes what this allows).
pub fn valid_gateway_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 256 && id.bytes().all(|b| b.is_ascii_graphic())
}

fn check(c: &ControlBlock) -> Result<(), String> {
    let names = [("project", &c.project), ("group", &c.group)];
    for (field, name) in names {
        let ok = !name.is_empty()
            && name.len() <= 63
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !ok {
            return Err(format!(
                "control.{field}: `{name}` is not a project or group name"
            ));
        }
    }
    if !valid_gateway_id(&c.gateway) {
        return Err("control.gateway: 1 to 256 printable ASCII characters".into());
    }
    if c.upstream.is_empty() {
        return Err("control.upstream: a cluster name or host:port".into());
    }
    if c.token.is_empty() || !c.token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("control.token: a gateway token".into());
    }
    if c.poll_seconds == 0 {
        return Err("control.poll_seconds: at least 1".into());
    }
    if c.public_keys.is_empty() {
        return Err("control.public_keys: at least one key, or nothing can be trusted".into());
    }
    for (kid, pem) in &c.public_keys {
        super::signature::key_from_pem(pem)
            .map_err(|e| format!("control.public_keys.{kid}: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
#[path = "block_tests.rs"]
mod tests;
