//! References in configs, resolved only into what gateways receive (and, in memory,
//! into what validation compiles):
//!
//! * `{"secret": "name"}` (optionally `"version": N`): a project secret's value;
//! * `{"jwks_ref": "name"}`: a project JWKS set (the current revision);
//! * `{"bundle_ref": "group"}`: a group's signed Rego bundle, base64 (what
//!   rego-authz's `policy.bundle` takes);
//! * `{"signing_keys_ref": "distribution"}`: the public keys that verify it, as
//!   rego-authz's `policy.signing.keys` takes them (the current key and those in their
//!   grace period), so gateways verify what they receive.
//!
//! A reference to something that does not exist is refused, naming its path.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::docs;
use crate::error::{ApiError, ApiResult, code};
use crate::model::Target;
use crate::secrets;
use crate::state::Control;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    Secret { name: String, version: Option<u64> },
    Jwks { name: String },
    Bundle { group: String },
    SigningKeys,
}

/// The reference `value` is, if it is one.
fn reference(value: &Value) -> Option<Reference> {
    let obj = value.as_object()?;
    let text = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_string);
    match obj.len() {
        1 => {
            if let Some(name) = text("secret") {
                return Some(Reference::Secret {
                    name,
                    version: None,
                });
            }
            if let Some(name) = text("jwks_ref") {
                return Some(Reference::Jwks { name });
            }
            if text("signing_keys_ref").as_deref() == Some("distribution") {
                return Some(Reference::SigningKeys);
            }
            text("bundle_ref").map(|group| Reference::Bundle { group })
        }
        2 => {
            let name = text("secret")?;
            let version = obj.get("version")?.as_u64()?;
            Some(Reference::Secret {
                name,
                version: Some(version),
            })
        }
        _ => None,
    }
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Every reference in `value`, with its path (`a.b[2].c`).
pub fn collect(value: &Value, path: &str, out: &mut Vec<(String, Reference)>) {
    if let Some(r) = reference(value) {
        out.push((path.to_string(), r));
        return;
    }
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                collect(v, &child(path, k), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                collect(v, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn substitute(value: &mut Value, path: &str, resolved: &BTreeMap<String, Value>) {
    if let Some(v) = resolved.get(path)
        && reference(value).is_some()
    {
        *value = v.clone();
        return;
    }
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                substitute(v, &child(path, k), resolved);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter_mut().enumerate() {
                substitute(v, &format!("{path}[{i}]"), resolved);
            }
        }
        _ => {}
    }
}

/// A config with its references replaced, and the secret texts it now holds (so
/// messages about it can be scrubbed).
pub struct Resolved {
    pub value: Value,
    pub secret_texts: Vec<String>,
}

impl Resolved {
    /// `message` with every secret text replaced by `<secret>`.
    pub fn scrub(&self, message: &str) -> String {
        self.secret_texts.iter().fold(message.to_string(), |m, s| {
            m.replace(s.as_str(), "<secret>")
        })
    }
}

fn secret_texts(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) if s.len() >= 4 => out.push(s.clone()),
        Value::Object(map) => map.values().for_each(|v| secret_texts(v, out)),
        Value::Array(items) => items.iter().for_each(|v| secret_texts(v, out)),
        _ => {}
    }
    if !matches!(value, Value::String(_)) {
        out.push(value.to_string());
    }
}

