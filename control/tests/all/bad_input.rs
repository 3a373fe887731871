//! Bad input gets a clear 4xx with the one error shape, and leaves nothing stored.

use serde_json::json;

use crate::common::{Harness, Reply};

const CONFIG: &str = "/v1/projects/hcp/groups/prod-eu/configs/jwt-auth";
const BUNDLE: &str = "/v1/projects/hcp/groups/prod-eu/bundle";

/// No document, revision or blob exists.
async fn nothing_stored(h: &Harness) {
    for prefix in ["doc/", "blob/", "changes/"] {
        let rows = h.ctl.store.range(prefix, 10).await.unwrap();
        assert!(
            rows.is_empty(),
            "{prefix}: {:?}",
            rows.iter().map(|r| &r.0).collect::<Vec<_>>()
        );
    }
}

fn assert_error(r: &Reply, status: u16, code: &str) {
    assert_eq!(
        r.status.as_u16(),
        status,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(r.code(), code, "{}", r.json());
    assert!(!r.json()["error"]["message"].as_str().unwrap().is_empty());
}

#[tokio::test]
async fn malformed_json_names_line_and_column() {
    let h = Harness::new().await;
    h.project(false).await;
    let r = h
        .send(
            "PUT",
            CONFIG,
            Some(&h.admin),
            &[],
            b"{\n  \"version\": \"tollgate.jwt_auth.v1\",\n  oops\n}".to_vec(),
        )
        .await;
    assert_error(&r, 400, "invalid_json");
    assert_eq!(r.json()["error"]["details"]["line"], 3);
    nothing_stored(&h).await;
}

#[tokio::test]
async fn an_unknown_field_in_a_config_names_its_path() {
    let h = Harness::new().await;
    h.project(false).await;
    let mut config = crate::common::jwt_config();
    config["providers"]["hcp"]["isuer"] = json!("typo");
    let r = h.put_json(CONFIG, &h.admin, None, &config).await;
    assert_error(&r, 422, "invalid_config");
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("isuer"),
        "{}",
        r.json()
    );
    assert_eq!(r.json()["error"]["details"]["path"], "providers.hcp.isuer");
    nothing_stored(&h).await;
}

#[tokio::test]
async fn unknown_fields_in_api_bodies_are_refused() {
    let h = Harness::new().await;
    let r = h
        .put_json(
            "/v1/projects/hcp",
            &h.admin,
            None,
            &json!({"require_aproval": true}),
        )
        .await;
    assert_error(&r, 400, "invalid_json");
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("require_aproval")
    );
    let r = h
        .put_json("/v1/projects/Bad_Name", &h.admin, None, &json!({}))
        .await;
    assert_error(&r, 400, "bad_request");
    let r = h
        .put_json("/v1/projects/hcp/groups/g", &h.admin, None, &json!({}))
        .await;
    assert_error(&r, 404, "not_found");
}

#[tokio::test]
async fn a_config_for_an_unknown_filter_or_a_host_it_cannot_run_on_is_refused() {
    let h = Harness::new().await;
    h.project(false).await;
    let r = h
        .put_json(
            "/v1/projects/hcp/groups/prod-eu/configs/no-such-filter",
            &h.admin,
            None,
            &json!({}),
        )
        .await;
    assert_error(&r, 404, "not_found");
    // On APISIX a JWKS upstream must be a URL, not a cluster name (jwt-auth refuses it).
    h.put_json(
        "/v1/projects/hcp/groups/apisix-eu",
        &h.admin,
        None,
        &json!({"host": "apisix"}),
    )
    .await;
    let r = h
        .put_json(
            "/v1/projects/hcp/groups/apisix-eu/configs/jwt-auth",
            &h.admin,
            None,
            &crate::common::jwt_config(),
        )
        .await;
    assert_error(&r, 422, "invalid_config");
    nothing_stored(&h).await;
}

#[tokio::test]
async fn an_oversized_body_gets_413() {
    let settings = tollgate_control::Settings {
        max_body_bytes: 64 * 1024,
        ..Default::default()
    };
    let h = Harness::with(
        std::sync::Arc::new(tollgate_control::store::SqliteStore::memory().unwrap()),
        settings,
    )
    .await;
    h.project(false).await;
    let r = h
        .send("PUT", BUNDLE, Some(&h.admin), &[], vec![0u8; 65 * 1024])
        .await;
    assert_error(&r, 413, "payload_too_large");
    nothing_stored(&h).await;
}

