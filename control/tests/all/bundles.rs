//! Rego bundles: compiled and tested before acceptance, signed in OPA's format, and
//! served as an OPA bundle server serves them (ETag, 304, long polling).

use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use tollgate_control::auth::{Grant, Role};

use crate::common::{Harness, files_tar_gz, hcp_bundle};

const BUNDLE: &str = "/v1/projects/hcp/groups/prod-eu/bundle";
const PULL: &str = "/v1/projects/hcp/groups/prod-eu/bundle.tar.gz";

async fn push(h: &Harness, bytes: Vec<u8>, if_match: Option<&str>) -> crate::common::Reply {
    let mut headers = vec![("content-type", "application/gzip")];
    if let Some(m) = if_match {
        headers.push(("if-match", m));
    }
    h.send("PUT", BUNDLE, Some(&h.admin), &headers, bytes).await
}

/// The distribution keys, as rego-authz's `policy.signing` takes them.
async fn signing_config(h: &Harness) -> Value {
    let r = h
        .send("GET", "/v1/signing-keys", None, &[], Vec::new())
        .await;
    assert_eq!(r.status, 200);
    let mut keys = serde_json::Map::new();
    for k in r.json()["keys"].as_array().unwrap() {
        keys.insert(
            k["kid"].as_str().unwrap().into(),
            json!({"algorithm": "EdDSA", "key": k["public_key_pem"]}),
        );
    }
    json!({ "keys": keys })
}

