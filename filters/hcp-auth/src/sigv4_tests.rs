use super::*;

#[test]
fn published_vectors() {
    let vectors: Vec<serde_json::Value> =
        serde_json::from_str(include_str!("../tests/vectors/sigv4.json")).unwrap();
    assert_eq!(vectors.len(), 8);
    for v in &vectors {
        let name = v["name"].as_str().unwrap();
        let headers: Vec<(String, String)> = v["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| (h[0].as_str().unwrap().into(), h[1].as_str().unwrap().into()))
            .collect();
        if let Some(body) = v.get("body").and_then(|b| b.as_str()) {
            assert_eq!(
                sha256_hex(body.as_bytes()),
                v["payload_hash"],
                "{name}: body hash"
            );
        }
        let s = &v["scope"];
        let scope = Scope {
            access_key: s["access_key"].as_str().unwrap(),
            secret_key: s["secret_key"].as_str().unwrap(),
            region: s["region"].as_str().unwrap(),
            service: s["service"].as_str().unwrap(),
            amz_date: s["amz_date"].as_str().unwrap(),
        };
        let req = Signable {
            method: v["method"].as_str().unwrap(),
            path: v["path"].as_str().unwrap(),
            headers: &headers,
            payload_hash: v["payload_hash"].as_str().unwrap(),
        };
        let auth = authorization(&req, &scope);
        let expected = format!(
            "AWS4-HMAC-SHA256 Credential={}/{}/{}/{}/aws4_request, SignedHeaders={}, Signature={}",
            scope.access_key,
            &scope.amz_date[..8],
            scope.region,
            scope.service,
            v["signed_headers"].as_str().unwrap(),
            v["signature"].as_str().unwrap()
        );
        assert_eq!(auth, expected, "{name}");
    }
}

#[test]
fn encoding_rules() {
    assert_eq!(canonical_uri("/a b/%7Euser/x+y"), "/a%20b/~user/x%2By");
    assert_eq!(
        canonical_uri("/already%20encoded"),
        "/already%20encoded",
        "no double encoding"
    );
    assert_eq!(canonical_query("b=2&a=&a=1&c"), "a=&a=1&b=2&c=");
    assert_eq!(
        canonical_query("prefix=a%2Fb&x=%E2%9C%93"),
        "prefix=a%2Fb&x=%E2%9C%93"
    );
    assert_eq!(uri_encode("é/".as_bytes(), false), "%C3%A9%2F");
}

#[test]
fn dates() {
    assert_eq!(amz_date(1_440_938_160), "20150830T123600Z");
    assert_eq!(amz_date(0), "19700101T000000Z");
    assert_eq!(amz_date(951_782_400), "20000229T000000Z");
    assert_eq!(amz_date(4_102_444_799), "20991231T235959Z");
}

#[test]
fn scope_debug_hides_the_secret() {
    let scope = Scope {
        access_key: "a",
        secret_key: "very-secret",
        region: "r",
        service: "s3",
        amz_date: "20150830T123600Z",
    };
    assert!(!format!("{scope:?}").contains("very-secret"));
}
