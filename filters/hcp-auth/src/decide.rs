//! The per-request decision over plain data: which mode, which credentials, and the
//! header changes that turn the request into one HCP accepts as that user.
//!
//! Order matters: the tenant's host is set first and the S3 signature is computed
//! over it, so the signed host is the one the request really goes to. Only headers the
//! proxy does not add or change later are signed (host, the `x-amz-*` the client sent,
//! `content-type`, `content-md5`, and the two the filter sets), so Envoy's own
//! `x-forwarded-*`, `x-request-id` or `x-envoy-*` cannot break it.

use tollgate_kit::path::PathProblem;

use crate::config::{Compiled, Mode};
use crate::credentials::{Credentials, Problem};
use crate::mgmt;
use crate::sigv4::{self, Scope, Signable, UNSIGNED_PAYLOAD};

pub use tollgate_kit::{Mutation, RequestView};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub status: u16,
    pub code: &'static str,
    /// `{"error": "<code>", "message": "…"}`: names claims, never their values.
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow {
        mode: Mode,
        mutations: Vec<Mutation>,
    },
    /// Signing needs the body's hash: buffer the body, then decide again with it.
    NeedBody,
    Deny(Rejection),
}

pub fn reject(status: u16, code: &'static str, message: &str) -> Rejection {
    Rejection {
        status,
        code,
        body: tollgate_kit::reply::error_body(code, message),
    }
}

/// Removes cookie `name` from a `cookie` header value; `None` if it was absent.
fn without_cookie(header: &str, name: &str) -> Option<Option<String>> {
    let mut found = false;
    let kept: Vec<&str> = header
        .split(';')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .filter(|c| {
            let is_token = c.split_once('=').is_some_and(|(n, _)| n.trim() == name);
            found |= is_token;
            !is_token
        })
        .collect();
    found.then(|| (!kept.is_empty()).then(|| kept.join("; ")))
}

/// Client headers that are signed as they are (besides host and the two we set).
fn signed_as_sent(name: &str) -> bool {
    name == "content-type"
        || name == "content-md5"
        || (name.starts_with("x-amz-")
            && !matches!(
                name,
                "x-amz-date" | "x-amz-content-sha256" | "x-amz-security-token"
            ))
}

/// Why a path was refused, as a rejection (400, never echoing the path).
pub fn path_rejection(problem: PathProblem) -> Rejection {
    reject(400, "path_invalid", &problem.to_string())
}

impl Compiled {
    /// The route's mode; `path` must be prepared ([`PathHandling::prepare`]).
    ///
    /// [`PathHandling::prepare`]: tollgate_kit::path::PathHandling::prepare
    pub fn mode_for(&self, method: &str, path: &str) -> Mode {
        self.routes
            .iter()
            .find(|(m, _)| m.matches(method, path))
            .map_or(self.default_mode, |(_, mode)| *mode)
    }

    /// The upstream authority for a tenant.
    pub fn authority(&self, tenant: &str) -> String {
        match self.authority_port {
            Some(port) => format!("{tenant}.{}:{port}", self.hcp_domain),
            None => format!("{tenant}.{}", self.hcp_domain),
        }
    }

    /// Whether this request's signature needs the body (S3 with `sign_body`).
    pub fn needs_body(&self, mode: Mode) -> bool {
        mode == Mode::S3 && self.s3.sign_body
    }

    /// Decides one request. `now` is seconds since the epoch; `body_hash` is the hex
    /// SHA-256 of the whole body once buffered.
    pub fn decide(
        &self,
        req: &RequestView<'_>,
        credentials: Result<&Credentials, &Problem>,
        now: u64,
        body_hash: Option<&str>,
    ) -> Decision {
        let path = match self.paths.prepare(req.path) {
            Ok(path) => path,
            Err(problem) => return Decision::Deny(path_rejection(problem)),
        };
        let mode = self.mode_for(req.method, &path);
        self.decide_in(mode, req, &path, credentials, now, body_hash)
    }

