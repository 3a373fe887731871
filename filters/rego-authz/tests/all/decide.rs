//! Table-driven decisions (`tests/cases/decide/*.yaml`; the fields are described at the
//! top of each file): a policy, requests, and the decision each must get. Also the
//! input document at chosen places (`input`: JSON pointer → value).

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Value, json};
use tollgate_cases::Case;
use tollgate_kit::HostFacts;
use tollgate_rego_authz::decision::{Decision, interpret};
use tollgate_rego_authz::engine::{to_json, to_regorus};
use tollgate_rego_authz::input::{self, Body, Request};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    /// Rego modules by file name.
    #[serde(default)]
    policy: BTreeMap<String, String>,
    /// Or a bundle directory, relative to the repository root.
    #[serde(default)]
    bundle: Option<String>,
    #[serde(default)]
    data: Option<Value>,
    #[serde(default)]
    query: Option<String>,
    cases: Vec<DecideCase>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecideCase {
    name: String,
    request: Req,
    /// The verified claims jwt-auth forwards (`input.token`).
    #[serde(default)]
    token: Option<Value>,
    #[serde(default)]
    expect: Option<Expect>,
    /// Values the input document must hold, by JSON pointer.
    #[serde(default)]
    input: BTreeMap<String, Value>,
}

impl Case for DecideCase {
    fn name(&self) -> &str {
        &self.name
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Req {
    method: String,
    path: String,
    #[serde(default)]
    headers: Vec<(String, String)>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    source: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Expect {
    /// `true`/`false`; absent when `error` is expected.
    #[serde(default)]
    allowed: Option<bool>,
    #[serde(default)]
    status: Option<u32>,
    #[serde(default)]
    headers: Vec<(String, String)>,
    #[serde(default)]
    remove: Vec<String>,
    #[serde(default)]
    response_headers: Vec<(String, String)>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    metadata: Option<Value>,
    /// A failure's code: `policy_undefined`, `policy_error`, `decision_invalid`,
    /// `path_malformed`, `body_malformed`.
    #[serde(default)]
    error: Option<String>,
}

/// The decision, the input document, and the rule's raw value (`null` when it failed).
fn outcome(
    policy: &tollgate_rego_authz::engine::Policy,
    case: &DecideCase,
) -> (Result<Decision, String>, Value, Value) {
    let mut headers = vec![
        (":method".to_string(), case.request.method.clone()),
        (":path".to_string(), case.request.path.clone()),
        (":authority".to_string(), "api.test".to_string()),
    ];
    headers.extend(case.request.headers.iter().cloned());
    let payload = case
        .token
        .as_ref()
        .map(|t| URL_SAFE_NO_PAD.encode(t.to_string()));
    let req = Request {
        headers: &headers,
        source: case.request.source.as_deref(),
        body: case.request.body.as_ref().map(|b| Body {
            bytes: b.as_bytes(),
            truncated: false,
        }),
        token_payload: payload.as_deref(),
        ..Request::default()
    };
    let doc = match input::build(&req) {
        Ok(d) => d,
        Err(input::BadRequest::Path(_)) => {
            return (Err("path_malformed".into()), Value::Null, Value::Null);
        }
        Err(input::BadRequest::Body(_)) => {
            return (Err("body_malformed".into()), Value::Null, Value::Null);
        }
    };
    let raw = policy
        .evaluate(to_regorus(&doc).unwrap())
        .map_err(|e| e.code().to_string())
        .map(|v| to_json(&v).unwrap());
    let result = raw
        .clone()
        .and_then(|v| interpret(&v).map_err(|_| "decision_invalid".to_string()));
    (result, doc, raw.unwrap_or(Value::Null))
}

/// With `TOLLGATE_DUMP_DECISIONS=DIR`, each case's policy, input and result go to
/// `DIR/<file>.<n>.json`, for `scripts/opa-reference` to replay on OPA itself.
fn dump(file: &Path, n: usize, config: &Value, input: &Value, result: &Value) {
    let Some(dir) = std::env::var_os("TOLLGATE_DUMP_DECISIONS") else {
        return;
    };
    if input.is_null() {
        return;
    }
    let stem = file.file_stem().unwrap().to_string_lossy();
    let doc = json!({"modules": config["policy"]["modules"], "data": config["policy"]["data"],
                     "query": config.get("query").cloned().unwrap_or(json!("data.envoy.authz.allow")),
                     "input": input, "result": result});
    std::fs::write(
        Path::new(&dir).join(format!("{stem}.{n:03}.json")),
        serde_json::to_vec_pretty(&doc).unwrap(),
    )
    .unwrap();
}

fn check(
    policy: &tollgate_rego_authz::engine::Policy,
    case: &DecideCase,
    (file, n, config): (&Path, usize, &Value),
) -> Vec<String> {
    let (result, doc, raw) = outcome(policy, case);
    dump(file, n, config, &doc, &raw);
    let mut problems = Vec::new();
    for (pointer, want) in &case.input {
        match doc.pointer(pointer) {
            Some(got) if got == want => {}
            got => problems.push(format!("input {pointer}: got {got:?}, want {want}")),
        }
    }
    let Some(e) = &case.expect else {
        return problems;
    };
    match (&result, &e.error) {
        (Err(code), Some(want)) if code == want => return problems,
        (Err(code), _) => {
            problems.push(format!("failed with {code}"));
            return problems;
        }
        (Ok(d), Some(want)) => {
            problems.push(format!("decided {d:?}, want the error {want}"));
            return problems;
        }
        (Ok(_), None) => {}
    }
    let Ok(d) = result else { return problems };
    let mut want = |what: &str, ok: bool, got: String| {
        if !ok {
            problems.push(format!("{what}: got {got}"));
        }
    };
    want(
        "allowed",
        Some(d.allowed) == e.allowed,
        format!("{}", d.allowed),
    );
    want("status", d.status == e.status, format!("{:?}", d.status));
    want(
        "headers",
        d.headers == e.headers,
        format!("{:?}", d.headers),
    );
    want("remove", d.remove == e.remove, format!("{:?}", d.remove));
    want(
        "response_headers",
        d.response_headers == e.response_headers,
        format!("{:?}", d.response_headers),
    );
    want("body", d.body == e.body, format!("{:?}", d.body));
    want(
        "metadata",
        d.metadata == e.metadata,
        format!("{:?}", d.metadata),
    );
    problems
}

fn decide_file(path: &Path) {
    let file: CaseFile = tollgate_cases::load(path);
    let mut modules = file.policy.clone();
    if let Some(dir) = &file.bundle {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(dir);
        let files =
            tollgate_rego_authz::bundle::Files::from_dir(&root, Default::default()).unwrap();
        let bundle = tollgate_rego_authz::bundle::Bundle::from_files(files).unwrap();
        for m in bundle.sources.modules {
            modules.insert(m.name, m.text);
        }
    }
    let mut config = json!({"policy": {"modules": modules}});
    if let Some(d) = &file.data {
        config["policy"]["data"] = d.clone();
    }
    if let Some(q) = &file.query {
        config["query"] = q.clone().into();
    }
    let compiled =
        tollgate_rego_authz::config::load(config.to_string().as_bytes(), HostFacts::default())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut n = 0;
    tollgate_cases::run(path, &file.cases, |case| {
        n += 1;
        check(&compiled.policy, case, (path, n, &config))
    });
}

tollgate_cases::case_files!(dir: "tests/cases/decide", run: decide_file, files: [tutorial, objects, input, hcp]);
