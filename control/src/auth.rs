//! Who is calling, and what they may do.
//!
//! * API tokens (`tgt_<id>_<secret>`) are issued by an admin, shown once, stored as a
//!   SHA-256 of the secret, and revocable. Scripts and gateways use them directly.
//! * `POST /v1/login` exchanges an API token for a short-lived session token (an EdDSA
//!   JWT from the session key ring) naming the API token; revoking the API token ends
//!   its sessions too, because every request re-reads the token's record.
//! * Grants: `admin` and `platform-admin` are global; `policy-author`, `viewer` and
//!   `gateway` are per project.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq as _;

use crate::error::{ApiError, ApiResult};
use crate::ledger;
use crate::signing::{self, Ring};
use crate::store::SharedStore;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Everything.
    Admin,
    /// Projects, groups, approvals, and every project's documents.
    PlatformAdmin,
    /// Pushes a project's configs and bundles (through approval when the project asks).
    PolicyAuthor,
    /// Reads a project's documents, history and audit-free metadata.
    Viewer,
    /// A gateway: pulls a project's signed, resolved documents (secrets included).
    Gateway,
}

impl Role {
    pub fn global(self) -> bool {
        matches!(self, Role::Admin | Role::PlatformAdmin)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    pub role: Role,
    /// Required for project roles, absent for global ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
}

/// What a route needs (the route table in `routes.rs` names one per route).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Anyone, unauthenticated: health, readiness, the OpenAPI document, public keys.
    Public,
    /// Any valid token.
    Authenticated,
    Admin,
    PlatformAdmin,
    /// `policy-author` of the path's project, or a platform admin.
    Author,
    /// Any reader of the path's project.
    Viewer,
    /// A gateway of the path's project or a reader: bundles (no secrets in them).
    Pull,
    /// A gateway of the path's project only (not even an admin): documents with
    /// secrets resolved.
    Gateway,
}

/// The caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub subject: String,
    pub token_id: String,
    pub grants: Vec<Grant>,
}

impl Principal {
    fn has(&self, role: Role, project: Option<&str>) -> bool {
        self.grants
            .iter()
            .any(|g| g.role == role && (role.global() || g.project.as_deref() == project))
    }

    /// Whether this principal satisfies `need` for `project` (the path's, if any).
    pub fn allowed(&self, need: Need, project: Option<&str>) -> bool {
        // Resolved documents hold secrets: only the project's gateways read them, not
        // even an admin (who can issue a gateway token, which the audit log records).
        if need == Need::Gateway {
            return project.is_some() && self.has(Role::Gateway, project);
        }
        if self.has(Role::Admin, None) {
            return true;
        }
        let platform = self.has(Role::PlatformAdmin, None);
        let in_project =
            |roles: &[Role]| project.is_some() && roles.iter().any(|r| self.has(*r, project));
        match need {
            Need::Public | Need::Authenticated => true,
            Need::Admin => false,
            Need::PlatformAdmin => platform,
            Need::Author => platform || in_project(&[Role::PolicyAuthor]),
            Need::Viewer => platform || in_project(&[Role::PolicyAuthor, Role::Viewer]),
            Need::Pull => {
                platform || in_project(&[Role::PolicyAuthor, Role::Viewer, Role::Gateway])
            }
            Need::Gateway => false,
        }
    }

    /// Whether the project is visible to this principal at all.
    pub fn sees(&self, project: &str) -> bool {
        self.allowed(Need::Pull, Some(project))
    }
}

/// An API token as stored (the secret only as its SHA-256).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenRecord {
    pub id: String,
    pub subject: String,
    pub grants: Vec<Grant>,
    pub created: u64,
    pub created_by: String,
    #[serde(default)]
    pub expires: Option<u64>,
    #[serde(default)]
    pub revoked: Option<u64>,
    pub secret_sha256: String,
}

