//! The observation record and how it is persisted in shared data.

use serde_json::{Map, Value, json};
use tollgate_kit::{Host, HostResult};

/// Shared-data key prefix for records.
pub const KEY_PREFIX: &str = "tollgate.conformance/";

/// An ordered list of observations for one stream (or the root).
#[derive(Debug, Default, Clone)]
pub struct Record {
    pub id: String,
    pub events: Vec<Value>,
}

impl Record {
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            events: Vec::new(),
        }
    }

    pub fn push(&mut self, event: Value) {
        self.events.push(event);
    }

    pub fn event(&mut self, name: &str, fields: Value) {
        let mut map = Map::new();
        map.insert("event".into(), Value::String(name.into()));
        if let Value::Object(fields) = fields {
            map.extend(fields);
        }
        self.events.push(Value::Object(map));
    }

    pub fn to_json(&self) -> Value {
        json!({ "id": self.id, "events": self.events })
    }

    /// Writes the record to shared data (unconditionally: one writer per id).
    pub fn flush(&self, host: &dyn Host) -> HostResult<()> {
        let bytes = serde_json::to_vec(&self.to_json()).unwrap_or_default();
        host.set_shared_data(&format!("{KEY_PREFIX}{}", self.id), Some(&bytes), None)
    }
}

/// Reads a persisted record as JSON text.
pub fn load(host: &dyn Host, id: &str) -> HostResult<Option<Vec<u8>>> {
    Ok(host.shared_data(&format!("{KEY_PREFIX}{id}"))?.value)
}

/// A hostcall result as `"Ok"` or the status name.
pub fn status<T>(result: &HostResult<T>) -> Value {
    match result {
        Ok(_) => Value::String("Ok".into()),
        Err(e) => Value::String(e.status.name().into()),
    }
}

/// Describes bytes without their value: for fields that differ between runs.
pub fn shape(bytes: &[u8]) -> Value {
    json!({ "len": bytes.len() })
}

pub fn text(bytes: &[u8]) -> Value {
    Value::String(String::from_utf8_lossy(bytes).into_owned())
}