/// Whether rego-authz (through the catalog, as a gateway would load it) accepts `bundle`
/// signed by the service's published keys.
async fn rego_authz_accepts(h: &Harness, bundle: &[u8]) -> Result<(), String> {
    let config = json!({
        "version": "tollgate.rego_authz.v1",
        "policy": {
            "bundle": base64::engine::general_purpose::STANDARD.encode(bundle),
            "signing": signing_config(h).await,
        },
        "query": "data.hcp.authz.decision",
    });
    let entry = tollgate_catalog::find("rego-authz").unwrap();
    entry
        .check(
            &serde_json::to_vec(&config).unwrap(),
            tollgate_kit::HostKind::Envoy,
        )
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn the_hcp_bundle_is_tested_signed_and_served_with_an_etag() {
    let h = Harness::new().await;
    h.project(false).await;
    let r = push(&h, hcp_bundle(), None).await;
    assert_eq!(r.status, 201, "{}", r.json());
    let tests = r.json()["validation"]["tests"].as_array().unwrap().clone();
    assert!(tests.len() >= 5, "{tests:?}");
    assert!(tests.iter().all(|t| t["passed"] == true));
    assert!(r.json()["revision"]["distributed_sha256"].is_string());

    let r = h.get(BUNDLE, &h.admin).await;
    let files: Vec<String> = r.json()["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect();
    assert!(files.contains(&"hcp/authz.rego".to_string()), "{files:?}");
    assert!(!files.contains(&".signatures.json".to_string()));

    let pulled = h.get(PULL, &h.admin).await;
    assert_eq!(pulled.status, 200);
    assert_eq!(pulled.headers["content-type"], "application/gzip");
    let etag = pulled.etag();
    assert!(etag.len() > 60, "{etag}");
    let files =
        tollgate_rego_authz::bundle::Files::from_tar_gz(&pulled.body, Default::default()).unwrap();
    assert!(files.0.contains_key(".signatures.json"));
    rego_authz_accepts(&h, &pulled.body).await.unwrap();

    // A tampered file no longer verifies.
    let mut tampered = files.clone();
    tampered.0.insert(
        "hcp/authz.rego".into(),
        b"package hcp.authz\nallow := true\n".to_vec(),
    );
    let err = rego_authz_accepts(&h, &tampered.to_tar_gz().unwrap())
        .await
        .unwrap_err();
    assert!(err.contains("does not match its signed digest"), "{err}");

    // The poll path: the same ETag gets 304.
    let r = h
        .send(
            "GET",
            PULL,
            Some(&h.admin),
            &[("if-none-match", &etag)],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 304);
    assert_eq!(r.etag(), etag);
}

#[tokio::test]
async fn a_long_poll_answers_when_the_bundle_changes() {
    let h = Harness::new().await;
    h.project(false).await;
    assert_eq!(push(&h, hcp_bundle(), None).await.status, 201);
    let etag = h.get(PULL, &h.admin).await.etag();
    let waiter = {
        let h = h.clone();
        let etag = etag.clone();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            let r = h
                .send(
                    "GET",
                    PULL,
                    Some(&h.admin),
                    &[("if-none-match", &etag), ("prefer", "wait=20")],
                    Vec::new(),
                )
                .await;
            (r.status, r.etag(), started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut files = tollgate_rego_authz::bundle::Files::from_dir(
        &crate::common::repo_root().join("policies/hcp"),
        Default::default(),
    )
    .unwrap();
    files.0.insert(
        "hcp/extra.rego".into(),
        b"package hcp.extra\n\nx := 1\n".to_vec(),
    );
    assert_eq!(
        push(&h, files.to_tar_gz().unwrap(), Some("\"1\""))
            .await
            .status,
        201
    );
    let (status, new_etag, took) = waiter.await.unwrap();
    assert_eq!(status, 200);
    assert_ne!(new_etag, etag);
    assert!(took < Duration::from_secs(15), "{took:?}");

    // Without a change, the wait ends with 304 after the requested time.
    let r = h
        .send(
            "GET",
            PULL,
            Some(&h.admin),
            &[("if-none-match", &new_etag), ("prefer", "wait=1")],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 304);
}

#[tokio::test]
async fn a_failing_policy_test_rejects_the_push_naming_the_test() {
    let h = Harness::new().await;
    h.project(false).await;
    let bundle = files_tar_gz(&[
        ("a/policy.rego", "package a\n\nallow if input.x == 1\n"),
        (
            "a/policy_test.rego",
            "package a\n\ntest_allows if allow with input as {\"x\": 1}\n\ntest_wrong if allow with input as {\"x\": 2}\n",
        ),
    ]);
    let r = push(&h, bundle, None).await;
    assert_eq!(r.status, 422, "{}", r.json());
    assert_eq!(r.code(), "policy_tests_failed");
    let message = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(message.contains("data.a.test_wrong"), "{message}");
    assert!(!message.contains("test_allows:"), "{message}");
    assert_eq!(
        h.get(BUNDLE, &h.admin).await.status,
        404,
        "nothing is stored"
    );
}

#[tokio::test]
async fn a_rego_syntax_error_names_file_line_and_column() {
    let h = Harness::new().await;
    h.project(false).await;
    let bundle = files_tar_gz(&[("a/policy.rego", "package a\n\nallow if {\n  input.x ==\n")]);
    let r = push(&h, bundle, None).await;
    assert_eq!(r.status, 422);
    assert_eq!(r.code(), "invalid_bundle");
    let message = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(message.contains("a/policy.rego:"), "{message}");
    assert_eq!(h.get(BUNDLE, &h.admin).await.status, 404);
}

#[tokio::test]
async fn a_rego_config_referencing_the_bundle_is_resolved_for_gateways_only() {
    let h = Harness::new().await;
    h.project(false).await;
    let config = json!({
        "version": "tollgate.rego_authz.v1",
        "policy": {"bundle": {"bundle_ref": "prod-eu"}},
        "query": "data.hcp.authz.decision",
    });
    let path = "/v1/projects/hcp/groups/prod-eu/configs/rego-authz";
    let r = h.put_json(path, &h.admin, None, &config).await;
    assert_eq!(r.status, 422, "no bundle yet: {}", r.json());
    assert_eq!(r.code(), "missing_reference");
    assert_eq!(r.json()["error"]["details"]["path"], "policy.bundle");

    assert_eq!(push(&h, hcp_bundle(), None).await.status, 201);
    let r = h.put_json(path, &h.admin, None, &config).await;
    assert_eq!(r.status, 201, "{}", r.json());
    assert!(
        !r.json()["validation"]["tests"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    let gateway = h.gateway("gw-prod-eu").await;
    let r = h.get(&format!("{path}/resolved"), &gateway).await;
    assert_eq!(r.status, 200, "{}", r.json());
    let resolved = r.json();
    let b64 = resolved["policy"]["bundle"].as_str().unwrap();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    rego_authz_accepts(&h, &bytes).await.unwrap();
    assert!(r.headers.contains_key("tollgate-signature"));
    let viewer = h
        .token(
            "v",
            vec![Grant {
                role: Role::Viewer,
                project: Some("hcp".into()),
            }],
        )
        .await;
    assert_eq!(
        h.get(&format!("{path}/resolved"), &viewer).await.status,
        403
    );
}

#[tokio::test]
async fn bundles_stay_verifiable_through_a_key_rotation() {
    let h = Harness::new().await;
    h.project(false).await;
    assert_eq!(push(&h, hcp_bundle(), None).await.status, 201);
    let old = h.get(PULL, &h.admin).await.body;
    let r = h
        .post_json("/v1/signing-keys/rotate", &h.admin, &json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    let keys = h
        .send("GET", "/v1/signing-keys", None, &[], Vec::new())
        .await
        .json();
    assert_eq!(
        keys["keys"].as_array().unwrap().len(),
        2,
        "the previous key stays published"
    );
    rego_authz_accepts(&h, &old).await.unwrap();
}

#[tokio::test]
async fn a_new_bundle_changes_the_resolved_config_that_references_it() {
    let h = Harness::new().await;
    h.project(false).await;
    assert_eq!(push(&h, hcp_bundle(), None).await.status, 201);
    let path = "/v1/projects/hcp/groups/prod-eu/configs/rego-authz/resolved";
    let config = json!({
        "version": "tollgate.rego_authz.v1",
        "policy": {"bundle": {"bundle_ref": "prod-eu"}, "signing": {"keys": {"signing_keys_ref": "distribution"}}},
        "query": "data.hcp.authz.decision",
    });
    assert_eq!(
        h.put_json(
            "/v1/projects/hcp/groups/prod-eu/configs/rego-authz",
            &h.admin,
            None,
            &config
        )
        .await
        .status,
        201
    );
    let gateway = h.gateway("gw").await;
    let first = h.get(path, &gateway).await;
    assert_eq!(first.status, 200);
    let etag = first.etag();
    // The resolved config carries the bundle and the keys that verify it.
    let entry = tollgate_catalog::find("rego-authz").unwrap();
    entry
        .check(&first.body, tollgate_kit::HostKind::Envoy)
        .unwrap();
    assert_eq!(
        h.send(
            "GET",
            path,
            Some(&gateway),
            &[("if-none-match", &etag)],
            Vec::new()
        )
        .await
        .status,
        304
    );

    // A gateway long-polling its config hears about the new bundle.
    let waiter = {
        let h = h.clone();
        let (etag, gateway) = (etag.clone(), gateway.clone());
        tokio::spawn(async move {
            h.send(
                "GET",
                path,
                Some(&gateway),
                &[("if-none-match", &etag), ("prefer", "wait=20")],
                Vec::new(),
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut files = tollgate_rego_authz::bundle::Files::from_dir(
        &crate::common::repo_root().join("policies/hcp"),
        Default::default(),
    )
    .unwrap();
    files.0.insert(
        "hcp/extra.rego".into(),
        b"package hcp.extra\n\nx := 2\n".to_vec(),
    );
    assert_eq!(
        push(&h, files.to_tar_gz().unwrap(), Some("\"1\""))
            .await
            .status,
        201
    );
    let second = waiter.await.unwrap();
    assert_eq!(second.status, 200);
    assert_ne!(second.etag(), etag);
    assert_eq!(
        second.headers["tollgate-revision"], "1",
        "the config's own revision did not change"
    );
    entry
        .check(&second.body, tollgate_kit::HostKind::Envoy)
        .unwrap();
}