    /// [`Self::decide`] for a request whose route already gave `mode` for its prepared
    /// `path` (the filter prepares the path and matches routes once, in the headers
    /// phase). `req.path` is the path as received.
    pub fn decide_in(
        &self,
        mode: Mode,
        req: &RequestView<'_>,
        path: &str,
        credentials: Result<&Credentials, &Problem>,
        now: u64,
        body_hash: Option<&str>,
    ) -> Decision {
        // What must never reach HCP, whatever the mode.
        let mut mutations = Vec::with_capacity(8);
        if req.has(&self.payload_header) {
            mutations.push(Mutation::Remove(self.payload_header.clone()));
        }
        if let (Some(name), Some(cookie)) = (&self.token_cookie, req.header("cookie"))
            && let Some(rest) = without_cookie(cookie, name)
        {
            mutations.push(Mutation::SetCookie(rest));
        }
        if mode == Mode::Passthrough {
            if req.has("authorization") {
                mutations.push(Mutation::Remove("authorization".into()));
            }
            forward_path(&mut mutations, req, path);
            return Decision::Allow { mode, mutations };
        }
        let creds = match credentials {
            Ok(c) => c,
            Err(problem) => return Decision::Deny(reject(401, problem.code(), &problem.message())),
        };
        let authority = self.authority(&creds.tenant);
        mutations.push(Mutation::SetAuthority(authority.clone()));
        if let Some(h) = &self.cluster_header {
            mutations.push(Mutation::Set(
                h.name.clone(),
                format!("{}{}", h.prefix, creds.tenant),
            ));
        }
        if mode == Mode::Management {
            mutations.push(Mutation::Set(
                "authorization".into(),
                mgmt::authorization(&creds.username, &creds.password),
            ));
            forward_path(&mut mutations, req, path);
            return Decision::Allow { mode, mutations };
        }
        let payload_hash = match (self.s3.sign_body, body_hash) {
            (false, _) => UNSIGNED_PAYLOAD,
            (true, Some(hash)) => hash,
            (true, None) => return Decision::NeedBody,
        };
        let amz_date = sigv4::amz_date(now);
        let mut signed: Vec<(String, String)> = req
            .headers
            .iter()
            .filter(|(k, _)| signed_as_sent(k))
            .cloned()
            .collect();
        signed.push(("host".into(), authority));
        signed.push(("x-amz-content-sha256".into(), payload_hash.to_string()));
        signed.push(("x-amz-date".into(), amz_date.clone()));
        let access_key = mgmt::access_key(&creds.username);
        let secret_key = mgmt::secret_key(&creds.password);
        let authorization = sigv4::authorization(
            &Signable {
                method: req.method,
                path,
                headers: &signed,
                payload_hash,
            },
            &Scope {
                access_key: &access_key,
                secret_key: &secret_key,
                region: &self.s3.region,
                service: &self.s3.service,
                amz_date: &amz_date,
            },
        );
        if req.has("x-amz-security-token") {
            mutations.push(Mutation::Remove("x-amz-security-token".into()));
        }
        mutations.push(Mutation::Set("x-amz-date".into(), amz_date));
        mutations.push(Mutation::Set(
            "x-amz-content-sha256".into(),
            payload_hash.to_string(),
        ));
        mutations.push(Mutation::Set("authorization".into(), authorization));
        // The upstream gets the target in the canonical form the signature covers.
        forward_path(&mut mutations, req, &sigv4::canonical_target(path));
        Decision::Allow { mode, mutations }
    }

    /// What a fully buffered, signed body needs to go upstream: its length. S3 servers
    /// refuse a chunked `PutObject`, and the filter holds the whole body anyway.
    pub fn buffered_framing(&self, req: &RequestView<'_>, len: usize) -> Vec<Mutation> {
        let mut out = vec![Mutation::Set("content-length".into(), len.to_string())];
        if req.has("transfer-encoding") {
            out.push(Mutation::Remove("transfer-encoding".into()));
        }
        out
    }
}

/// Sets `:path` when what goes upstream differs from what came in.
fn forward_path(mutations: &mut Vec<Mutation>, req: &RequestView<'_>, target: &str) {
    if target != req.path {
        mutations.push(Mutation::SetPath(target.to_string()));
    }
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
