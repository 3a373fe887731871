//! Projects, gateway groups, and the documents they hold.

use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult};

/// Names of projects, groups, secrets, JWKS sets: lower-case letters, digits and `-`,
/// 1 to 63 characters, starting with a letter or digit. They become storage keys and
/// URL segments, so nothing else is allowed.
pub fn check_name(kind: &str, name: &str) -> ApiResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "{kind} name `{name}`: use 1 to 63 lower-case letters, digits and `-`, not starting with `-`"
        )))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    pub name: String,
    /// Pushes by policy authors become change requests a platform admin approves.
    pub require_approval: bool,
    pub created: String,
    pub created_by: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub name: String,
    pub project: String,
    /// The host its gateways run (`envoy`, `kong`, `apisix`): configs are validated for it.
    pub host: String,
    pub created: String,
    pub created_by: String,
}

pub fn project_key(name: &str) -> String {
    format!("projects/{name}")
}

pub fn group_key(project: &str, group: &str) -> String {
    format!("groups/{project}/{group}")
}

/// A versioned document of a project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Target {
    /// A filter's config for a gateway group.
    Config { group: String, filter: String },
    /// The group's Rego bundle (for rego-authz and for OPA pulling from us).
    Bundle { group: String },
    /// A JWKS set configs can reference by name.
    Jwks { name: String },
}

impl Target {
    /// The document's storage id.
    pub fn id(&self, project: &str) -> String {
        match self {
            Target::Config { group, filter } => {
                format!("{project}/groups/{group}/configs/{filter}")
            }
            Target::Bundle { group } => format!("{project}/groups/{group}/bundle"),
            Target::Jwks { name } => format!("{project}/jwks/{name}"),
        }
    }

    /// The id of `filter`'s config in `group` of `project`.
    pub fn config_id(project: &str, group: &str, filter: &str) -> String {
        Target::Config {
            group: group.into(),
            filter: filter.into(),
        }
        .id(project)
    }

    pub fn group(&self) -> Option<&str> {
        match self {
            Target::Config { group, .. } | Target::Bundle { group } => Some(group),
            Target::Jwks { .. } => None,
        }
    }

    /// The audit action for a change of this kind.
    pub fn action(&self) -> &'static str {
        match self {
            Target::Config { .. } => "config.set",
            Target::Bundle { .. } => "bundle.push",
            Target::Jwks { .. } => "jwks.set",
        }
    }

    /// Whether the content is JSON (configs, JWKS) or a bundle archive.
    pub fn is_json(&self) -> bool {
        !matches!(self, Target::Bundle { .. })
    }
}