fn tar_gz_with(entries: &[(&[u8], tar::EntryType, &[u8])]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut builder = tar::Builder::new(gz);
    for (name, kind, data) in entries {
        let mut header = tar::Header::new_old();
        let raw = &mut header.as_old_mut().name;
        raw[..name.len()].copy_from_slice(name);
        header.set_entry_type(*kind);
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        if *kind == tar::EntryType::Symlink {
            header.set_size(0);
            header.as_old_mut().linkname[..11].copy_from_slice(b"/etc/passwd");
        }
        header.set_cksum();
        let body: &[u8] = if *kind == tar::EntryType::Symlink {
            &[]
        } else {
            data
        };
        builder.append(&header, body).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

#[tokio::test]
async fn hostile_and_broken_bundles_are_refused() {
    let h = Harness::new().await;
    h.project(false).await;
    let rego = b"package a\n\nx := 1\n";
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "not gzip",
            b"definitely not a tarball".to_vec(),
            "not a .tar.gz",
        ),
        (
            "truncated",
            {
                let mut b = crate::common::hcp_bundle();
                b.truncate(b.len() / 2);
                b
            },
            "",
        ),
        (
            "traversal",
            tar_gz_with(&[(b"../../etc/evil.rego", tar::EntryType::Regular, rego)]),
            "climbs out",
        ),
        (
            "symlink",
            tar_gz_with(&[(b"a/link.rego", tar::EntryType::Symlink, b"")]),
            "link",
        ),
        (
            "no policy",
            crate::common::files_tar_gz(&[("data.json", "{}")]),
            "no .rego",
        ),
        (
            "bad data",
            crate::common::files_tar_gz(&[("a/p.rego", "package a\n"), ("a/data.json", "{")]),
            "data.json",
        ),
    ];
    for (name, bytes, want) in cases {
        let r = h.send("PUT", BUNDLE, Some(&h.admin), &[], bytes).await;
        assert_eq!(
            r.status,
            422,
            "{name}: {}",
            String::from_utf8_lossy(&r.body)
        );
        assert_eq!(r.code(), "invalid_bundle", "{name}");
        let message = r.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(message.contains(want), "{name}: {message}");
    }
    nothing_stored(&h).await;
}

#[tokio::test]
async fn unknown_routes_and_methods_use_the_error_shape() {
    let h = Harness::new().await;
    let r = h.get("/v1/nothing-here", &h.admin).await;
    assert_error(&r, 404, "not_found");
    let r = h
        .send("PATCH", "/v1/projects", Some(&h.admin), &[], Vec::new())
        .await;
    assert_eq!(r.status, 405);
    assert_eq!(r.code(), "bad_request");
}

#[tokio::test]
async fn a_request_over_the_time_limit_gets_408() {
    // The project is made with the normal limit; the push goes through a second
    // service on the same storage whose limit is 1 ms.
    let store: tollgate_control::store::SharedStore =
        std::sync::Arc::new(tollgate_control::store::SqliteStore::memory().unwrap());
    Harness::with(store.clone(), Default::default())
        .await
        .project(false)
        .await;
    let settings = tollgate_control::Settings {
        request_timeout: std::time::Duration::from_millis(1),
        ..Default::default()
    };
    let h = Harness::with(store, settings).await;
    // Compiling and testing the bundle takes milliseconds: over the limit.
    let r = h
        .send(
            "PUT",
            BUNDLE,
            Some(&h.admin),
            &[],
            crate::common::hcp_bundle(),
        )
        .await;
    assert_error(&r, 408, "timeout");
}

#[tokio::test]
async fn path_parameters_cannot_smuggle_key_separators() {
    let h = Harness::new().await;
    h.project(false).await;
    for path in [
        "/v1/projects/hcp%2Fgroups/groups",
        "/v1/projects/hcp/groups/prod-eu%2F..%2Fx/configs/jwt-auth",
        "/v1/projects/hcp/jwks/a%2Fb",
        "/v1/projects/hcp/changes/..",
    ] {
        let r = h.get(path, &h.admin).await;
        assert_error(&r, 400, "bad_request");
    }
}
