//! Secrets: sealed at rest, referenced by name, never in a read API, a log line or an
//! audit record; resolved only for gateways; rotation keeps the previous version usable.

use serde_json::{Value, json};

use crate::common::Harness;

const SECRET: &str = "correct-horse-battery-staple-4242";
const SECRET_V2: &str = "second-secret-value-9f9f9f9f";

#[tokio::test]
async fn secrets_are_never_returned_and_resolve_only_for_gateways() {
    let h = Harness::new().await;
    h.project(false).await;
    let r = h
        .put_json(
            "/v1/projects/hcp/secrets/idp-client",
            &h.admin,
            None,
            &json!({"value": SECRET}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.json());
    assert!(!String::from_utf8_lossy(&r.body).contains(SECRET));
    assert_eq!(r.json()["secret"]["versions"][0]["version"], 1);

    // Stored sealed: no key in storage holds the plaintext.
    for (key, entry) in h.ctl.store.range("", 100_000).await.unwrap() {
        assert!(
            !String::from_utf8_lossy(&entry.value).contains(SECRET),
            "{key} holds the secret"
        );
    }

    // Any string field can be a reference; the issuer is a convenient one to observe.
    let mut config = crate::common::jwt_config();
    config["providers"]["hcp"]["issuer"] = json!({"secret": "idp-client"});
    let path = "/v1/projects/hcp/groups/prod-eu/configs/jwt-auth";
    let r = h.put_json(path, &h.admin, None, &config).await;
    assert_eq!(r.status, 201, "{}", r.json());
    let stored = h.get(path, &h.admin).await;
    assert_eq!(
        stored.json()["content"]["providers"]["hcp"]["issuer"],
        json!({"secret": "idp-client"})
    );

    let gateway = h.gateway("gw").await;
    let r = h.get(&format!("{path}/resolved"), &gateway).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["providers"]["hcp"]["issuer"], SECRET);
    assert_eq!(r.headers["cache-control"], "no-store");

    // Every read API an admin has, and the audit log: no plaintext anywhere.
    for path in [
        "/v1/projects/hcp/secrets",
        "/v1/projects/hcp/groups/prod-eu/configs/jwt-auth",
        "/v1/projects/hcp/groups/prod-eu/configs/jwt-auth/revisions",
        "/v1/projects/hcp/groups/prod-eu/configs/jwt-auth/diff",
        "/v1/projects/hcp/groups/prod-eu",
        "/v1/audit?limit=1000",
        "/v1/status",
        "/metrics",
    ] {
        let r = h.get(path, &h.admin).await;
        assert!(r.status.is_success(), "{path}: {}", r.status);
        assert!(
            !String::from_utf8_lossy(&r.body).contains(SECRET),
            "{path} shows the secret"
        );
    }
    // Not even an admin reads resolved documents.
    assert_eq!(
        h.get(&format!("{path}/resolved"), &h.admin).await.status,
        403
    );
}

#[tokio::test]
async fn a_missing_secret_is_refused_naming_the_path() {
    let h = Harness::new().await;
    h.project(false).await;
    let mut config = crate::common::jwt_config();
    config["providers"]["hcp"]["issuer"] = json!({"secret": "nope"});
    let r = h
        .put_json(
            "/v1/projects/hcp/groups/prod-eu/configs/jwt-auth",
            &h.admin,
            None,
            &config,
        )
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.code(), "missing_reference");
    assert_eq!(r.json()["error"]["details"]["path"], "providers.hcp.issuer");
}

#[tokio::test]
async fn errors_about_a_resolved_secret_do_not_show_it() {
    let h = Harness::new().await;
    h.project(false).await;
    // A secret used where the filter wants a number: the filter's error quotes the value.
    h.put_json(
        "/v1/projects/hcp/secrets/lifetime",
        &h.admin,
        None,
        &json!({"value": SECRET}),
    )
    .await;
    let mut config = crate::common::jwt_config();
    config["providers"]["hcp"]["max_lifetime_seconds"] = json!({"secret": "lifetime"});
    let r = h
        .put_json(
            "/v1/projects/hcp/groups/prod-eu/configs/jwt-auth",
            &h.admin,
            None,
            &config,
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.json());
    assert_eq!(r.code(), "invalid_config");
    assert!(
        !String::from_utf8_lossy(&r.body).contains(SECRET),
        "{}",
        r.json()
    );
}

#[tokio::test]
async fn a_rotated_secret_keeps_its_previous_version_usable() {
    let h = Harness::new().await;
    h.project(false).await;
    let url = "/v1/projects/hcp/secrets/idp-client";
    h.put_json(url, &h.admin, None, &json!({"value": SECRET}))
        .await;
    let r = h
        .put_json(url, &h.admin, None, &json!({"value": SECRET_V2}))
        .await;
    assert_eq!(r.status, 200);
    let versions = r.json()["secret"]["versions"].as_array().unwrap().clone();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0]["current"], false);
    assert!(versions[0]["usable_until"].as_u64().unwrap() > 0);

    let mut config = crate::common::jwt_config();
    config["providers"]["hcp"]["issuer"] = json!({"secret": "idp-client", "version": 1});
    config["providers"]["hcp"]["audiences"] = json!([{"secret": "idp-client"}]);
    let path = "/v1/projects/hcp/groups/prod-eu/configs/jwt-auth";
    assert_eq!(h.put_json(path, &h.admin, None, &config).await.status, 201);
    let gateway = h.gateway("gw").await;
    let r = h.get(&format!("{path}/resolved"), &gateway).await.json();
    assert_eq!(r["providers"]["hcp"]["issuer"], SECRET);
    assert_eq!(r["providers"]["hcp"]["audiences"][0], SECRET_V2);
}

#[tokio::test]
async fn the_resolved_document_is_signed_over_its_digest() {
    let h = Harness::new().await;
    h.project(false).await;
    let path = "/v1/projects/hcp/groups/prod-eu/configs/jwt-auth";
    assert_eq!(
        h.put_json(path, &h.admin, None, &crate::common::jwt_config())
            .await
            .status,
        201
    );
    let gateway = h.gateway("gw").await;
    let r = h.get(&format!("{path}/resolved"), &gateway).await;
    let signature = r.headers["tollgate-signature"]
        .to_str()
        .unwrap()
        .to_string();
    let keys = h
        .send("GET", "/v1/signing-keys", None, &[], Vec::new())
        .await
        .json();
    let pem = keys["keys"][0]["public_key_pem"].as_str().unwrap();
    let key = jsonwebtoken::DecodingKey::from_ed_pem(pem.as_bytes()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    let claims = jsonwebtoken::decode::<Value>(&signature, &key, &validation)
        .unwrap()
        .claims;
    assert_eq!(claims["sha256"], tollgate_control::docs::digest(&r.body));
    assert_eq!(claims["filter"], "jwt-auth");
    assert_eq!(claims["revision"], 1);
}
