//! The pull protocol's reports: a gateway names itself (`Tollgate-Gateway`), says what
//! it runs (`Tollgate-Running`, with its ETag in `If-None-Match`) and what it refused
//! and why (`Tollgate-Refused`, `Tollgate-Error`); the fleet view shows it, and under
//! a rollout policy it gets its own revision.

use serde_json::{Value, json};

use crate::common::{Harness, jwt_config};

const RESOLVED: &str = "/v1/projects/hcp/groups/prod-eu/configs/jwt-auth/resolved";
const STATUS: &str = "/v1/projects/hcp/groups/prod-eu/status";

fn config(forward: bool) -> Value {
    let mut c = jwt_config();
    c["providers"]["hcp"]["forward"] = json!(forward);
    c
}

async fn push(h: &Harness, forward: bool, if_match: Option<&str>) {
    let r = h
        .put_json(
            "/v1/projects/hcp/groups/prod-eu/configs/jwt-auth",
            &h.admin,
            if_match,
            &config(forward),
        )
        .await;
    assert!(r.status.is_success(), "{:?}", r.json());
}

async fn view(h: &Harness) -> Value {
    h.get(STATUS, &h.admin).await.json()
}

#[tokio::test]
async fn a_pulling_gateway_reports_what_it_runs_and_what_it_refused() {
    let h = Harness::new().await;
    h.project(false).await;
    push(&h, false, None).await;
    let token = h.gateway("gw").await;
    let pull = |headers: Vec<(&'static str, String)>| {
        let h = h.clone();
        let token = token.clone();
        async move {
            let pairs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            h.send("GET", RESOLVED, Some(&token), &pairs, Vec::new())
                .await
        }
    };
    let first = pull(vec![("tollgate-gateway", "kong-1".into())]).await;
    assert_eq!(first.status, 200);
    let etag1 = first.etag();
    let v = view(&h).await;
    assert_eq!(v["gateways"][0]["gateway"], "kong-1");
    assert_eq!(v["gateways"][0]["via"], "pull");
    assert_eq!(
        v["gateways"][0]["filters"]["jwt-auth"]["revision"],
        Value::Null
    );

    // Its next poll says it runs revision 1.
    let again = pull(vec![
        ("tollgate-gateway", "kong-1".into()),
        ("tollgate-running", "1".into()),
        ("if-none-match", etag1.clone()),
    ])
    .await;
    assert_eq!(again.status, 304);
    let v = view(&h).await;
    assert_eq!(v["gateways"][0]["filters"]["jwt-auth"]["revision"], 1);
    assert_eq!(
        v["gateways"][0]["filters"]["jwt-auth"]["version"],
        etag1.trim_matches('"')
    );
    assert_eq!(v["summary"]["up_to_date"], 1);

    // Revision 2 arrives; the gateway refuses it (a tampered copy, say) and says so.
    push(&h, true, Some("\"1\"")).await;
    let second = pull(vec![
        ("tollgate-gateway", "kong-1".into()),
        ("tollgate-running", "1".into()),
        ("if-none-match", etag1.clone()),
    ])
    .await;
    assert_eq!(second.status, 200);
    assert_eq!(second.headers["tollgate-revision"], "2");
    let why = "revision 2: the signature does not match the body";
    pull(vec![
        ("tollgate-gateway", "kong-1".into()),
        ("tollgate-running", "1".into()),
        ("tollgate-refused", "2".into()),
        ("tollgate-error", why.into()),
        ("if-none-match", etag1),
    ])
    .await;
    let v = view(&h).await;
    let filter = &v["gateways"][0]["filters"]["jwt-auth"];
    assert_eq!(filter["revision"], 1);
    assert_eq!(filter["error"]["revision"], 2);
    assert_eq!(filter["error"]["detail"], why);
    assert_eq!(v["summary"]["failed"], 1);
    let text = tollgate_control::cli::fleet_text(&v);
    assert!(
        text.contains(&format!("runs 1; REFUSED 2: {why}")),
        "{text}"
    );
}