/// Resolves every reference in `value` for `project`.
pub async fn resolve(ctl: &Control, project: &str, value: &Value) -> ApiResult<Resolved> {
    let mut refs = Vec::new();
    collect(value, "", &mut refs);
    let mut resolved = BTreeMap::new();
    let mut texts = Vec::new();
    for (path, r) in refs {
        let v = match r {
            Reference::Secret { name, version } => {
                let v = secrets::resolve(ctl, project, &name, version, &path).await?;
                secret_texts(&v, &mut texts);
                v
            }
            Reference::Jwks { name } => {
                let id = Target::Jwks { name: name.clone() }.id(project);
                let (head, _) = docs::head(&ctl.store, &id).await?;
                let head = head.ok_or_else(|| {
                    missing(
                        &path,
                        format!("JWKS set `{name}` does not exist in project `{project}`"),
                    )
                })?;
                let bytes = docs::blob(&ctl.store, &head.sha256).await?;
                serde_json::from_slice(&bytes).map_err(ApiError::internal)?
            }
            Reference::Bundle { group } => {
                let id = Target::Bundle {
                    group: group.clone(),
                }
                .id(project);
                let (head, _) = docs::head(&ctl.store, &id).await?;
                let head =
                    head.ok_or_else(|| missing(&path, format!("group `{group}` has no bundle")))?;
                let sha = head.distributed_sha256.unwrap_or(head.sha256);
                Value::String(STANDARD.encode(docs::blob(&ctl.store, &sha).await?))
            }
            Reference::SigningKeys => {
                crate::signing::signer(&ctl.store, &ctl.master, crate::signing::Ring::Distribution)
                    .await?;
                let keys = crate::signing::verifying_keys(
                    &ctl.store,
                    crate::signing::Ring::Distribution,
                    ctl.settings.key_grace_seconds,
                )
                .await?;
                Value::Object(
                    keys.into_iter()
                        .map(|k| (k.kid, json!({"algorithm": "EdDSA", "key": k.public_pem})))
                        .collect(),
                )
            }
        };
        resolved.insert(path, v);
    }
    let mut value = value.clone();
    substitute(&mut value, "", &resolved);
    texts.sort_by_key(|t| std::cmp::Reverse(t.len()));
    Ok(Resolved {
        value,
        secret_texts: texts,
    })
}

fn missing(path: &str, why: String) -> ApiError {
    let at = if path.is_empty() { "(root)" } else { path };
    ApiError::unprocessable(code::MISSING_REFERENCE, format!("{at}: {why}"))
        .with_details(json!({ "path": path }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_found_with_their_paths() {
        let v = json!({
            "a": {"secret": "k"},
            "b": [{"x": {"secret": "k2", "version": 3}}, {"jwks_ref": "idp"}],
            "c": {"bundle_ref": "prod"},
            "k": {"signing_keys_ref": "distribution"},
            "d": {"secret": "not", "other": 1},
            "e": {"secret": 5},
        });
        let mut out = Vec::new();
        collect(&v, "", &mut out);
        assert_eq!(
            out,
            vec![
                (
                    "a".into(),
                    Reference::Secret {
                        name: "k".into(),
                        version: None
                    }
                ),
                (
                    "b[0].x".into(),
                    Reference::Secret {
                        name: "k2".into(),
                        version: Some(3)
                    }
                ),
                ("b[1]".into(), Reference::Jwks { name: "idp".into() }),
                (
                    "c".into(),
                    Reference::Bundle {
                        group: "prod".into()
                    }
                ),
                ("k".into(), Reference::SigningKeys),
            ]
        );
    }

    #[test]
    fn substitution_replaces_only_references() {
        let mut v = json!({"a": {"secret": "k"}, "b": {"secret": "k", "extra": 1}});
        let resolved = BTreeMap::from([
            ("a".to_string(), json!("value")),
            ("b".to_string(), json!("no")),
        ]);
        substitute(&mut v, "", &resolved);
        assert_eq!(v, json!({"a": "value", "b": {"secret": "k", "extra": 1}}));
    }

    #[test]
    fn scrubbing_hides_every_secret_text() {
        let mut texts = Vec::new();
        secret_texts(&json!({"k": "s3cr3t-value", "n": 1}), &mut texts);
        let r = Resolved {
            value: Value::Null,
            secret_texts: texts,
        };
        assert_eq!(
            r.scrub("bad key s3cr3t-value here"),
            "bad key <secret> here"
        );
    }
}
