//! Table-driven decisions (`tests/cases/decide/*.yaml`; the fields are described at the
//! top of each file).

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use tollgate_cases::Case;
use tollgate_hcp_auth::config::{HcpAuthConfig, Mode};
use tollgate_hcp_auth::credentials::{claims, extract};
use tollgate_hcp_auth::decide::Decision;
use tollgate_kit::{Mutation, RequestView, config, mutation};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    now: u64,
    config: Value,
    cases: Vec<DecideCase>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecideCase {
    name: String,
    /// Top-level fields replacing the file's config's.
    #[serde(default)]
    config: Option<serde_json::Map<String, Value>>,
    request: Request,
    #[serde(default)]
    payload: Option<Value>,
    #[serde(default)]
    property: Option<Value>,
    #[serde(default)]
    property_raw: Option<String>,
    #[serde(default)]
    body_hash: Option<String>,
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
    path: String,
    #[serde(default)]
    headers: Vec<(String, String)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    /// A refusal.
    #[serde(default)]
    status: Option<u16>,
    #[serde(default)]
    code: Option<String>,
    /// The decision waits for the body's hash.
    #[serde(default)]
    need_body: bool,
    /// An allowed request in this mode.
    #[serde(default)]
    mode: Option<Mode>,
    #[serde(default)]
    set: BTreeMap<String, String>,
    #[serde(default)]
    not_set: Vec<String>,
    #[serde(default)]
    removed: Vec<String>,
    /// Absent: the cookie header is untouched; `null`: removed; a string: what is left.
    #[serde(default, deserialize_with = "present")]
    cookie: Option<Option<String>>,
}

/// A field that is present, even as `null`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// What one case got wrong, if anything.
fn check_case(file: &CaseFile, case: &DecideCase) -> Vec<String> {
    let mut problems = Vec::new();
    let mut cfg_json = file.config.clone();
    if let (Some(base), Some(extra)) = (cfg_json.as_object_mut(), &case.config) {
        base.extend(extra.clone());
    }
    let compiled = match config::load::<HcpAuthConfig>(cfg_json.to_string().as_bytes()) {
        Ok(c) => c,
        Err(e) => return vec![format!("config refused: {}: {}", e.path, e.message)],
    };
    let req = &case.request;
    let mut headers = req.headers.clone();
    if let Some(payload) = &case.payload {
        headers.push((
            "x-tollgate-jwt-payload".into(),
            URL_SAFE_NO_PAD.encode(payload.to_string()),
        ));
    }
    let property: Option<Vec<u8>> = match (&case.property, &case.property_raw) {
        (Some(p), _) => Some(p.to_string().into_bytes()),
        (None, Some(raw)) => Some(raw.as_bytes().to_vec()),
        (None, None) => None,
    };
    let found = claims(property.as_deref());
    let creds = extract(found.as_ref(), &compiled.claims);
    let view = RequestView {
        method: &req.method,
        path: &req.path,
        headers: &headers,
    };
    let decision = compiled.decide(&view, creds.as_ref(), file.now, case.body_hash.as_deref());

    // Whatever the outcome, the raw password is never in what leaves the filter.
    let password = found
        .as_ref()
        .and_then(|c| tollgate_kit::json::lookup(c, &compiled.claims.password))
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty())
        .map(String::from);
    let leaked = |text: &str| password.as_deref().is_some_and(|p| text.contains(p));

    let expect = &case.expect;
    let refused = (expect.status, expect.code.as_deref());
    match &decision {
        Decision::Deny(r) => {
            if leaked(&r.body) {
                problems.push("the refusal carries the password".into());
            }
            if refused != (Some(r.status), Some(r.code)) {
                problems.push(format!(
                    "refused {} {}, expected {refused:?}",
                    r.status, r.code
                ));
            }
        }
        Decision::NeedBody => {
            if !expect.need_body {
                problems.push("asked for the body".into());
            }
        }
        Decision::Allow { mode, mutations } => {
            if expect.mode != Some(*mode) || refused != (None, None) || expect.need_body {
                problems.push(format!("allowed as {mode:?}, expected another outcome"));
            }
            for m in mutations {
                if let Some(v) = m.value_of(m.target())
                    && leaked(v)
                {
                    problems.push(format!("`{}` carries the password", m.target()));
                }
            }
            let set = |name: &str| mutation::value_of(mutations, name);
            for (name, value) in &expect.set {
                if set(name) != Some(value.as_str()) {
                    problems.push(format!("`{name}` is {:?}, expected {value}", set(name)));
                }
            }
            for name in &expect.not_set {
                if set(name).is_some() {
                    problems.push(format!("`{name}` was set"));
                }
            }
            for name in &expect.removed {
                if !mutations.contains(&Mutation::Remove(name.clone())) {
                    problems.push(format!("`{name}` was not removed"));
                }
            }
            let cookie = mutations.iter().find_map(|m| match m {
                Mutation::SetCookie(c) => Some(c.clone()),
                _ => None,
            });
            if cookie != expect.cookie {
                problems.push(format!(
                    "cookie mutation {cookie:?}, expected {:?}",
                    expect.cookie
                ));
            }
        }
    }
    problems
}

fn decide_file(path: &Path) {
    let file: CaseFile = tollgate_cases::load(path);
    tollgate_cases::run(path, &file.cases, |case| check_case(&file, case));
}

tollgate_cases::case_files!(
    dir: "tests/cases/decide",
    run: decide_file,
    files: [credentials, management, paths, s3],
);
