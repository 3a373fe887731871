//! Table-driven decisions (`tests/cases/decide/*.yaml`). Tokens are signed with HS256 at
//! run time from each case's claims, header and secret, and placed in a bearer header,
//! cookie, query parameter or named header.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;
use tollgate_cases::Case;
use tollgate_jwt_auth::config::JwtAuthConfig;
use tollgate_jwt_auth::decide::{Decision, NoRemoteKeys, Rejection};
use tollgate_kit::{Mutation, RequestView, config, mutation};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    /// The clock, in seconds since 1970.
    now: f64,
    /// The config every case of the file runs against.
    config: Value,
    cases: Vec<DecideCase>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecideCase {
    name: String,
    request: Request,
    expect: Expect,
}

impl Case for DecideCase {
    fn name(&self) -> &str {
        &self.name
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    method: String,
    /// `TOKEN` is replaced by a `query` token.
    path: String,
    /// `TOKEN` in a `cookie` header is replaced by a `cookie` token.
    #[serde(default)]
    headers: Vec<(String, String)>,
    #[serde(default)]
    token: Option<TokenSpec>,
    #[serde(default)]
    tokens: Vec<TokenSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenSpec {
    /// The token as given, unsigned (garbage, `alg: none`).
    #[serde(default)]
    raw: Option<String>,
    #[serde(default)]
    header: Value,
    #[serde(default)]
    claims: Value,
    #[serde(default)]
    secret: String,
    #[serde(rename = "in")]
    place: Place,
    /// For `in: header`: the header's name and value prefix.
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    prefix: Option<String>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum Place {
    Bearer,
    Cookie,
    Query,
    Header,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    status: u16,
    /// The refusal's code (also the error body's `error`).
    #[serde(default)]
    code: Option<String>,
    /// The exact `WWW-Authenticate`, or a part of it.
    #[serde(default)]
    www: Option<String>,
    #[serde(default)]
    www_contains: Option<String>,
    /// Headers set to these values.
    #[serde(default)]
    set: BTreeMap<String, String>,
    #[serde(default)]
    removed: Vec<String>,
    #[serde(default)]
    not_removed: Vec<String>,
    #[serde(default)]
    not_set: Vec<String>,
    /// The `sub` of the forwarded payload header.
    #[serde(default)]
    payload_sub: Option<String>,
    /// The path forwarded, when rewritten (a token taken out of the query, normalized).
    #[serde(default)]
    path: Option<String>,
    /// The cookie header forwarded, when rewritten.
    #[serde(default)]
    cookie: Option<String>,
}

fn sign(spec: &TokenSpec) -> String {
    if let Some(raw) = &spec.raw {
        return raw.clone();
    }
    let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let input = format!("{}.{}", b64(&spec.header), b64(&spec.claims));
    let mut mac = Hmac::<Sha256>::new_from_slice(spec.secret.as_bytes()).unwrap();
    mac.update(input.as_bytes());
    format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

fn decide_file(path: &Path) {
    let file: CaseFile = tollgate_cases::load(path);
    let compiled = config::load::<JwtAuthConfig>(file.config.to_string().as_bytes()).unwrap();
    tollgate_cases::run(path, &file.cases, |case| {
        let req = &case.request;
        let mut path = req.path.clone();
        let mut headers = req.headers.clone();
        let specs: Vec<&TokenSpec> = req.token.iter().chain(&req.tokens).collect();
        let tokens: Vec<String> = specs.iter().map(|s| sign(s)).collect();
        for (spec, token) in specs.iter().zip(&tokens) {
            match spec.place {
                Place::Bearer => headers.push(("authorization".into(), format!("Bearer {token}"))),
                Place::Cookie => {
                    for h in headers.iter_mut().filter(|(n, _)| n == "cookie") {
                        h.1 = h.1.replace("TOKEN", token);
                    }
                }
                Place::Query => path = path.replacen("TOKEN", token, 1),
                Place::Header => headers.push((
                    spec.name.clone().unwrap(),
                    spec.prefix.clone().unwrap_or_default() + token,
                )),
            }
        }
        let view = RequestView {
            method: &req.method,
            path: &path,
            headers: &headers,
        };
        match compiled.decide(&view, file.now, &NoRemoteKeys) {
            Decision::Allow { mutations, .. } => check_allowed(&case.expect, &mutations),
            Decision::Deny(r) => check_denied(&case.expect, &r, &tokens),
        }
    });
}

fn check_allowed(expect: &Expect, mutations: &[Mutation]) -> Vec<String> {
    let mut problems = Vec::new();
    if expect.status != 200 {
        problems.push(format!("allowed; expected {}", expect.status));
    }
    let set = |h: &str| {
        mutations.iter().find_map(|m| match m {
            Mutation::Set(n, v) if n == h => Some(v.as_str()),
            _ => None,
        })
    };
    let removed = |h: &str| mutations.iter().any(|m| m.removes(h));
    for (h, v) in &expect.set {
        if set(h) != Some(v.as_str()) {
            problems.push(format!("{h} = {:?}, expected {v}", set(h)));
        }
    }
    for h in &expect.removed {
        if !removed(h) {
            problems.push(format!("{h} not removed"));
        }
    }
    for h in &expect.not_removed {
        if removed(h) {
            problems.push(format!("{h} removed"));
        }
    }
    for h in &expect.not_set {
        if set(h).is_some() {
            problems.push(format!("{h} set"));
        }
    }
    if let Some(sub) = &expect.payload_sub {
        let payload = set("x-tollgate-jwt-payload").unwrap_or_default();
        let claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap_or_default())
                .unwrap_or_default();
        if claims["sub"] != *sub {
            problems.push(format!("payload sub {}", claims["sub"]));
        }
    }
    let paths: Vec<&Mutation> = mutations
        .iter()
        .filter(|m| matches!(m, Mutation::SetPath(_)))
        .collect();
    match &expect.path {
        Some(p) if paths != [&Mutation::SetPath(p.clone())] => {
            problems.push(format!("path not rewritten (once) to {p}: {mutations:?}"));
        }
        None if !paths.is_empty() => problems.push(format!("path rewritten: {paths:?}")),
        _ => {}
    }
    let cookie = mutations
        .iter()
        .find(|m| matches!(m, Mutation::SetCookie(_)));
    match &expect.cookie {
        None if cookie.is_some() => problems.push(format!("cookie rewritten: {mutations:?}")),
        Some(c) if mutation::value_of(mutations, "cookie") != Some(c.as_str()) => {
            problems.push(format!("cookie not rewritten to {c}: {mutations:?}"));
        }
        _ => {}
    }
    problems
}

fn check_denied(expect: &Expect, r: &Rejection, tokens: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    if expect.status != r.status {
        problems.push(format!(
            "denied {} ({}); expected {}",
            r.status, r.denial, expect.status
        ));
    }
    if let Some(code) = &expect.code {
        if r.denial.code.as_str() != code {
            problems.push(format!("code {}, expected {code}", r.denial.code.as_str()));
        }
        let body: Value = serde_json::from_str(&r.body).unwrap();
        if body["error"] != *code {
            problems.push(format!("body {}", r.body));
        }
    }
    if let Some(www) = &expect.www
        && r.www_authenticate != *www
    {
        problems.push(format!("www-authenticate {}", r.www_authenticate));
    }
    if let Some(part) = &expect.www_contains
        && !r.www_authenticate.contains(part.as_str())
    {
        problems.push(format!("www-authenticate {}", r.www_authenticate));
    }
    let allowed_only = !expect.set.is_empty()
        || !expect.removed.is_empty()
        || expect.path.is_some()
        || expect.cookie.is_some()
        || expect.payload_sub.is_some();
    if allowed_only {
        problems.push("expectations of an allowed request on a refusal".into());
    }
    for token in tokens {
        if r.body.contains(token.as_str()) || r.www_authenticate.contains(token.as_str()) {
            problems.push("the token was echoed".into());
        }
    }
    problems
}

tollgate_cases::case_files!(
    dir: "tests/cases/decide",
    run: decide_file,
    files: [forwarding, paths, routes, sources, tokens],
);