#[tokio::test]
async fn malformed_reports_are_refused_and_long_errors_cut() {
    let h = Harness::new().await;
    h.project(false).await;
    push(&h, false, None).await;
    let token = h.gateway("gw").await;
    for (name, value, says) in [
        ("tollgate-gateway", "has space", "gateway id"),
        (
            "tollgate-running",
            "one",
            "tollgate-running: not a revision number",
        ),
        (
            "tollgate-refused",
            "-1",
            "tollgate-refused: not a revision number",
        ),
    ] {
        let r = h
            .send("GET", RESOLVED, Some(&token), &[(name, value)], Vec::new())
            .await;
        assert_eq!(r.status, 400, "{name}: {:?}", r.json());
        let message = r.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(message.contains(says), "{name}: {message}");
    }
    let long = "x".repeat(5000);
    let r = h
        .send(
            "GET",
            RESOLVED,
            Some(&token),
            &[
                ("tollgate-gateway", "gw-1"),
                ("tollgate-refused", "1"),
                ("tollgate-error", &long),
            ],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 200);
    let v = view(&h).await;
    assert_eq!(
        v["gateways"][0]["filters"]["jwt-auth"]["error"]["detail"]
            .as_str()
            .unwrap()
            .len(),
        512
    );
}

#[tokio::test]
async fn under_a_rollout_a_pulling_gateway_gets_its_own_revision() {
    let h = Harness::new().await;
    h.project(false).await;
    push(&h, false, None).await;
    let r = h
        .put_json(
            "/v1/projects/hcp/groups/prod-eu/rollout-policy",
            &h.admin,
            None,
            &json!({"canary": ["kong-canary"], "bake_seconds": 60}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.json());
    push(&h, true, Some("\"1\"")).await;
    let token = h.gateway("gw").await;
    for (gateway, revision, forward) in [("kong-canary", "2", true), ("kong-1", "1", false)] {
        let r = h
            .send(
                "GET",
                RESOLVED,
                Some(&token),
                &[("tollgate-gateway", gateway)],
                Vec::new(),
            )
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.headers["tollgate-revision"], revision, "{gateway}");
        assert_eq!(r.json(), config(forward), "{gateway}");
    }
    // Without a name it is the head, as before.
    let r = h.send("GET", RESOLVED, Some(&token), &[], Vec::new()).await;
    assert_eq!(r.headers["tollgate-revision"], "2");
}

/// The kit's verifier (what every filter's pull client runs) takes the service's own
/// signatures, and refuses a tampered body.
#[tokio::test]
async fn the_kits_verifier_accepts_the_services_signature() {
    use tollgate_kit::pull::signature::{Expected, verify};
    let h = Harness::new().await;
    h.project(false).await;
    push(&h, false, None).await;
    let token = h.gateway("gw").await;
    let r = h.get(RESOLVED, &token).await;
    let signature = r.headers["tollgate-signature"]
        .to_str()
        .unwrap()
        .to_string();
    let listed = h
        .send("GET", "/v1/signing-keys", None, &[], Vec::new())
        .await
        .json();
    let keys: std::collections::BTreeMap<String, String> = listed["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["kid"].as_str().unwrap().to_string(),
                k["public_key_pem"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected = Expected {
        project: "hcp",
        group: "prod-eu",
        filter: "jwt-auth",
    };
    assert_eq!(verify(&signature, &r.body, &keys, expected), Ok(1));
    let mut tampered = r.body.clone();
    tampered.push(b' ');
    assert_eq!(
        verify(&signature, &tampered, &keys, expected),
        Err("the document does not match its signature".into())
    );
}

/// A gateway's reason may quote what it refused: secrets in it are scrubbed before
/// the fleet view keeps it.
#[tokio::test]
async fn secrets_quoted_in_a_refusal_never_reach_the_fleet_view() {
    let h = Harness::new().await;
    h.project(false).await;
    let issuer = "https://issuer.secret.example";
    let r = h
        .put_json(
            "/v1/projects/hcp/secrets/issuer",
            &h.admin,
            None,
            &json!({"value": issuer}),
        )
        .await;
    assert!(r.status.is_success(), "{:?}", r.json());
    let mut c = jwt_config();
    c["providers"]["hcp"]["issuer"] = json!({"secret": "issuer"});
    let r = h
        .put_json(
            "/v1/projects/hcp/groups/prod-eu/configs/jwt-auth",
            &h.admin,
            None,
            &c,
        )
        .await;
    assert!(r.status.is_success(), "{:?}", r.json());
    let token = h.gateway("gw").await;
    let why = format!("revision 1: providers.hcp.issuer: `{issuer}` is not allowed here");
    let r = h
        .send(
            "GET",
            RESOLVED,
            Some(&token),
            &[
                ("tollgate-gateway", "gw-1"),
                ("tollgate-refused", "1"),
                ("tollgate-error", &why),
            ],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 200);
    let text = String::from_utf8(h.get(STATUS, &h.admin).await.body).unwrap();
    assert!(!text.contains(issuer), "{text}");
    assert!(
        text.contains("providers.hcp.issuer: `<secret>` is not allowed here"),
        "{text}"
    );
}
