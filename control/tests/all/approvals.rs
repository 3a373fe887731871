//! Approvals: in a project that requires them, a policy author's push becomes a change
//! request; a platform admin approves (it applies) or rejects it with a reason.

use serde_json::json;
use tollgate_control::auth::{Grant, Role};

use crate::common::{Harness, hcp_bundle};

const BUNDLE: &str = "/v1/projects/hcp/groups/prod-eu/bundle";

async fn people(h: &Harness) -> (String, String) {
    let author = h
        .token(
            "alice",
            vec![Grant {
                role: Role::PolicyAuthor,
                project: Some("hcp".into()),
            }],
        )
        .await;
    let platform = h
        .token(
            "paul",
            vec![Grant {
                role: Role::PlatformAdmin,
                project: None,
            }],
        )
        .await;
    (author, platform)
}

#[tokio::test]
async fn an_authors_push_waits_for_approval_then_applies() {
    let h = Harness::new().await;
    h.project(true).await;
    let (author, platform) = people(&h).await;
    let r = h
        .send(
            "PUT",
            BUNDLE,
            Some(&author),
            &[("tollgate-message", "first policy")],
            hcp_bundle(),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.json());
    let change = r.json()["change"].clone();
    assert_eq!(change["status"], "pending");
    assert!(
        change["diff"]
            .as_str()
            .unwrap()
            .contains("+package hcp.authz")
    );
    assert!(!change["validation"]["tests"].as_array().unwrap().is_empty());
    let id = change["id"].as_str().unwrap().to_string();
    assert_eq!(h.get(BUNDLE, &author).await.status, 404, "not applied yet");

    // The author cannot approve their own change.
    let approve = format!("/v1/projects/hcp/changes/{id}/approve");
    assert_eq!(h.post_json(&approve, &author, &json!({})).await.status, 403);

    let r = h.post_json(&approve, &platform, &json!({})).await;
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(r.json()["change"]["status"], "approved");
    assert_eq!(r.json()["change"]["decided_by"], "paul");
    let revision = h.get(BUNDLE, &author).await.json()["revision"].clone();
    assert_eq!(revision["number"], 1);
    assert_eq!(revision["author"], "alice");
    assert_eq!(revision["change"], id.as_str());

    // Decided once: a second approval is a conflict.
    assert_eq!(
        h.post_json(&approve, &platform, &json!({})).await.status,
        409
    );

    let audit = h.get("/v1/audit?limit=1000", &h.admin).await.json();
    let outcomes: Vec<String> = audit["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["target"] == "hcp/groups/prod-eu/bundle")
        .map(|r| r["outcome"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(outcomes, ["proposed", "approved"]);
}

#[tokio::test]
async fn a_rejection_needs_a_reason_and_applies_nothing() {
    let h = Harness::new().await;
    h.project(true).await;
    let (author, platform) = people(&h).await;
    let r = h
        .send("PUT", BUNDLE, Some(&author), &[], hcp_bundle())
        .await;
    let id = r.json()["change"]["id"].as_str().unwrap().to_string();
    let reject = format!("/v1/projects/hcp/changes/{id}/reject");
    assert_eq!(
        h.post_json(&reject, &platform, &json!({"reason": " "}))
            .await
            .status,
        400
    );
    assert_eq!(
        h.post_json(&reject, &platform, &json!({})).await.status,
        400
    );
    let r = h
        .post_json(
            &reject,
            &platform,
            &json!({"reason": "needs a test for monitors"}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["change"]["status"], "rejected");
    assert_eq!(r.json()["change"]["reason"], "needs a test for monitors");
    assert_eq!(h.get(BUNDLE, &author).await.status, 404);
    let list = h.get("/v1/projects/hcp/changes", &author).await.json();
    assert_eq!(list["changes"][0]["status"], "rejected");
    assert_eq!(
        h.post_json(
            &format!("/v1/projects/hcp/changes/{id}/approve"),
            &platform,
            &json!({})
        )
        .await
        .status,
        409
    );
}

#[tokio::test]
async fn an_approval_whose_base_moved_is_a_conflict_and_stays_pending() {
    let h = Harness::new().await;
    h.project(true).await;
    let (author, platform) = people(&h).await;
    let id = h
        .send("PUT", BUNDLE, Some(&author), &[], hcp_bundle())
        .await
        .json()["change"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // A platform admin pushes directly meanwhile.
    let r = h
        .send(
            "PUT",
            BUNDLE,
            Some(&platform),
            &[],
            crate::common::files_tar_gz(&[("x/p.rego", "package x\n\ny := 1\n")]),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.json());
    let r = h
        .post_json(
            &format!("/v1/projects/hcp/changes/{id}/approve"),
            &platform,
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.json());
    let r = h
        .get(&format!("/v1/projects/hcp/changes/{id}"), &author)
        .await;
    assert_eq!(r.json()["change"]["status"], "pending");
}

#[tokio::test]
async fn without_the_rule_an_authors_push_applies_directly() {
    let h = Harness::new().await;
    h.project(false).await;
    let (author, _) = people(&h).await;
    let r = h
        .send("PUT", BUNDLE, Some(&author), &[], hcp_bundle())
        .await;
    assert_eq!(r.status, 201, "{}", r.json());
}
