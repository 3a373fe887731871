//! The audit log's hash chain: intact after every kind of change, and broken, at the
//! right record, by any edit, removal or reordering.

use serde_json::json;
use tollgate_control::audit::{self, Record};
use tollgate_control::store::Txn;

use crate::common::Harness;

async fn some_history(h: &Harness) {
    h.project(false).await;
    let config = crate::common::jwt_config();
    h.put_json(
        "/v1/projects/hcp/groups/prod-eu/configs/jwt-auth",
        &h.admin,
        None,
        &config,
    )
    .await;
    h.put_json(
        "/v1/projects/hcp/secrets/k",
        &h.admin,
        None,
        &json!({"value": "v-secret-value"}),
    )
    .await;
}

#[tokio::test]
async fn the_chain_verifies_and_breaks_where_it_was_edited() {
    let h = Harness::new().await;
    some_history(&h).await;
    let r = h.get("/v1/audit/verify", &h.admin).await.json();
    assert_eq!(r["intact"], true, "{r}");
    let n = r["records"].as_u64().unwrap();
    assert!(n >= 5, "{r}");

    // Edit record 3's detail in storage (as someone with database access would).
    let key = audit::record_key(3);
    let entry = h.ctl.store.get(&key).await.unwrap().unwrap();
    let mut record: Record = serde_json::from_slice(&entry.value).unwrap();
    record.actor = "mallory".into();
    h.ctl
        .store
        .txn(Txn::default().put(key.clone(), serde_json::to_vec(&record).unwrap()))
        .await
        .unwrap();
    let r = h.get("/v1/audit/verify", &h.admin).await.json();
    assert_eq!(r["intact"], false);
    assert_eq!(r["broken_at"], 3);

    // Re-hashing the edited record does not help: the next one points at the old hash.
    record.hash = audit::hash_of(&record);
    h.ctl
        .store
        .txn(Txn::default().put(key, serde_json::to_vec(&record).unwrap()))
        .await
        .unwrap();
    let r = h.get("/v1/audit/verify", &h.admin).await.json();
    assert_eq!(r["broken_at"], 4, "{r}");
}

#[tokio::test]
async fn a_removed_record_or_a_truncated_tail_is_found() {
    let h = Harness::new().await;
    some_history(&h).await;
    h.ctl
        .store
        .txn(Txn::default().delete(audit::record_key(2)))
        .await
        .unwrap();
    let r = h.get("/v1/audit/verify", &h.admin).await.json();
    assert_eq!(r["intact"], false);
    assert_eq!(r["broken_at"], 2);

    let h = Harness::new().await;
    some_history(&h).await;
    let (head, _) = audit::head(&h.ctl.store).await.unwrap();
    h.ctl
        .store
        .txn(Txn::default().delete(audit::record_key(head.seq)))
        .await
        .unwrap();
    let r = h.get("/v1/audit/verify", &h.admin).await.json();
    assert_eq!(r["intact"], false, "{r}");
    assert_eq!(r["broken_at"], head.seq);
}

#[tokio::test]
async fn records_name_actor_action_and_target_without_secrets() {
    let h = Harness::new().await;
    some_history(&h).await;
    let records = h.get("/v1/audit?limit=1000", &h.admin).await.json();
    let actions: Vec<String> = records["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap().to_string())
        .collect();
    for want in [
        "token.create",
        "project.put",
        "group.put",
        "config.set",
        "secret.set",
    ] {
        assert!(actions.contains(&want.to_string()), "{actions:?}");
    }
    assert!(!records.to_string().contains("v-secret-value"));
}

#[tokio::test]
async fn the_head_must_match_the_last_record() {
    let h = Harness::new().await;
    some_history(&h).await;
    let (mut head, _) = audit::head(&h.ctl.store).await.unwrap();
    let records = head.seq;
    head.hash = audit::GENESIS.into();
    h.ctl
        .store
        .txn(Txn::default().put(audit::HEAD_KEY, serde_json::to_vec(&head).unwrap()))
        .await
        .unwrap();
    let r = h.get("/v1/audit/verify", &h.admin).await.json();
    assert_eq!(r["intact"], false, "{r}");
    assert_eq!(r["broken_at"], records + 1);
    assert_eq!(r["records"], records, "every record itself is sound");
}

#[tokio::test]
async fn a_broken_chain_reports_how_many_records_came_before_the_break() {
    for (seq, edit) in [(2u64, "delete"), (3, "edit"), (4, "unlink"), (3, "garbage")] {
        let h = Harness::new().await;
        some_history(&h).await;
        let key = audit::record_key(seq);
        match edit {
            "delete" => {
                h.ctl.store.txn(Txn::default().delete(key)).await.unwrap();
            }
            "garbage" => {
                h.ctl
                    .store
                    .txn(Txn::default().put(key, b"not a record".to_vec()))
                    .await
                    .unwrap();
            }
            "edit" => {
                let entry = h.ctl.store.get(&key).await.unwrap().unwrap();
                let mut record: Record = serde_json::from_slice(&entry.value).unwrap();
                record.target = "elsewhere".into();
                h.ctl
                    .store
                    .txn(Txn::default().put(key, serde_json::to_vec(&record).unwrap()))
                    .await
                    .unwrap();
            }
            _ => {
                let entry = h.ctl.store.get(&key).await.unwrap().unwrap();
                let mut record: Record = serde_json::from_slice(&entry.value).unwrap();
                record.prev = audit::GENESIS.into();
                record.hash = audit::hash_of(&record);
                h.ctl
                    .store
                    .txn(Txn::default().put(key, serde_json::to_vec(&record).unwrap()))
                    .await
                    .unwrap();
            }
        }
        let r = h.get("/v1/audit/verify", &h.admin).await.json();
        assert_eq!(r["broken_at"], seq, "{edit}: {r}");
        assert_eq!(r["records"], seq - 1, "{edit}: {r}");
    }
}

#[tokio::test]
async fn listing_starts_after_the_given_record() {
    let h = Harness::new().await;
    some_history(&h).await;
    let r = h.get("/v1/audit?after=2&limit=2", &h.admin).await.json();
    let seqs: Vec<u64> = r["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [3, 4]);
}