impl TokenRecord {
    /// What read APIs show (no digest).
    pub fn public(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id, "subject": self.subject, "grants": self.grants,
            "created": self.created, "created_by": self.created_by,
            "expires": self.expires, "revoked": self.revoked,
        })
    }

    fn usable(&self, now: u64) -> Result<(), &'static str> {
        if self.revoked.is_some() {
            return Err("the token was revoked");
        }
        if self.expires.is_some_and(|e| e <= now) {
            return Err("the token expired");
        }
        Ok(())
    }
}

pub fn token_key(id: &str) -> String {
    format!("tokens/{id}")
}

/// A new API token: its record and the one-time secret text.
pub fn mint(
    subject: &str,
    grants: Vec<Grant>,
    expires: Option<u64>,
    by: &str,
) -> (TokenRecord, String) {
    let mut id = [0u8; 8];
    let mut secret = [0u8; 32];
    OsRng.fill_bytes(&mut id);
    OsRng.fill_bytes(&mut secret);
    let id = hex::encode(id);
    let secret = URL_SAFE_NO_PAD.encode(secret);
    let record = TokenRecord {
        id: id.clone(),
        subject: subject.into(),
        grants,
        created: ledger::now_unix(),
        created_by: by.into(),
        expires,
        revoked: None,
        secret_sha256: hex::encode(Sha256::digest(secret.as_bytes())),
    };
    (record, format!("tgt_{id}_{secret}"))
}

/// Checks grants are well formed: project roles name a project, global ones none.
pub fn check_grants(grants: &[Grant]) -> ApiResult<()> {
    for g in grants {
        match (g.role.global(), &g.project) {
            (true, Some(_)) => {
                return Err(ApiError::bad_request(format!(
                    "{:?} is a global role: it takes no project",
                    g.role
                )));
            }
            (false, None) => {
                return Err(ApiError::bad_request(format!(
                    "{:?} is a project role: name the project",
                    g.role
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

#[derive(Debug, Serialize, Deserialize)]
pub struct SessionClaims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    /// The API token this session came from.
    pub tid: String,
    pub iat: u64,
    pub exp: u64,
}

const ISSUER: &str = "tollgate-control";

async fn load_token(store: &SharedStore, id: &str) -> ApiResult<Option<TokenRecord>> {
    Ok(crate::records::get(store, &token_key(id))
        .await?
        .map(|(t, _)| t))
}

/// The principal behind an `Authorization` header's bearer credential.
pub async fn authenticate(
    store: &SharedStore,
    bearer: &str,
    session_grace: u64,
) -> ApiResult<Principal> {
    let now = ledger::now_unix();
    let token_id = if let Some(rest) = bearer.strip_prefix("tgt_") {
        let (id, secret) = rest
            .split_once('_')
            .ok_or_else(|| ApiError::unauthenticated("malformed API token"))?;
        let record = load_token(store, id)
            .await?
            .ok_or_else(|| ApiError::unauthenticated("unknown API token"))?;
        let presented = hex::encode(Sha256::digest(secret.as_bytes()));
        if !bool::from(presented.as_bytes().ct_eq(record.secret_sha256.as_bytes())) {
            return Err(ApiError::unauthenticated("unknown API token"));
        }
        record.id
    } else {
        let keys = signing::verifying_keys(store, Ring::Session, session_grace).await?;
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[ISSUER]);
        validation.leeway = 5;
        let claims: SessionClaims = signing::verify_claims(bearer, &keys, &validation)
            .map_err(|e| ApiError::unauthenticated(format!("invalid session token: {e}")))?;
        claims.tid
    };
    let record = load_token(store, &token_id)
        .await?
        .ok_or_else(|| ApiError::unauthenticated("unknown API token"))?;
    record.usable(now).map_err(ApiError::unauthenticated)?;
    Ok(Principal {
        subject: record.subject,
        token_id: record.id,
        grants: record.grants,
    })
}

/// A session token for `principal`, valid `ttl` seconds.
pub fn session_claims(principal: &Principal, ttl: u64) -> SessionClaims {
    let now = ledger::now_unix();
    SessionClaims {
        iss: ISSUER.into(),
        aud: ISSUER.into(),
        sub: principal.subject.clone(),
        tid: principal.token_id.clone(),
        iat: now,
        exp: now + ttl,
    }
}
