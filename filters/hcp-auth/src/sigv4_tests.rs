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
    // Where the civil-date arithmetic turns: era and century starts, a non-leap 2100.
    assert_eq!(amz_date(951_868_800), "20000301T000000Z");
    assert_eq!(amz_date(983_404_800), "20010301T000000Z");
    assert_eq!(amz_date(4_076_006_400), "20990301T000000Z");
    assert_eq!(amz_date(4_107_456_000), "21000228T000000Z");
    assert_eq!(amz_date(4_107_542_400), "21000301T000000Z");
    assert_eq!(amz_date(4_133_980_800), "21010101T000000Z");
    assert_eq!(amz_date(7_263_216_000), "22000301T000000Z");
}

#[test]
fn repeated_headers_join_with_commas_in_name_order() {
    let headers = vec![
        ("X-Amz-Meta-B".to_string(), "2".to_string()),
        ("x-amz-meta-a".to_string(), "  one   two ".to_string()),
        ("x-amz-meta-b".to_string(), "1".to_string()),
        ("host".to_string(), "h".to_string()),
    ];
    let (canonical, signed) = canonical_headers(&headers);
    assert_eq!(
        canonical,
        "host:h\nx-amz-meta-a:one two\nx-amz-meta-b:1,2\n"
    );
    assert_eq!(signed, "host;x-amz-meta-a;x-amz-meta-b");
}

#[test]
fn query_plus_is_a_space_and_the_target_is_canonical() {
    assert_eq!(query_decode("a+b%2Bc"), b"a b+c");
    assert_eq!(percent_decode("a+b"), b"a+b", "in a path + is a plus");
    assert_eq!(percent_decode("%e2%82%ac%zz%4"), b"\xe2\x82\xac%zz%4");
    assert_eq!(
        canonical_target("/b/%7ek+x?q=a+b&p=1&q=%41"),
        "/b/~k%2Bx?p=1&q=A&q=a%20b"
    );
    assert_eq!(canonical_target("/b/k"), "/b/k");
    assert_eq!(canonical_target("/b/k?"), "/b/k");
    assert_eq!(canonical_target(""), "/");
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
    let shown = format!("{scope:?}");
    assert!(!shown.contains("very-secret"));
    assert!(shown.contains("region") && shown.contains("s3"), "{shown}");
}
