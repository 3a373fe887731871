//! One storage suite, run on SQLite and on a real etcd: versions, compare-and-write
//! transactions (what If-Match and the audit chain stand on), ranges, change notices,
//! and the whole API on each.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tollgate_control::store::{EtcdStore, SharedStore, SqliteStore, Txn};

use crate::common::Harness;
use crate::etcd::Etcd;

async fn suite(store: SharedStore) {
    // Absent keys have version 0; each write adds one.
    assert!(store.get("a/1").await.unwrap().is_none());
    assert!(
        store
            .txn(Txn::default().compare("a/1", 0).put("a/1", b"x".to_vec()))
            .await
            .unwrap()
    );
    assert_eq!(store.get("a/1").await.unwrap().unwrap().version, 1);
    assert!(
        store
            .txn(Txn::default().compare("a/1", 1).put("a/1", b"y".to_vec()))
            .await
            .unwrap()
    );
    let e = store.get("a/1").await.unwrap().unwrap();
    assert_eq!((e.value.as_slice(), e.version), (b"y".as_slice(), 2));

    // A failed compare writes nothing, not even the writes that would have succeeded.
    let stale = Txn::default()
        .compare("a/1", 1)
        .put("a/1", b"z".to_vec())
        .put("a/2", b"w".to_vec());
    assert!(!store.txn(stale).await.unwrap());
    assert_eq!(store.get("a/1").await.unwrap().unwrap().value, b"y");
    assert!(store.get("a/2").await.unwrap().is_none());

    // Several keys at once, all or nothing.
    let both = Txn::default()
        .compare("a/2", 0)
        .compare("a/3", 0)
        .put("a/2", b"2".to_vec())
        .put("a/3", b"3".to_vec());
    assert!(store.txn(both).await.unwrap());

    // Ranges are by prefix, in key order, bounded.
    store
        .txn(Txn::default().put("ab", b"not under a/".to_vec()))
        .await
        .unwrap();
    let keys: Vec<String> = store
        .range("a/", 100)
        .await
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys, ["a/1", "a/2", "a/3"]);
    assert_eq!(store.range("a/", 2).await.unwrap().len(), 2);

    // Deletes reset the version.
    assert!(
        store
            .txn(Txn::default().compare("a/3", 1).delete("a/3"))
            .await
            .unwrap()
    );
    assert!(store.get("a/3").await.unwrap().is_none());
    assert!(
        store
            .txn(
                Txn::default()
                    .compare("a/3", 0)
                    .put("a/3", b"again".to_vec())
            )
            .await
            .unwrap()
    );
    assert_eq!(store.get("a/3").await.unwrap().unwrap().version, 1);

    // A change wakes a waiter well before its timeout.
    let waiter = {
        let store = store.clone();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            store.changed("a/", Duration::from_secs(10)).await;
            started.elapsed()
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    store
        .txn(Txn::default().put("a/4", b"4".to_vec()))
        .await
        .unwrap();
    assert!(waiter.await.unwrap() < Duration::from_secs(5));

    // What gateways report wakes nobody: a write under the quiet prefix leaves the
    // waiter waiting; the next ordinary write wakes it.
    let waiter = {
        let store = store.clone();
        tokio::spawn(async move {
            store.changed("", Duration::from_secs(10)).await;
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let quiet = format!("{}p/g/gw", tollgate_control::store::QUIET_PREFIX);
    store
        .txn(Txn::default().put(quiet, b"{}".to_vec()))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!waiter.is_finished(), "a fleet report woke a waiter");
    store
        .txn(Txn::default().put("a/5", b"5".to_vec()))
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("an ordinary write wakes the waiter")
        .unwrap();

    // Binary values survive.
    let bytes: Vec<u8> = (0..=255u8).collect();
    store
        .txn(Txn::default().put("bin", bytes.clone()))
        .await
        .unwrap();
    assert_eq!(store.get("bin").await.unwrap().unwrap().value, bytes);
}

/// The API's own flows on `store`: revisions, If-Match, the audit chain.
async fn api_on(store: SharedStore) {
    let h = Harness::with(store, Default::default()).await;
    h.project(false).await;
    let path = "/v1/projects/hcp/groups/prod-eu/configs/jwt-auth";
    let mut config = crate::common::jwt_config();
    assert_eq!(h.put_json(path, &h.admin, None, &config).await.status, 201);
    config["providers"]["hcp"]["max_lifetime_seconds"] = json!(60);
    assert_eq!(
        h.put_json(path, &h.admin, Some("\"1\""), &config)
            .await
            .status,
        201
    );
    assert_eq!(
        h.put_json(path, &h.admin, Some("\"1\""), &config)
            .await
            .status,
        409
    );
    let r = h
        .send(
            "PUT",
            "/v1/projects/hcp/groups/prod-eu/bundle",
            Some(&h.admin),
            &[],
            crate::common::hcp_bundle(),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.json());
    let v = h.get("/v1/audit/verify", &h.admin).await.json();
    assert_eq!(v["intact"], true, "{v}");
}

#[tokio::test]
async fn sqlite() {
    let dir = tempfile::tempdir().unwrap();
    suite(Arc::new(
        SqliteStore::open(&dir.path().join("t.db")).unwrap(),
    ))
    .await;
    api_on(Arc::new(
        SqliteStore::open(&dir.path().join("api.db")).unwrap(),
    ))
    .await;
}

#[tokio::test]
async fn etcd() {
    let etcd = Etcd::start();
    let store = EtcdStore::connect(std::slice::from_ref(&etcd.url), "suite/")
        .await
        .unwrap();
    suite(Arc::new(store)).await;
    let api = EtcdStore::connect(std::slice::from_ref(&etcd.url), "api/")
        .await
        .unwrap();
    api_on(Arc::new(api)).await;
}

#[tokio::test]
async fn etcd_replicas_see_each_others_changes() {
    let etcd = Etcd::start();
    let a: SharedStore = Arc::new(
        EtcdStore::connect(std::slice::from_ref(&etcd.url), "r/")
            .await
            .unwrap(),
    );
    let b: SharedStore = Arc::new(
        EtcdStore::connect(std::slice::from_ref(&etcd.url), "r/")
            .await
            .unwrap(),
    );
    let waiter = {
        let b = b.clone();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            b.changed("x", Duration::from_secs(10)).await;
            started.elapsed()
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        a.txn(Txn::default().compare("x", 0).put("x", b"1".to_vec()))
            .await
            .unwrap()
    );
    assert!(waiter.await.unwrap() < Duration::from_secs(5));
    assert_eq!(b.get("x").await.unwrap().unwrap().value, b"1");
    // The other replica's If-Match sees the new version.
    assert!(
        !b.txn(Txn::default().compare("x", 0).put("x", b"2".to_vec()))
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn sqlite_migrations_are_recorded_and_a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.db");
    drop(SqliteStore::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 1);
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let err = SqliteStore::open(&path).err().unwrap().to_string();
    assert!(err.contains("schema version 99"), "{err}");
}
