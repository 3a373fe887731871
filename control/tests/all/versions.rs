//! Revisions: numbered, content-addressed, If-Match against lost updates, history,
//! diff and rollback.

use serde_json::json;

use crate::common::Harness;

const CONFIG: &str = "/v1/projects/hcp/groups/prod-eu/configs/jwt-auth";

#[tokio::test]
async fn a_push_makes_revision_1_and_an_unchanged_push_makes_none() {
    let h = Harness::new().await;
    h.project(false).await;
    let config = crate::common::jwt_config();
    let r = h.put_json(CONFIG, &h.admin, None, &config).await;
    assert_eq!(r.status, 201, "{}", r.json());
    assert_eq!(r.json()["revision"]["number"], 1);
    assert_eq!(r.etag(), "\"1\"");
    let sha = r.json()["revision"]["sha256"].as_str().unwrap().to_string();
    assert_eq!(sha.len(), 64);

    let r = h.put_json(CONFIG, &h.admin, Some("\"1\""), &config).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["unchanged"], true);
    assert_eq!(r.json()["revision"]["number"], 1);

    let r = h.get(CONFIG, &h.admin).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["content"], config);
    assert_eq!(r.json()["revision"]["sha256"], sha.as_str());
}

#[tokio::test]
async fn writes_need_if_match_once_the_document_exists_and_a_stale_one_gets_409() {
    let h = Harness::new().await;
    h.project(false).await;
    let mut config = crate::common::jwt_config();
    assert_eq!(
        h.put_json(CONFIG, &h.admin, None, &config).await.status,
        201
    );

    config["providers"]["hcp"]["max_lifetime_seconds"] = json!(3600);
    let r = h.put_json(CONFIG, &h.admin, None, &config).await;
    assert_eq!(r.status, 428);
    assert_eq!(r.code(), "precondition_required");

    let r = h.put_json(CONFIG, &h.admin, Some("\"1\""), &config).await;
    assert_eq!(r.status, 201, "{}", r.json());
    assert_eq!(r.json()["revision"]["number"], 2);

    // A second author who also read revision 1 loses, and is told what is current.
    config["providers"]["hcp"]["max_lifetime_seconds"] = json!(60);
    let r = h.put_json(CONFIG, &h.admin, Some("\"1\""), &config).await;
    assert_eq!(r.status, 409);
    assert_eq!(r.code(), "conflict");
    assert_eq!(r.json()["error"]["details"]["current"]["number"], 2);

    let r = h.put_json(CONFIG, &h.admin, Some("banana"), &config).await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn concurrent_authors_from_one_revision_never_lose_an_update() {
    let h = Harness::new().await;
    h.project(false).await;
    let config = crate::common::jwt_config();
    assert_eq!(
        h.put_json(CONFIG, &h.admin, None, &config).await.status,
        201
    );
    let mut tasks = Vec::new();
    for i in 0..8u64 {
        let h2 = h.clone();
        let mut c = config.clone();
        c["providers"]["hcp"]["max_lifetime_seconds"] = json!(1000 + i);
        tasks.push(tokio::spawn(async move {
            h2.put_json(CONFIG, &h2.admin, Some("\"1\""), &c)
                .await
                .status
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    statuses.sort_unstable();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        7,
        "{statuses:?}"
    );
    let r = h.get(&format!("{CONFIG}/revisions"), &h.admin).await;
    assert_eq!(r.json()["revisions"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn history_diff_and_rollback() {
    let h = Harness::new().await;
    h.project(false).await;
    let mut config = crate::common::jwt_config();
    h.put_json(CONFIG, &h.admin, None, &config).await;
    config["providers"]["hcp"]["max_lifetime_seconds"] = json!(3600);
    let r = h
        .send(
            "PUT",
            CONFIG,
            Some(&h.admin),
            &[
                ("if-match", "\"1\""),
                ("tollgate-message", "shorter tokens"),
            ],
            serde_json::to_vec(&config).unwrap(),
        )
        .await;
    assert_eq!(r.status, 201);

    let r = h.get(&format!("{CONFIG}/revisions"), &h.admin).await;
    let revs = r.json()["revisions"].as_array().unwrap().clone();
    assert_eq!(revs.len(), 2);
    assert_eq!(revs[1]["message"], "shorter tokens");
    assert_eq!(revs[1]["author"], "admin");

    let r = h.get(&format!("{CONFIG}/diff"), &h.admin).await;
    let diff = r.json()["diff"].as_str().unwrap().to_string();
    assert!(
        diff.contains("-      \"max_lifetime_seconds\": 86400"),
        "{diff}"
    );
    assert!(
        diff.contains("+      \"max_lifetime_seconds\": 3600"),
        "{diff}"
    );

    // Rolling back is a new revision with the old content.
    let r = h
        .send(
            "POST",
            &format!("{CONFIG}/rollback"),
            Some(&h.admin),
            &[("if-match", "\"2\"")],
            serde_json::to_vec(&json!({"to": 1})).unwrap(),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.json());
    assert_eq!(r.json()["revision"]["number"], 3);
    assert_eq!(r.json()["revision"]["rollback_of"], 1);
    assert_eq!(r.json()["revision"]["sha256"], revs[0]["sha256"]);
    let r = h.get(&format!("{CONFIG}?revision=2"), &h.admin).await;
    assert_eq!(
        r.json()["content"]["providers"]["hcp"]["max_lifetime_seconds"],
        3600
    );
    let r = h.get(CONFIG, &h.admin).await;
    assert_eq!(
        r.json()["content"]["providers"]["hcp"]["max_lifetime_seconds"],
        86400
    );
    // A rollback without If-Match is refused like any write.
    let r = h
        .send(
            "POST",
            &format!("{CONFIG}/rollback"),
            Some(&h.admin),
            &[],
            serde_json::to_vec(&json!({"to": 2})).unwrap(),
        )
        .await;
    assert_eq!(r.status, 428);
    let r = h
        .send(
            "POST",
            &format!("{CONFIG}/rollback"),
            Some(&h.admin),
            &[("if-match", "\"3\"")],
            serde_json::to_vec(&json!({"to": 9})).unwrap(),
        )
        .await;
    assert_eq!(r.status, 404);
}
